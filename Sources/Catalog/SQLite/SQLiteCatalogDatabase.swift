import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded backend: one SQLite file through GRDB, in WAL mode, with
/// `secure_delete` on. The only file in the catalog that uses GRDB.
///
/// Transactions: GRDB's `DatabaseQueue` serialises them (one writer at a
/// time, which SQLite allows anyway; a second process waits up to 5 s for
/// the file lock). Migrations: GRDB's `DatabaseMigrator`, so the history is
/// the `grdb_migrations` table that every catalog written so far has.
public final class SQLiteCatalogDatabase: CatalogDatabase {
    public var dialect: SQLDialect { .sqlite }
    /// The database file.
    public let location: String
    private let queue: DatabaseQueue

    /// Opens (creating if needed) the SQLite file at `path`.
    public init(path: String) throws {
        location = path
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // Erased rows are overwritten, not merely unlinked from the b-tree (GDPR erasure).
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw Self.catalogError(error, path: path)
        }
    }

    @discardableResult

    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try mappingErrors { try queue.read { db in try body(SQLiteConnection(db: db)) } }
    }

    @discardableResult

    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try mappingErrors { try queue.write { db in try body(SQLiteConnection(db: db)) } }
    }

    public func migrate(_ migrations: [CatalogMigration]) throws {
        var migrator = DatabaseMigrator()
        for migration in migrations {
            migrator.registerMigration(migration.name) { db in try migration.apply(SQLiteConnection(db: db)) }
        }
        try mappingErrors { try migrator.migrate(queue) }
    }

    public func appliedMigrations() throws -> [String] {
        try read { db in try db.column(String.self, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
    }

    /// With `secure_delete` the deleted content was overwritten in the pages
    /// the transaction wrote; a WAL checkpoint moves those pages into the
    /// database file and empties the WAL, so no copy is left in either file.
    public func reclaimErasedRows(tables: [String]) throws {
        try mappingErrors { _ = try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") } }
    }

    /// A `flock(2)` on `<catalog>.lock` beside the file (one storage: the catalog's folder).
    public func lock(storage: String, exclusive: Bool) throws -> CatalogLock {
        let path = location + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        guard flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            close(fd)
            throw CatalogError(
                .busy,
                exclusive
                    ? "\(location): a convert is writing to this catalog; run verify when it has finished"
                    : "\(location): catalog verify is repairing this catalog; convert when it has finished")
        }
        return CatalogLock { close(fd) }
    }

    public func explain(sql: String, arguments: SQLArguments) throws -> [String] {
        try read { db in try db.query(sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { try $0["detail"] } }
    }

    private func mappingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw Self.catalogError(error, path: location)
        }
    }

    /// GRDB's errors as catalog errors: a full disk is `.diskFull` (the
    /// transaction was rolled back and may be tried again), a database
    /// another process holds past the busy timeout `.busy`, the rest `.database`.
    static func catalogError(_ error: any Error, path: String) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        let message = "\(path): \(error.message ?? "\(error.resultCode)")"
        switch error.resultCode {
        case .SQLITE_FULL: return CatalogError(.diskFull, message)
        case .SQLITE_BUSY, .SQLITE_LOCKED: return CatalogError(.busy, message)
        case .SQLITE_CANTOPEN: return CatalogError(.unavailable, "\(path): cannot open the catalog (\(error.message ?? "unable to open"))")
        default: return CatalogError(.database, message)
        }
    }
}

/// A transaction's view of an SQLite database.
struct SQLiteConnection: SQLConnection {
    let db: Database

    var dialect: SQLDialect { .sqlite }

    func execute(sql: String, arguments: SQLArguments) throws -> Int {
        // One statement is prepared once per connection and kept, as queries are:
        // SQLite compiles a table's triggers, foreign keys and indexes into every
        // statement that writes it, and each commit ran that compilation again for
        // its few UPDATEs and INSERTs. A text with a `;` (a trigger's body, several
        // statements) is prepared each time, as GRDB caches single statements only;
        // so is a long one (a bulk insert's rows, its text as many as the batch),
        // which would only fill the cache. SQLite prepares a cached statement again
        // by itself when the schema changed under it (a trigger dropped).
        if sql.utf8.count > 4096 || sql.utf8.contains(UInt8(ascii: ";")) {
            try db.execute(sql: sql, arguments: Self.bind(arguments))
        } else {
            try db.cachedStatement(sql: sql).execute(arguments: Self.bind(arguments))
        }
        return db.changesCount
    }

    func query(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = SQLColumns(statement.columnNames)
        var rows: [SQLRow] = []
        let cursor = try Row.fetchCursor(statement, arguments: Self.bind(arguments))
        while let row = try cursor.next() {
            var values: [SQLValue] = []
            values.reserveCapacity(row.count)
            for value in row.databaseValues { values.append(Self.value(value)) }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    /// One prepared statement, run once per row: as fast as SQLite inserts, with no limit on arguments.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))")
        for row in rows {
            try statement.execute(arguments: Self.bind(SQLArguments(row)))
        }
    }

    static func bind(_ arguments: SQLArguments) -> StatementArguments {
        StatementArguments(arguments.values.map { value -> DatabaseValue in
            switch value {
            case .null: .null
            case .integer(let v): v.databaseValue
            case .real(let v): v.databaseValue
            case .text(let v): v.databaseValue
            case .blob(let v): Data(v).databaseValue
            }
        })
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: .null
        case .int64(let v): .integer(v)
        case .double(let v): .real(v)
        case .string(let v): .text(v)
        case .blob(let v): .blob([UInt8](v))
        }
    }
}
