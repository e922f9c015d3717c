#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The catalog: the recordings and their files, the recording rules, users
/// and roles, and the append-only audit log, in one of two backends behind
/// one SQL interface (`CatalogDatabase`, see the top of
/// `SQL/CatalogDatabase.swift`): an SQLite file beside the recordings (the
/// default, `init(path:)`), or a PostgreSQL database that several recorders
/// share (module CatalogPostgres). Created and upgraded by the same
/// migrations on both. Values from captures reach SQL only as bound
/// parameters.
public final class CatalogStore: Sendable {
    /// Where the database lives: the SQLite file, or the PostgreSQL URL without its password.
    public let path: String
    /// The folder recordings' relative paths start from: an SQLite catalog's
    /// own folder; for PostgreSQL the `--out` folder it was opened with.
    public let folder: String
    /// The name of the storage this store's files are in (`''` for SQLite;
    /// `host:/absolute/folder` by default for PostgreSQL): rows it enters
    /// carry it, and verify and recover touch only rows that do.
    public let storage: String
    /// The backend.
    public let database: any CatalogDatabase
    /// Where the queries of catalog users (serve, `--as`) read, when set: the
    /// same PostgreSQL database through a role that does not own the tables
    /// and sees only what row-level security lets the viewer of each
    /// transaction see (`--viewer-catalog`). nil: they read through `database`.
    public let viewerDatabase: (any CatalogDatabase)?

    /// The catalog file name inside an output folder.
    public static let fileName = "catalog.sqlite"

    /// Opens (creating if needed) the SQLite catalog at `path` and runs its migrations.
    /// - Parameter create: when false, a missing catalog is an error rather than a new empty one.
    public convenience init(path: String, create: Bool = true) throws {
        if !create, access(path, F_OK) != 0 {
            throw CatalogError(.notFound, "\(path): no catalog there (callrec convert writes OUT/catalog.sqlite; give --out DIR or --catalog PATH)")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        let folder = parts.isEmpty ? "." : (parts.joined(separator: "/").isEmpty ? "/" : parts.joined(separator: "/"))
        try self.init(database: try SQLiteCatalogDatabase(path: path), folder: folder, storage: "")
    }

    /// A catalog on `database` (any backend), for files under `folder` in
    /// storage `storage`; runs the migrations.
    public init(database: any CatalogDatabase, folder: String, storage: String, viewerDatabase: (any CatalogDatabase)? = nil) throws {
        self.database = database
        self.viewerDatabase = viewerDatabase
        self.path = database.location
        self.folder = folder
        self.storage = storage
        try database.migrate(CatalogSchema.migrations)
    }

    /// Which SQL the backend speaks.
    public var dialect: SQLDialect { database.dialect }

    /// The names of the migrations applied to this catalog, oldest first.
    public func appliedMigrations() throws -> [String] { try database.appliedMigrations() }

    /// The migrations this version of callrec knows, in order.
    public static var migrationNames: [String] { CatalogSchema.migrations.map(\.name) }

    /// The absolute (or working-folder relative) path of a catalogued file.
    public func filePath(_ relative: String) -> String {
        relative.hasPrefix("/") ? relative : folder + "/" + relative
    }

    /// Where a file of a recording in `storage` is, seen from this machine:
    /// under this store's folder for its own storage; under the folder a
    /// storage of this same host names (`host:/absolute/folder`, another
    /// --out here); else `host:/absolute/folder/relative`, the place on the
    /// machine that holds it (scp's notation).
    public func filePath(_ relative: String, storage: String) -> String {
        if storage == self.storage || relative.hasPrefix("/") { return filePath(relative) }
        guard let colon = storage.firstIndex(of: ":") else { return filePath(relative) }
        let host = storage[..<colon], folder = storage[storage.index(after: colon)...]
        if host == Self.hostName { return folder + "/" + relative }
        return storage + "/" + relative
    }

    /// Whether files of `storage` can be read here (its own, or another folder of this host).
    public func isLocal(storage: String) -> Bool {
        storage == self.storage || storage.split(separator: ":", maxSplits: 1).first.map(String.init) == Self.hostName
    }

    /// This machine's name, as storages name it.
    public static let hostName: String = {
        var name = [CChar](repeating: 0, count: 256)
        return gethostname(&name, name.count) == 0 ? String(cString: name) : "localhost"
    }()

    /// Runs `body` in one read transaction.
    @discardableResult
    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try database.read(body)
    }

    /// Runs `body` in one write transaction (for bulk loads such as the
    /// benchmark's generated catalog, and for tests). On PostgreSQL `body`
    /// may run again after a serialization failure: it must have no other effects.
    @discardableResult
    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try database.write(body)
    }

    /// Inserts or replaces a committed recording with its files (the commit
    /// protocol in `CatalogStore+Commit.swift` is what convert uses).
    public func save(_ recording: CatalogRecording, files: [CatalogFile] = [], ledger: LedgerEntry? = nil) throws {
        var row = recording
        row.storage = storage
        try write { db in
            try row.save(db)
            try db.execute(sql: "DELETE FROM recording_files WHERE recording_id = ?", arguments: [recording.id])
            for file in files { try file.insert(db) }
            if let ledger { try Self.addToLedger(db, ledger) }
        }
    }

    /// Inserts many committed recordings (without files) in one transaction,
    /// as fast as the backend bulk-loads: for benchmarks and imports. The
    /// ids must be new.
    public func insert(_ recordings: [CatalogRecording]) throws {
        let storage = self.storage
        let rows = recordings.map { recording -> [SQLValue] in
            var row = recording
            row.storage = storage
            return row.sqlValues
        }
        try write { db in try db.insert(into: CatalogRecording.databaseTableName, columns: CatalogRecording.columns, rows: rows) }
    }

    /// The recording with `id` in any state, or nil.
    public func recording(id: String) throws -> CatalogRecording? {
        try read { db in try CatalogRecording.fetchOne(db, id: id) }
    }

    /// The files of recording `id`, in commit order.
    public func files(of id: String) throws -> [CatalogFile] {
        try read { db in try Self.files(db, id) }
    }

    static func files(_ db: any SQLConnection, _ id: String) throws -> [CatalogFile] {
        try db.query(sql: "SELECT * FROM recording_files WHERE recording_id = ? ORDER BY position", arguments: [id])
            .map(CatalogFile.init(row:))
    }

    /// Every committed recording, oldest first.
    public func allRecordings() throws -> [CatalogRecording] {
        try read { db in
            try CatalogRecording.fetchAll(db, sql: "SELECT * FROM recordings WHERE state = 'committed' ORDER BY start_epoch, id")
        }
    }

    /// Number of recordings in any state.
    public func count() throws -> Int {
        try read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM recordings") ?? 0 }
    }

    /// The lock a writer of recordings (convert, record) holds while it runs,
    /// so `verify` and `recover` never settle a commit it is still making:
    /// shared by every writer into this store's storage, exclusive for the
    /// repairs. SQLite: `flock(2)` on `catalog.sqlite.lock`; PostgreSQL: a
    /// session advisory lock on the storage's name. Released when dropped
    /// (or when the process dies).
    public func writerLock() throws -> CatalogLock { try database.lock(storage: storage, exclusive: false) }

    /// Makes the rows an erasure just deleted unrecoverable as far as the
    /// backend can (see `CatalogDatabase.reclaimErasedRows`).
    func reclaimErasedRows() throws {
        try database.reclaimErasedRows(tables: ["recordings", "recording_files", "recording_notes", "recording_tags"])
    }
}
