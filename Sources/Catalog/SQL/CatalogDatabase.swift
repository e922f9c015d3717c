// The catalog's SQL interface: what the catalog logic (CatalogStore and its
// extensions) is written against, so each query, table and migration is
// written once and runs on both backends.
//
//   CatalogDatabase   one backend: SQLite through GRDB (`SQLiteCatalogDatabase`,
//                     this module) or PostgreSQL through postgres-nio
//                     (`PostgresCatalogDatabase`, module CatalogPostgres).
//                     It runs transactions, migrations, locks and erasure.
//   SQLConnection     what a transaction's body gets: `execute(sql:arguments:)`,
//                     `query(sql:arguments:) -> [SQLRow]`, bulk `insert`.
//                     SQL is written with `?` placeholders; values are always
//                     bound (`SQLArguments`), never spliced into the text.
//   SQLRow            typed access by column name: `let id: String = try row["id"]`.
//   SQLDialect        the few things that differ (column types, GLOB, triggers);
//                     see its table.
//   CatalogMigration  one named step of the schema (CatalogSchema.migrations),
//                     recorded in a migrations table on both backends.
//
// A feature that needs a table, a migration and a query:
//
//   1. append a migration to `CatalogSchema.migrations` (never edit a released one):
//        CatalogMigration("v4-notes") { db in
//            let d = db.dialect
//            try db.execute(sql: """
//                CREATE TABLE notes (id \(d.generatedPrimaryKey),
//                    recording_id \(d.text) NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
//                    author \(d.text) NOT NULL, at_epoch \(d.real) NOT NULL, body \(d.text) NOT NULL)
//                """)
//            try db.execute(sql: "CREATE INDEX notes_recording ON notes(recording_id)")
//        }
//   2. write the logic once, in an extension of CatalogStore:
//        try write { db in
//            let id: Int64 = try db.queryOne(
//                sql: "INSERT INTO notes (recording_id, author, at_epoch, body) VALUES (?, ?, ?, ?) RETURNING id",
//                arguments: [recording, author, now, body])!["id"]
//            try Self.appendAudit(db, ...)   // the audit entry in the same transaction
//        }
//        try read { db in try db.query(sql: "SELECT * FROM notes WHERE recording_id = ? ORDER BY id", arguments: [id]) }
//   3. add the test to Tests/CatalogTests with `arguments: CatalogBackend.all`: it runs on both.
//
// Rules that keep the two backends alike: use the dialect's column types in
// DDL; `INSERT ... ON CONFLICT (key) DO UPDATE SET c = excluded.c` rather
// than `INSERT OR REPLACE` (which SQLite implements as delete + insert, firing
// cascades); `COALESCE` rather than `IFNULL`; `1 = 0` rather than `0` as a
// condition; alias every subquery in FROM; quote `"user"` (reserved in
// PostgreSQL); booleans as the integers 0 and 1.
//
// Concurrency: SQLite has one writer at a time; PostgreSQL runs write
// transactions at SERIALIZABLE isolation, so a transaction sees exactly what
// it would alone, and retries one that the server aborts for a serialization
// failure or a deadlock. A `write` body may therefore run more than once: it
// must change nothing outside the database except through what it returns.

/// One catalog backend: runs transactions, migrations, locks and the
/// reclaiming of erased rows. See the comment at the top of this file.
public protocol CatalogDatabase: AnyObject, Sendable {
    /// Which SQL it speaks.
    var dialect: SQLDialect { get }
    /// Where the database is, for messages: a file path, or a URL without its password.
    var location: String { get }

    /// Runs `body` in a read-only transaction that sees one consistent state.
    @discardableResult
    func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T

    /// Runs `body` in a read-only transaction for catalog user `viewer`:
    /// PostgreSQL sets `callrec.viewer` for the transaction, which the
    /// row-level security policies read (migration `v12-row-security`).
    /// SQLite has no row-level security: there it is `read`.
    @discardableResult
    func read<T>(viewer: String, _ body: (any SQLConnection) throws -> T) throws -> T

    /// Runs `body` in a write transaction: everything it does is kept, or
    /// nothing (when it throws). PostgreSQL may run `body` again after a
    /// serialization failure or deadlock, so it must have no other effects.
    @discardableResult
    func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T

    /// Applies the migrations not yet applied, in order, each in its own
    /// transaction, recording each one's name. Safe when several processes
    /// open a new catalog at once.
    func migrate(_ migrations: [CatalogMigration]) throws

    /// The names of the applied migrations, in the order they were applied.
    func appliedMigrations() throws -> [String]

    /// Makes the rows just deleted from `tables` unrecoverable as far as the
    /// backend can (GDPR erasure): SQLite overwrites deleted content
    /// (`secure_delete`) and checkpoints the WAL; PostgreSQL vacuums the
    /// tables (dead row versions removed, no snapshot can see them).
    func reclaimErasedRows(tables: [String]) throws

    /// Takes the catalog's lock for one storage (the folder a writer's files
    /// go to) without waiting: writers (convert, record) hold it shared,
    /// `verify` and `recover` exclusive.
    /// - Throws: `CatalogError.busy` when a holder of the other kind has it.
    func lock(storage: String, exclusive: Bool) throws -> CatalogLock

    /// The query plan the database chooses for `sql`, one line per step.
    func explain(sql: String, arguments: SQLArguments) throws -> [String]
}

/// What a transaction's body reads and writes through.
public protocol SQLConnection {
    /// Which SQL it speaks.
    var dialect: SQLDialect { get }

    /// Runs one statement; returns the number of rows it changed.
    @discardableResult
    func execute(sql: String, arguments: SQLArguments) throws -> Int

    /// Runs one query and returns its rows.
    func query(sql: String, arguments: SQLArguments) throws -> [SQLRow]

    /// Inserts many rows into `table` (bulk loads): multi-row INSERTs, as
    /// many rows per statement as the backend binds.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws
}

extension CatalogDatabase {
    /// `read`: a backend without row-level security has nothing to set.
    @discardableResult
    public func read<T>(viewer: String, _ body: (any SQLConnection) throws -> T) throws -> T { try read(body) }
}

extension SQLConnection {
    /// Runs one statement without arguments.
    @discardableResult
    public func execute(sql: String) throws -> Int { try execute(sql: sql, arguments: []) }

    /// Runs one query without arguments.
    public func query(sql: String) throws -> [SQLRow] { try query(sql: sql, arguments: []) }

    /// The first row of a query, or nil.
    public func queryOne(sql: String, arguments: SQLArguments = []) throws -> SQLRow? {
        try query(sql: sql, arguments: arguments).first
    }

    /// The first column of the first row as `T`, or nil when there is no row.
    public func scalar<T: SQLValueConvertible>(_ type: T.Type = T.self, sql: String, arguments: SQLArguments = []) throws -> T? {
        try queryOne(sql: sql, arguments: arguments)?.first(as: T.self)
    }

    /// The first column of every row as `T`.
    public func column<T: SQLValueConvertible>(_ type: T.Type = T.self, sql: String, arguments: SQLArguments = []) throws -> [T] {
        try query(sql: sql, arguments: arguments).map { try $0.first(as: T.self) }
    }

    /// Inserts `values` into `table`, or, when a row with the same
    /// `conflict` columns exists, updates its other columns to `values`
    /// (`INSERT ... ON CONFLICT (...) DO UPDATE SET c = excluded.c`, the same
    /// text on both backends). Unlike `INSERT OR REPLACE`, the row is
    /// updated in place: no cascade deletes its dependants.
    public func upsert(into table: String, values: [(column: String, value: SQLValue)], conflict: [String]) throws {
        let columns = values.map(\.column)
        let updates = columns.filter { !conflict.contains($0) }.map { "\($0) = excluded.\($0)" }
        let sql =
            "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", "))) "
            + "ON CONFLICT (\(conflict.joined(separator: ", "))) "
            + (updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET " + updates.joined(separator: ", "))
        try execute(sql: sql, arguments: SQLArguments(values.map(\.value)))
    }

    /// The default bulk insert: multi-row `INSERT ... VALUES (...), (...)`,
    /// at most `maxArguments` bound values per statement.
    public func insertInBatches(into table: String, columns: [String], rows: [[SQLValue]], maxArguments: Int) throws {
        guard !columns.isEmpty, !rows.isEmpty else { return }
        let perStatement = max(1, maxArguments / columns.count)
        let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        var start = 0
        var cachedCount = -1
        var cachedSQL = ""
        while start < rows.count {
            let end = min(start + perStatement, rows.count)
            if end - start != cachedCount {
                cachedCount = end - start
                cachedSQL = head + Array(repeating: tuple, count: cachedCount).joined(separator: ", ")
            }
            var values: [SQLValue] = []
            values.reserveCapacity(cachedCount * columns.count)
            for row in rows[start..<end] {
                precondition(row.count == columns.count, "a bulk-insert row has \(row.count) values for \(columns.count) columns")
                values += row
            }
            try execute(sql: cachedSQL, arguments: SQLArguments(values))
            start = end
        }
    }
}

/// One named step of the catalog's schema. A migration, once released,
/// never changes; later ones add to it. Its DDL uses the dialect's column
/// types, and branches on `db.dialect.kind` only where the SQL itself differs.
public struct CatalogMigration: Sendable {
    /// Recorded in the migrations table once applied (`v2-rules-access-retention`).
    public let name: String
    /// Applies the step inside its transaction.
    public let apply: @Sendable (any SQLConnection) throws -> Void

    /// A migration called `name`.
    public init(_ name: String, _ apply: @escaping @Sendable (any SQLConnection) throws -> Void) {
        self.name = name
        self.apply = apply
    }
}

/// A lock on a catalog's storage, held until the owner drops it (or the
/// process dies): see `CatalogDatabase.lock(storage:exclusive:)`.
public final class CatalogLock: Sendable {
    private let release: @Sendable () -> Void

    /// A lock that `release` gives back.
    public init(release: @escaping @Sendable () -> Void) { self.release = release }

    deinit { release() }
}
