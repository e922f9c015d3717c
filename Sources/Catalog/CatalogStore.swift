import GRDB

/// The catalog: an SQLite database (through GRDB, WAL mode) beside the
/// recordings, created and upgraded by migrations. Values from captures
/// reach SQL only as bound parameters.
public final class CatalogStore {
    /// Where the database lives.
    public let path: String
    private let queue: DatabaseQueue

    /// The catalog file name inside an output folder.
    public static let fileName = "catalog.sqlite"

    /// Opens (creating if needed) the catalog at `path` and runs its migrations.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try CatalogStore.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-recordings") { db in
            try db.create(table: "recordings") { t in
                t.primaryKey("id", .text)
                t.column("call_id", .text).notNull()
                t.column("caller", .text)
                t.column("callee", .text)
                t.column("direction", .text).notNull()
                t.column("start", .text).notNull()
                t.column("start_epoch", .double).notNull().indexed()
                t.column("duration_s", .double).notNull()
                t.column("audio_path", .text).notNull()
                t.column("index_path", .text).notNull()
                t.column("audio_bytes", .integer).notNull()
                t.column("codecs", .text).notNull()
                t.column("end_reason", .text).notNull()
            }
            try db.create(index: "recordings_caller", on: "recordings", columns: ["caller"])
            try db.create(index: "recordings_callee", on: "recordings", columns: ["callee"])
        }
        return migrator
    }

    /// Inserts or replaces a recording (converting the same capture twice yields the same ids).
    public func save(_ recording: CatalogRecording) throws {
        try queue.write { db in try recording.save(db) }
    }

    /// The recording with `id`, or nil.
    public func recording(id: String) throws -> CatalogRecording? {
        try queue.read { db in try CatalogRecording.fetchOne(db, key: id) }
    }

    /// Every recording, oldest first.
    public func allRecordings() throws -> [CatalogRecording] {
        try queue.read { db in try CatalogRecording.order(Column("start_epoch")).fetchAll(db) }
    }
}
