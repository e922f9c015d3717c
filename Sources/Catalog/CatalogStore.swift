import GRDB

/// The catalog: an SQLite database (through GRDB, WAL mode) beside the
/// recordings, created and upgraded by migrations. It holds the recordings
/// and their files, the recording rules, users and roles, and the
/// append-only audit log. Values from captures reach SQL only as bound
/// parameters.
public final class CatalogStore {
    /// Where the database lives.
    public let path: String
    /// The folder recordings' relative paths start from (the database's folder).
    public let folder: String
    let queue: DatabaseQueue

    /// The catalog file name inside an output folder.
    public static let fileName = "catalog.sqlite"

    /// Opens (creating if needed) the catalog at `path` and runs its migrations.
    /// - Parameter create: when false, a missing catalog is an error rather than a new empty one.
    public init(path: String, create: Bool = true) throws {
        if !create, access(path, F_OK) != 0 {
            throw CatalogError(.notFound, "\(path): no catalog there (callrec convert writes OUT/catalog.sqlite; give --out DIR or --catalog PATH)")
        }
        self.path = path
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        folder = parts.isEmpty ? "." : (parts.joined(separator: "/").isEmpty ? "/" : parts.joined(separator: "/"))
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // Erased rows are overwritten, not merely unlinked from the b-tree (GDPR erasure).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try CatalogSchema.migrator.migrate(queue)
    }

    /// The absolute (or working-folder relative) path of a catalogued file.
    public func filePath(_ relative: String) -> String {
        relative.hasPrefix("/") ? relative : folder + "/" + relative
    }

    /// Inserts or replaces a committed recording with its files (the commit
    /// protocol in `CatalogStore+Commit.swift` is what convert uses).
    public func save(_ recording: CatalogRecording, files: [CatalogFile] = []) throws {
        try queue.write { db in
            try recording.save(db)
            try db.execute(sql: "DELETE FROM recording_files WHERE recording_id = ?", arguments: [recording.id])
            for file in files { try file.insert(db) }
        }
    }

    /// The recording with `id` in any state, or nil.
    public func recording(id: String) throws -> CatalogRecording? {
        try queue.read { db in try CatalogRecording.fetchOne(db, key: id) }
    }

    /// The files of recording `id`, in commit order.
    public func files(of id: String) throws -> [CatalogFile] {
        try queue.read { db in try Self.files(db, id) }
    }

    static func files(_ db: Database, _ id: String) throws -> [CatalogFile] {
        try CatalogFile.fetchAll(db, sql: "SELECT * FROM recording_files WHERE recording_id = ? ORDER BY position", arguments: [id])
    }

    /// Every committed recording, oldest first.
    public func allRecordings() throws -> [CatalogRecording] {
        try queue.read { db in
            try CatalogRecording.fetchAll(db, sql: "SELECT * FROM recordings WHERE state = 'committed' ORDER BY start_epoch")
        }
    }

    /// Number of recordings in any state.
    public func count() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM recordings") ?? 0 }
    }

    /// Runs `body` in one write transaction (for bulk loads such as the benchmark's generated catalog).
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.write(body)
    }

    /// Moves the WAL's pages into the database and empties the WAL, so erased
    /// rows leave no copy behind in it.
    func checkpoint() throws {
        _ = try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
