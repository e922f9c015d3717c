import CallrecCore
import CallrecTestSupport
import Catalog
@testable import CatalogPostgres
import Foundation
import Testing

/// What only the PostgreSQL backend has: URLs, logins and their failures,
/// many writers at once, and storages shared in one catalog.
@Suite struct PostgresCatalogTests {
    typealias F = CatalogFixtures
    let admin = CatalogActor.operator("test")

    // MARK: URLs

    @Test func readsURLsAsLibpqDoes() throws {
        let env = ["USER": "carol", "HOME": "/nonexistent"]
        let full = try PostgresURL("postgresql://alice:s3cr%40t@db.example.com:6543/calls?sslmode=require&application_name=rec1", environment: env)
        #expect(full.host == "db.example.com" && full.port == 6543 && full.user == "alice" && full.password == "s3cr@t")
        #expect(full.database == "calls" && full.tls == .require && full.applicationName == "rec1")
        #expect(full.redacted == "postgresql://alice@db.example.com:6543/calls")
        #expect(!full.description.contains("s3cr"))

        let socket = try PostgresURL("postgres:///calls?host=/var/run/postgresql", environment: env)
        #expect(socket.socketPath == "/var/run/postgresql/.s.PGSQL.5432" && socket.user == "carol" && socket.password == nil)
        #expect(socket.redacted == "postgresql://carol@/calls?host=/var/run/postgresql")
        let encoded = try PostgresURL("postgresql://%2Ftmp%2Fpg:5433/calls", environment: env)
        #expect(encoded.socketPath == "/tmp/pg/.s.PGSQL.5433")

        let defaults = try PostgresURL("postgresql://", environment: ["PGHOST": "pg.local", "PGPORT": "5999", "PGUSER": "rec", "PGPASSWORD": "pw"])
        #expect(defaults.host == "pg.local" && defaults.port == 5999 && defaults.user == "rec" && defaults.database == "rec" && defaults.password == "pw")
        let v6 = try PostgresURL("postgresql://u@[::1]:5432/d", environment: env)
        #expect(v6.host == "::1" && v6.redacted == "postgresql://u@[::1]:5432/d")
    }

    @Test(arguments: [
        "postgresql://u:pw@h:99999/d", "postgresql://u:pw@h/d?sslmode=sometimes", "postgresql://u:pw@h/d?colour=blue",
        "postgresql://u:pw@h1,h2/d", "postgresql://u:pw@h/d?connect_timeout=soon",
    ])
    func refusesBadURLsWithoutShowingThePassword(text: String) {
        let error = #expect(throws: CatalogError.self) { try PostgresURL(text, environment: [:]) }
        #expect(error?.code == .invalid)
        #expect(error?.message.contains("pw") == false, "\(String(describing: error))")
    }

    @Test func readsThePasswordFileOnlyWhenOnlyItsOwnerCan() throws {
        let folder = FixturePaths.temporaryDirectory("pgpass")
        let file = folder + "/pgpass"
        try "# comment\nother:*:*:*:nope\ndb.example.com:5432:calls:alice:fr\\:om-file\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let url = try PostgresURL("postgresql://alice@db.example.com/calls", environment: ["PGPASSFILE": file])
        #expect(url.password == "fr:om-file")
        chmod(file, 0o644)
        let open = try PostgresURL("postgresql://alice@db.example.com/calls", environment: ["PGPASSFILE": file])
        #expect(open.password == nil)
        #expect(open.passwordFileNote?.contains("chmod 600") == true)
    }

    // MARK: Logins and their failures

    /// A role that must give its password (SCRAM), for the login tests.
    func passwordRole() throws -> (server: PostgresServer, user: String, password: String, database: String) {
        let server = try PostgresServer.shared()
        let database = PostgresServer.databaseName(of: try server.freshDatabase())
        let user = "pw_" + database
        try server.psql("CREATE ROLE \(user) LOGIN PASSWORD 'right horse' IN ROLE password_users", database: "postgres")
        try server.psql("GRANT ALL ON DATABASE \(database) TO \(user); ALTER DATABASE \(database) OWNER TO \(user)", database: "postgres")
        return (server, user, "right horse", database)
    }

    @Test(.postgres) func logsInWithThePasswordFromTheURLTheEnvironmentOrThePasswordFile() throws {
        let (server, user, password, database) = try passwordRole()
        let folder = FixturePaths.temporaryDirectory()
        let fromURL = try CatalogStore.open(server.url(database: database, user: user, password: "right%20horse"), folder: folder)
        try fromURL.save(F.recording("a"))
        #expect(!fromURL.path.contains("horse"))

        let bare = server.url(database: database, user: user)
        let fromEnvironment = try PostgresCatalogDatabase(url: try PostgresURL(bare, environment: ["PGPASSWORD": password]))
        #expect(try fromEnvironment.read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM recordings") } == 1)

        let passfile = folder + "/pgpass"
        try "\(server.socketFolder):5432:\(database):\(user):\(password)\n".write(toFile: passfile, atomically: true, encoding: .utf8)
        chmod(passfile, 0o600)
        let fromFile = try PostgresCatalogDatabase(url: try PostgresURL(bare, environment: ["PGPASSFILE": passfile]))
        #expect(try fromFile.read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM recordings") } == 1)
    }

    /// Each failure to reach the catalog is one line naming it (without the
    /// password) and what to do.
    @Test(.postgres) func failuresToConnectAreOneClearLine() throws {
        let (server, user, _, database) = try passwordRole()
        func failure(_ url: String) -> CatalogError? {
            #expect(throws: CatalogError.self) { try CatalogStore.open(url, folder: FixturePaths.temporaryDirectory()) }
        }
        let wrong = failure(server.url(database: database, user: user, password: "wrong%20horse"))
        #expect(wrong?.code == .unavailable)
        #expect(wrong?.message == "postgresql://\(user)@/\(database)?host=\(server.socketFolder): authentication failed for user \(user)")
        let none = failure(server.url(database: database, user: user))
        #expect(none?.code == .unavailable && none?.message.contains("password") == true, "\(String(describing: none))")
        let missing = failure(server.url(database: "no_such_db"))
        #expect(missing?.message.hasSuffix("database no_such_db does not exist (create it: createdb no_such_db)") == true, "\(String(describing: missing))")
        let nobody = failure("postgresql://postgres:secret@/x?host=" + FixturePaths.temporaryDirectory())
        #expect(nobody?.code == .unavailable && nobody?.message.contains("no server socket") == true, "\(String(describing: nobody))")
        let refused = failure("postgresql://postgres:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=3")
        #expect(refused?.message.contains("connection refused") == true, "\(String(describing: refused))")
        for error in [wrong, none, missing, nobody, refused] {
            #expect(error?.message.contains("horse") == false && error?.message.contains("secret") == false)
            #expect(error?.message.contains("\n") == false)
        }
    }

    // MARK: Many writers

    /// Four threads commit 25 recordings each into one catalog while rules
    /// are added and removed: every recording is there once, rules keep a
    /// dense order, no transaction fails.
    @Test(.postgres) func manyWritersAtOnce() throws {
        let url = try PostgresServer.shared().freshDatabase()
        let folder = FixturePaths.temporaryDirectory()
        let stores = try (0..<4).map { _ in try CatalogStore.open(url, folder: folder) }
        final class Failures: @unchecked Sendable {
            let lock = Lock()
            var all: [String] = []
            func add(_ error: any Error) { lock.withLock { all.append("\(error)") } }
        }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 5) { worker in
            do {
                if worker == 4 {
                    for n in 0..<10 {
                        let rule = try stores[0].addRule(RecordingRule(name: "r\(n)", action: .skip), position: 1, by: admin, at: 1)
                        if n % 2 == 1 { try stores[1].removeRule(id: rule.id, by: admin, at: 1) }
                    }
                    return
                }
                for n in 0..<25 {
                    let id = F.id(n, day: 10 + worker)
                    var row = F.recording(id)
                    row.audioPath = "2026/11/\(10 + worker)/\(id).opus"
                    row.indexPath = "2026/11/\(10 + worker)/\(id).json"
                    try stores[worker].insertPending(row, files: [CatalogFile(recordingID: id, position: 0, path: row.audioPath, bytes: 1, sha256: nil)])
                    try stores[worker].markCommitted(id: id)
                    try stores[worker].audit("commit", target: id, outcome: .done, by: admin, at: 1)
                }
            } catch {
                failures.add(error)
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        #expect(try stores[0].allRecordings().count == 100)
        #expect(try stores[0].auditLog(action: "commit").count == 100)
        let rules = try stores[0].ruleSet().rules
        #expect(rules.count == 5 && rules.map(\.position) == [1, 2, 3, 4, 5])
    }

    /// Several processes opening a new catalog at once apply each migration once.
    @Test(.postgres) func migratorsRacingOnANewCatalog() throws {
        let url = try PostgresServer.shared().freshDatabase()
        let folder = FixturePaths.temporaryDirectory()
        final class Results: @unchecked Sendable {
            let lock = Lock()
            var errors: [String] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { _ = try CatalogStore.open(url, folder: folder) } catch { results.lock.withLock { results.errors.append("\(error)") } }
        }
        #expect(results.errors.isEmpty, "\(results.errors)")
        #expect(try CatalogStore.open(url, folder: folder).appliedMigrations() == CatalogStore.migrationNames)
    }

    /// Two transactions that each read what the other writes (write skew)
    /// cannot both commit at SERIALIZABLE: the server aborts one (40001) and
    /// the backend runs it again, so both take effect as if one ran after
    /// the other, and the caller sees no error.
    @Test(.postgres) func aSerializationFailureIsRunAgain() throws {
        let store = try F.store(.postgres)
        try F.tamper(store, "CREATE TABLE tally (who TEXT PRIMARY KEY, saw BIGINT NOT NULL)")
        let gate = Gate()
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            do {
                try store.write { db in
                    let saw = try db.scalar(Int.self, sql: "SELECT count(*) FROM tally") ?? -1
                    gate.firstRunsMeet()  // each one's first run reads before either writes
                    try db.execute(sql: "INSERT INTO tally (who, saw) VALUES (?, ?)", arguments: ["w\(k)", saw])
                }
            } catch {
                gate.fail(error)
            }
        }
        #expect(gate.errors.isEmpty, "\(gate.errors)")
        #expect(gate.runs >= 3, "no transaction was run again: the test did not make a conflict")
        // As if serial: one saw the table empty, the other saw the first one's row.
        #expect(try store.read { db in try db.column(Int.self, sql: "SELECT saw FROM tally ORDER BY saw") } == [0, 1])
    }

    /// Lets the first run of each of two transactions wait for the other's; counts all runs.
    final class Gate: @unchecked Sendable {
        private let lock = Lock()
        private var arrived = 0
        private(set) var runs = 0
        private(set) var errors: [String] = []

        func firstRunsMeet() {
            lock.withLock {
                runs += 1
                guard arrived < 2 else { return }
                arrived += 1
                lock.broadcast()
                while arrived < 2 { if !lock.wait(seconds: 10) { break } }
            }
        }

        func fail(_ error: any Error) { lock.withLock { errors.append("\(error)") } }
    }

    /// A connection the server closed while idle (a restart, an
    /// administrator's pg_terminate_backend, an idle timeout) is replaced
    /// without the caller noticing: a recorder that runs for months outlives
    /// a restart of its database.
    @Test(.postgres) func aConnectionTheServerClosedIsReplaced() throws {
        let store = try F.store(.postgres)
        try store.save(F.recording("a"))
        let server = try PostgresServer.shared()
        let database = PostgresServer.databaseName(of: store.path)
        let ended = try server.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()",
            database: "postgres")
        #expect((Int(ended) ?? 0) >= 1)
        try store.save(F.recording("b"))
        #expect(try store.allRecordings().map(\.id) == ["a", "b"])
    }

    // MARK: Storages sharing a catalog

    /// Two recorders, each with its own folder, one catalog: verify and
    /// recover in one storage never touch the other's rows or files, and
    /// each storage's lock is its own.
    @Test(.postgres) func eachStorageVerifiesItsOwnRowsAndLocksAlone() throws {
        let url = try PostgresServer.shared().freshDatabase()
        let a = try CatalogStore.open(url, folder: FixturePaths.temporaryDirectory("site-a"))
        let b = try CatalogStore.open(url, folder: FixturePaths.temporaryDirectory("site-b"))
        #expect(a.storage != b.storage && a.storage.hasSuffix(":" + (a.folder as NSString).resolvingSymlinksInPath))
        try F.recordingWithFiles(a, id: F.id(1))
        try F.recordingWithFiles(b, id: F.id(2))
        // b's pending commit, its files not yet renamed: a's verify must leave it be.
        var pending = F.recording(F.id(3))
        pending.audioSHA256 = nil
        try b.insertPending(pending, files: [CatalogFile(recordingID: pending.id, position: 0, path: pending.audioPath, bytes: 1, sha256: nil)])

        do {
            let writerA = try a.writerLock()
            #expect(throws: CatalogError.self) { try F.reopen(a).verify(dryRun: false, importer: nil, by: admin, at: 1) }
            let reportB = try b.verify(dryRun: true, importer: nil, by: admin, at: 1)  // b's storage is not locked by a's writer
            #expect(reportB.healthy == 1 && reportB.elsewhere == 1 && reportB.pendingRolledBack == [pending.id])
            withExtendedLifetime(writerA) {}
        }  // a's writer lock goes here

        let reportA = try a.verify(dryRun: false, importer: nil, by: admin, at: 2)
        #expect(reportA.healthy == 1 && reportA.elsewhere == 1 && reportA.isClean)
        #expect(try a.recording(id: pending.id)?.state == .pending, "a's verify settled b's commit")
        #expect(try a.recover(scanFolders: true, by: admin, at: 3).isClean)
        #expect(try b.recording(id: F.id(2)) != nil)
    }

    /// An erasure run where the files are not leaves the row `deleting` (no
    /// query shows it) and says so; the storage's own recorder finishes it.
    @Test(.postgres) func erasureInAnotherStorageIsFinishedByItsOwner() throws {
        let url = try PostgresServer.shared().freshDatabase()
        let a = try CatalogStore.open(url, folder: FixturePaths.temporaryDirectory("site-a"))
        let b = try CatalogStore.open(url, folder: FixturePaths.temporaryDirectory("site-b"))
        try F.recordingWithFiles(b, id: F.id(1), caller: "+46701234567")
        let report = try a.forget(number: try .parse("+46701234567"), by: admin, reason: "erasure request", at: 1)
        #expect(report.erased.isEmpty && report.failed.map(\.id) == [F.id(1)])
        #expect(report.failed.first?.why.contains("storage \(b.storage)") == true)
        #expect(try a.allRecordings().isEmpty && a.wasErased(id: F.id(1)))
        #expect(F.exists(b.filePath("2026/11/29/\(F.id(1)).opus")))
        #expect(try b.finishDeletions() == [F.id(1)])
        #expect(!F.exists(b.filePath("2026/11/29/\(F.id(1)).opus")))
        #expect(try b.recording(id: F.id(1)) == nil)
    }

    // MARK: The SQL translation

    @Test(arguments: [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"),
        ("SELECT '?', \"a?\", ? -- what?\n, ?", "SELECT '?', \"a?\", $1 -- what?\n, $2"),
        ("SELECT 'it''s ?' || ?", "SELECT 'it''s ?' || $1"),
        ("/* ? */ SELECT ?", "/* ? */ SELECT $1"),
        ("CREATE FUNCTION f() AS $body$ ? $body$; SELECT ?", "CREATE FUNCTION f() AS $body$ ? $body$; SELECT $1"),
        ("SELECT $$?$$, ?", "SELECT $$?$$, $1"),
        ("no placeholders", "no placeholders"),
    ])
    func numbersThePlaceholders(sql: String, expected: String) {
        #expect(PostgresSQL.numberingPlaceholders(sql) == expected)
    }

    @Test func globBecomesAnEscapedLike() {
        #expect(SQLDialect.likePattern(glob: "+46*1?") == "+46%1_")
        #expect(SQLDialect.likePattern(glob: "50%_\\*") == "50\\%\\_\\\\%")
    }
}

extension Trait where Self == ConditionTrait {
    /// A test that needs the test PostgreSQL server (off with `CALLREC_TEST_POSTGRES=skip`).
    static var postgres: Self { .enabled(if: !PostgresServer.skipped, "CALLREC_TEST_POSTGRES=skip") }
}

extension CatalogStore {
    /// The audit entries of one action (admin).
    func auditLog(action: String) throws -> [AuditEntry] {
        try auditLog(limit: 100_000, by: .operator("test"), at: 0).filter { $0.action == action }
    }
}
