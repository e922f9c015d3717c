import CallrecCore
import Catalog
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// The shared backend: a PostgreSQL 15+ database through postgres-nio (no
/// ORM), for a catalog that several recorders write at once.
///
/// **Synchronous over asynchronous, bridged once.** The catalog's API is
/// synchronous (it is called from command-line threads and from the live
/// recorder's worker threads); postgres-nio is asynchronous on SwiftNIO
/// event loops. Every connection runs on the process's one event loop group
/// (`MultiThreadedEventLoopGroup.singleton`), and the calling thread waits
/// for each statement's future (`EventLoopFuture.wait()`). The catalog is
/// never called on an event-loop thread, so a wait never blocks a loop (NIO
/// checks this and stops the process if it happens).
///
/// **Transactions.** Each transaction takes a connection from a small pool
/// (opened on demand, up to 4 kept idle), so threads that commit at once
/// run in parallel. Writes run at SERIALIZABLE isolation: each behaves as
/// if it ran alone, as on SQLite with its one writer — so the logic that
/// relied on that (count the rules, then insert at a position; read a
/// recording's hold, then replace it) stays right with many recorders. A
/// transaction the server aborts for a serialization failure (40001) or a
/// deadlock (40P01) runs again after a short random wait that doubles each
/// time (1 ms up to 50 ms), for up to 5 s — as long as SQLite waits for its
/// writer's lock — so a busy or heavily loaded server costs time, not calls.
/// Reads run at REPEATABLE READ, READ ONLY: one snapshot. Migrations run at
/// READ COMMITTED under a transaction-level advisory lock, so several
/// processes that open a new catalog at once apply each migration once.
///
/// **Locks.** `lock(storage:exclusive:)` is a session-level advisory lock
/// (`pg_try_advisory_lock[_shared]`) on a 64-bit hash of the storage's name,
/// held by a connection of its own for as long as the lock lives; the
/// server releases it if the process dies.
public final class PostgresCatalogDatabase: CatalogDatabase {
    public var dialect: SQLDialect { .postgres }
    /// The URL without its password.
    public let location: String
    /// Where the server is.
    public let url: PostgresURL
    private let pool: ConnectionPool

    /// Connects to the database `url` names (once, to check that it can:
    /// a refused connection, a failed login or a missing database is an
    /// error now rather than at the first query).
    public init(url: PostgresURL) throws {
        self.url = url
        location = url.redacted
        pool = ConnectionPool(url: url)
        pool.give(try pool.connect())
    }

    deinit { pool.closeAll() }

    @discardableResult
    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    @discardableResult
    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL SERIALIZABLE", body)
    }

    /// A read for catalog user `viewer`: `callrec.viewer` set for this
    /// transaction only (`set_config(..., true)` is `SET LOCAL`, the name bound
    /// as a parameter, gone at COMMIT), so a pooled connection never carries
    /// one viewer's name into another's transaction.
    @discardableResult
    public func read<T>(viewer: String, _ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { db in
            _ = try db.query(sql: "SELECT set_config('callrec.viewer', ?, true)", arguments: [viewer])
            return try body(db)
        }
    }

    /// Refuses a connection that row-level security would not hold: a role
    /// that owns the catalog's tables (or is a member of the owner), a
    /// superuser, or a role with BYPASSRLS — for each the policies do not
    /// apply, and `--viewer-catalog` would add nothing — and a catalog not yet
    /// migrated to `v12-row-security`.
    public func checkViewerRole() throws {
        let row = try read { db in
            try db.queryOne(sql: """
                SELECT current_user::text AS role, r.rolsuper OR r.rolbypassrls AS bypasses,
                    COALESCE(pg_has_role(current_user, c.relowner, 'USAGE'), false) AS owns,
                    c.oid IS NOT NULL AS has_catalog, COALESCE(c.relrowsecurity, false) AS secured
                FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('recordings')
                WHERE r.rolname = current_user
                """)
        }
        guard let row else { throw CatalogError(.invalid, "\(location): cannot read this role's attributes") }
        let role: String = try row["role"]
        let make = "give a role made by callrec catalog viewer-role ROLE"
        guard try row["has_catalog"] as Bool else {
            throw CatalogError(.notFound, "\(location): role \(role) sees no catalog here (\(make), run with the owner's --catalog)")
        }
        if try row["bypasses"] as Bool {
            throw CatalogError(.refused, "\(location): role \(role) is a superuser or has BYPASSRLS, so row-level security would not apply (\(make))")
        }
        if try row["owns"] as Bool {
            throw CatalogError(.refused, "\(location): role \(role) owns the catalog's tables, so row-level security would not apply (\(make))")
        }
        guard try row["secured"] as Bool else {
            throw CatalogError(.refused, "\(location): the catalog has no row-level security yet (open it once with the owner's --catalog: that migrates it)")
        }
    }

    /// Makes `role` the catalog's viewer role (`catalog viewer-role`): creates
    /// it (LOGIN, no password: set one with psql's `\password`, or use
    /// certificate or peer authentication) when it does not exist, and grants
    /// what serve's and `--as` queries need and nothing more: CONNECT on the
    /// database, USAGE on the schema, SELECT on `CatalogStore.viewerTables`
    /// (each under its policy), EXECUTE on the policies' functions. Never
    /// ownership, never a write. Runs as the catalog's owner (creating the
    /// role needs CREATEROLE). Running it again changes nothing.
    public func grantViewer(role: String) throws {
        guard Self.isRoleName(role) else {
            throw CatalogError(
                .invalid, "'\(role)' is not a role name callrec makes (lower-case letters, digits and _, starting with a letter or _, at most 63)")
        }
        // Role names are identifiers and cannot be bound: `role` is checked above, and quoted.
        let quoted = "\"" + role + "\""
        func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        try write { db in
            let found = try db.queryOne(sql: """
                SELECT pg_get_userbyid(c.relowner)::text AS owner, current_database()::text AS database, n.nspname::text AS schema
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('recordings')
                """)
            guard let found else { throw CatalogError(.notFound, "\(location): no catalog in this database yet") }
            if try found["owner"] as String == role {
                throw CatalogError(.refused, "\(location): role \(role) owns the catalog; the viewer role must be another one")
            }
            if try db.queryOne(sql: "SELECT 1 FROM pg_roles WHERE rolname = ?", arguments: [role]) == nil {
                try db.execute(sql: "CREATE ROLE \(quoted) LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
            }
            try db.execute(sql: "GRANT CONNECT ON DATABASE \(identifier(try found["database"])) TO \(quoted)")
            try db.execute(sql: "GRANT USAGE ON SCHEMA \(identifier(try found["schema"])) TO \(quoted)")
            try db.execute(sql: "GRANT SELECT ON \(CatalogStore.viewerTables.joined(separator: ", ")) TO \(quoted)")
            try db.execute(sql: "GRANT EXECUTE ON FUNCTION callrec_viewer_patterns(), callrec_number_matches(text, text) TO \(quoted)")
        }
    }

    /// A PostgreSQL identifier that needs no quoting: lower-case letters, digits, `_`.
    static func isRoleName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        return (first == "_" || ("a"..."z").contains(first))
            && name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// How long a transaction that keeps failing to serialise is run again (seconds).
    static let retryFor = 5.0

    private func transaction<T>(_ begin: String, _ body: (any SQLConnection) throws -> T) throws -> T {
        var attempt = 1
        let giveUp = Date().addingTimeInterval(Self.retryFor)
        while true {
            let (connection, reused) = try pool.take()
            let sql = PostgresSQL(connection: connection)
            do {
                try sql.run(begin)
            } catch {
                connection.closeQuietly()
                // An idle connection the server has since closed (a restart, an idle timeout):
                // nothing ran on it, so take another. A new connection that fails is the answer.
                if reused, PostgresFailure(error).isConnectionLost { continue }
                throw Self.catalogError(error, location: location, attempts: attempt)
            }
            do {
                let result = try body(sql)
                try sql.run("COMMIT")
                pool.give(connection)
                return result
            } catch {
                // Leave the connection idle (rolled back), or drop it when it broke.
                if !connection.isClosed, (try? sql.run("ROLLBACK")) != nil {
                    pool.give(connection)
                } else {
                    connection.closeQuietly()
                }
                if let failure = error as? PostgresFailure, failure.isRetryable, Date() < giveUp {
                    // At random up to 1 ms, 2 ms, 4 ms ... 50 ms: the other transaction usually
                    // finishes meanwhile, and writers that collided do not collide again in step.
                    let ceiling = min(50_000, 1_000 << min(attempt, 6))
                    attempt += 1
                    usleep(UInt32.random(in: 500...UInt32(ceiling)))
                    continue
                }
                throw Self.catalogError(error, location: location, attempts: attempt)
            }
        }
    }

    /// The migrations table and the advisory lock that serialises migrators.
    static let migrationsTable = "catalog_migrations"
    private static let migrationLockKey = Int64(bitPattern: 0x6361_6C6C_7265_636D)  // "callrecm"

    public func migrate(_ migrations: [CatalogMigration]) throws {
        // The usual case, an up-to-date catalog, costs one read.
        let applied = Set(try appliedMigrations())
        for migration in migrations where !applied.contains(migration.name) {
            try transaction("BEGIN ISOLATION LEVEL READ COMMITTED") { db in
                _ = try db.query(sql: "SELECT pg_advisory_xact_lock(?)", arguments: [Self.migrationLockKey])
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS \(Self.migrationsTable) (
                        name TEXT COLLATE "C" PRIMARY KEY, position BIGINT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """)
                if try db.queryOne(sql: "SELECT 1 FROM \(Self.migrationsTable) WHERE name = ?", arguments: [migration.name]) != nil {
                    return
                }
                try migration.apply(db)
                try db.execute(
                    sql: "INSERT INTO \(Self.migrationsTable) (name, position) VALUES (?, (SELECT count(*) FROM \(Self.migrationsTable)))",
                    arguments: [migration.name])
            }
        }
    }

    public func appliedMigrations() throws -> [String] {
        try read { db in
            guard try db.queryOne(sql: "SELECT 1 WHERE to_regclass(?) IS NOT NULL", arguments: [Self.migrationsTable]) != nil else { return [] }
            return try db.column(String.self, sql: "SELECT name FROM \(Self.migrationsTable) ORDER BY position")
        }
    }

    /// Whether the database holds a catalog (its migrations table).
    public func holdsCatalog() throws -> Bool { try !appliedMigrations().isEmpty }

    /// `VACUUM` of the tables, outside any transaction: the deleted row
    /// versions are removed from the table and its indexes and no snapshot
    /// can see them any more. Their bytes stay in the freed space of the
    /// pages (until new rows overwrite it) and in the write-ahead log
    /// (until its segments are recycled and overwritten), as in any
    /// PostgreSQL database; backups and replicas keep their own copies.
    /// `VACUUM FULL` rewrites the tables without them, locking the catalog
    /// while it runs: README says when an operator may want it.
    ///
    /// `INDEX_CLEANUP ON`: without it VACUUM may leave the index entries of
    /// a few dead rows for later when they are a small share of a large
    /// table — exactly the case of one erased party among millions of calls.
    public func reclaimErasedRows(tables: [String]) throws {
        let (connection, _) = try pool.take()
        do {
            try PostgresSQL(connection: connection).run("VACUUM (INDEX_CLEANUP ON) " + tables.joined(separator: ", "))
            pool.give(connection)
        } catch {
            connection.closeQuietly()
            throw Self.catalogError(error, location: location, attempts: 1)
        }
    }

    /// A session-level advisory lock on the storage's key, on a connection of
    /// its own kept for as long as the lock lives. Shared by writers,
    /// exclusive for verify and recover: the `flock(2)` of an SQLite catalog,
    /// across machines. Released by `pg_advisory_unlock` when dropped (so a
    /// verify right after a convert finds it free), or by the server when the
    /// connection ends (the process died). A holder of the other kind is
    /// waited for up to `lockWait` seconds — long enough for the server to
    /// notice that a killed holder's connection is gone — then refused.
    public func lock(storage: String, exclusive: Bool) throws -> CatalogLock {
        let connection = try pool.connect()
        let key = Self.lockKey(storage: storage)
        let sql = PostgresSQL(connection: connection)
        do {
            try sql.run("SET lock_timeout = '\(Int(Self.lockWait * 1000))ms'")
            try sql.run(exclusive ? "SELECT pg_advisory_lock(?)" : "SELECT pg_advisory_lock_shared(?)", [key])
        } catch {
            connection.closeQuietly()
            if PostgresFailure(error).sqlState == "55P03" {  // lock_not_available: the timeout ran out
                throw CatalogError(
                    .busy,
                    exclusive
                        ? "\(location), storage \(storage): a convert or recorder is writing into it; run verify when it has finished"
                        : "\(location), storage \(storage): catalog verify is repairing it; convert when it has finished")
            }
            throw Self.catalogError(error, location: location, attempts: 1)
        }
        let unlock = exclusive ? "SELECT pg_advisory_unlock(?)" : "SELECT pg_advisory_unlock_shared(?)"
        return CatalogLock {
            _ = try? sql.run(unlock, [key])
            connection.closeQuietly()
        }
    }

    /// Seconds a lock of the other kind is waited for.
    static let lockWait = 1.0

    /// The advisory lock key of a storage: FNV-1a-64 of `callrec storage <name>`.
    static func lockKey(storage: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("callrec storage " + storage).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    public func explain(sql: String, arguments: SQLArguments) throws -> [String] {
        try read { db in try db.query(sql: "EXPLAIN " + sql, arguments: arguments).map { try $0["QUERY PLAN"] as String } }
    }

    /// A driver or server error as a catalog error: one line naming the
    /// catalog (its URL without the password).
    static func catalogError(_ error: any Error, location: String, attempts: Int) -> any Error {
        if error is CatalogError { return error }
        if let failure = error as? PostgresFailure {
            switch failure.sqlState {
            case "53100": return CatalogError(.diskFull, "\(location): \(failure.message)")
            case "40001", "40P01":
                return CatalogError(.busy, "\(location): \(failure.message) (gave up after \(attempts) attempts)")
            case "23505", "23503", "23514", "23502", "23001", "P0001", "22021", "42P01", "42703":
                return CatalogError(.database, "\(location): \(failure.message)")
            default:
                if failure.sqlState.hasPrefix("08") || failure.sqlState.hasPrefix("57") || failure.sqlState.hasPrefix("28")
                    || failure.sqlState == "3D000" || failure.sqlState == "53300"
                {
                    return CatalogError(.unavailable, "\(location): \(failure.message)")
                }
                return CatalogError(.database, "\(location): \(failure.message)")
            }
        }
        return CatalogError(.unavailable, "\(location): \(PostgresFailure.describe(error))")
    }
}

/// An error from the server (with its SQLSTATE) or the connection, in words.
struct PostgresFailure: Error {
    /// Five characters: `40001` serialization failure, `28P01` wrong password...
    var sqlState: String
    /// One line.
    var message: String

    /// Whether running the transaction again may succeed.
    var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// Whether the connection is gone (class 08, or the server shutting it: 57P01-57P03).
    var isConnectionLost: Bool { sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState) }

    init(sqlState: String, message: String) {
        self.sqlState = sqlState
        self.message = message
    }

    /// `error` from postgres-nio, read for its SQLSTATE and message.
    init(_ error: any Error) {
        if let error = error as? PostgresFailure {
            self = error
        } else if let error = error as? PSQLError, let info = error.serverInfo {
            sqlState = info[.sqlState] ?? "XX000"
            var text = info[.message] ?? "the server reported an error"
            if let detail = info[.detail] { text += " (" + detail + ")" }
            message = text
        } else {
            sqlState = "08000"
            message = Self.describe(error)
        }
    }

    /// A connection-level error in words (never the password: postgres-nio's
    /// own description is kept generic for that reason; we name the cause).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresFailure { return error.message }
        if let error = error as? PSQLError {
            switch error.code {
            case .authMechanismRequiresPassword:
                return "the server asks for a password and none was given (in the URL, PGPASSWORD or the password file)"
            case .unsupportedAuthMechanism: return "the server asks for a login method callrec does not support"
            case .saslError: return "the SCRAM login failed"
            case .sslUnsupported: return "the server does not accept TLS (sslmode=require)"
            case .serverClosedConnection: return "the server closed the connection"
            case .clientClosedConnection: return "the connection was closed"
            case .connectionError:
                if let underlying = error.underlying { return describe(underlying) }
                return "cannot connect"
            default:
                if let underlying = error.underlying { return describe(underlying) }
                return "PostgreSQL driver error (\(error.code))"
            }
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused (is PostgreSQL running and listening there?)"
            case ENOENT: return "no server socket there (is PostgreSQL running?)"
            case EACCES: return "permission denied on the server's socket"
            default: return "cannot connect: " + String(cString: strerror(error.errnoCode))
            }
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error) }
            if error.dnsAAAAError != nil || error.dnsAError != nil { return "cannot resolve host \(error.host)" }
            return "cannot connect to \(error.host):\(error.port)"
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return "timed out connecting" }
        if error is NIOSSLError { return "TLS failed: \(error)" }
        return "\(error)"
    }
}

/// A few connections to one database, opened on demand and kept for reuse.
final class ConnectionPool: @unchecked Sendable {
    let url: PostgresURL
    private let lock = Lock()
    private var idle: [PostgresConnection] = []
    private var nextID = 1
    /// Idle connections kept beyond this are closed.
    static let maxIdle = 4
    private static let logger = Logger(label: "callrec.catalog.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    init(url: PostgresURL) { self.url = url }

    /// An idle connection (`reused`), or a new one.
    func take() throws -> (connection: PostgresConnection, reused: Bool) {
        let idleOne = lock.withLock { () -> PostgresConnection? in
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
            }
            return nil
        }
        if let idleOne { return (idleOne, true) }
        return (try connect(), false)
    }

    /// Gives `connection` back for reuse (or closes it when enough are idle).
    func give(_ connection: PostgresConnection) {
        let kept = lock.withLock { () -> Bool in
            guard idle.count < Self.maxIdle && !connection.isClosed else { return false }
            idle.append(connection)
            return true
        }
        if !kept { connection.closeQuietly() }
    }

    func closeAll() {
        let all = lock.withLock { () -> [PostgresConnection] in
            defer { idle = [] }
            return idle
        }
        for connection in all { connection.closeQuietly() }
    }

    /// A new connection, logged in.
    func connect() throws -> PostgresConnection {
        let id = lock.withLock { () -> Int in
            defer { nextID += 1 }
            return nextID
        }
        var configuration: PostgresConnection.Configuration
        if let socket = url.socketPath {
            configuration = .init(unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
        } else {
            configuration = .init(host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: try tls())
            configuration.options.tlsServerName = url.tls == .verifyFull ? url.host : nil
        }
        configuration.options.connectTimeout = .seconds(Int64(url.connectTimeout))
        configuration.options.additionalStartupParameters = [("application_name", url.applicationName)]
        let eventLoop = EventLoopBridge.group.next()
        do {
            return try EventLoopBridge.wait(PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: Self.logger))
        } catch {
            var failure = PostgresFailure(error)
            if failure.sqlState.hasPrefix("28") {
                failure.message = "authentication failed for user \(url.user)" + (url.password == nil ? " (no password given)" : "")
                    + (url.passwordFileNote.map { "; " + $0 } ?? "")
            } else if failure.sqlState == "3D000" {
                failure.message = "database \(url.database) does not exist (create it: createdb \(url.database))"
            } else if let note = url.passwordFileNote, failure.message.contains("password") {
                failure.message += "; " + note
            }
            throw CatalogError(.unavailable, "\(url.redacted): \(failure.message)")
        }
    }

    private func tls() throws -> PostgresConnection.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch url.tls {
        case .disable: return .disable
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let root = url.rootCertificate { configuration.trustRoots = .file(root) }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return url.tls == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw CatalogError(.invalid, "\(url.redacted): cannot set up TLS: \(error)")
        }
    }
}

extension PostgresConnection {
    /// Closes the connection without waiting for the server's goodbye. The
    /// callback keeps the connection alive until its channel has closed
    /// (postgres-nio asserts that a connection is closed when it goes).
    func closeQuietly() {
        close().whenComplete { _ in withExtendedLifetime(self) {} }
    }
}
