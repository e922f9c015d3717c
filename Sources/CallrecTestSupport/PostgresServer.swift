import CallrecCore
import Foundation

/// A throw-away PostgreSQL server for tests: `initdb` into a temporary
/// folder, listening only on a Unix socket in that folder (no TCP port, so
/// test runs on a shared machine never clash), started once per test
/// process on first use and stopped — its folder removed — when the
/// process exits. Each test gets a database of its own (`freshDatabase`).
///
/// `initdb` and `postgres` refuse to run as root: when the tests run as
/// root (CI does), the server runs as the `postgres` system user that
/// Debian's package creates (through `runuser`), in a folder it owns.
///
/// The binaries are found in `CALLREC_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else `PATH`. scripts/setup.sh
/// installs Debian's `postgresql` when it is missing. When the server
/// cannot start, `shared` throws the reason and every PostgreSQL test fails
/// with it; a developer without PostgreSQL can set
/// `CALLREC_TEST_POSTGRES=skip` to run the SQLite half alone (CI never does).
public final class PostgresServer: @unchecked Sendable {
    /// The folder holding the data directory, the socket and the log.
    public let folder: String
    /// The folder of the server's Unix socket (what `host=` names).
    public var socketFolder: String { folder }
    /// The data directory.
    public var dataDirectory: String { folder + "/data" }
    /// The superuser every test connects as (trusted on the socket).
    public let superuser = "postgres"
    /// The folder holding `psql`, `pg_ctl` and `postgres`.
    public let binaries: String
    /// The user the server runs as when this process is root, else nil.
    let runAs: String?
    private let lock = Lock()
    private var databases = 0
    /// The empty database every test's database is a copy of.
    static let template = "callrec_template"

    /// Whether the PostgreSQL half of the tests is switched off (`CALLREC_TEST_POSTGRES=skip`).
    public static var skipped: Bool { ProcessInfo.processInfo.environment["CALLREC_TEST_POSTGRES"] == "skip" }

    /// The server of this test process, started on first use.
    public static func shared() throws -> PostgresServer { try started.get() }

    private static let started: Result<PostgresServer, any Error> = Result {
        if skipped {
            throw PostgresServerError("CALLREC_TEST_POSTGRES=skip is set: the PostgreSQL tests do not run")
        }
        return try PostgresServer()
    }

    /// A new empty database, a copy of the template (`CREATE DATABASE ...
    /// TEMPLATE`); returns its URL
    /// (`postgresql://postgres@/test_7?host=/tmp/callrec-pg-1234`).
    /// Databases are made ahead, `batch` in one psql run: most tests find one ready.
    public func freshDatabase() throws -> String {
        try lock.withLock { () throws -> String in
            if ready.isEmpty {
                let names = (0..<Self.batch).map { "test_\(databases + $0 + 1)" }
                try psql(names.map { "CREATE DATABASE \($0) TEMPLATE \(Self.template)" }, database: "postgres")
                databases += names.count
                ready = names
            }
            return url(database: ready.removeFirst())
        }
    }

    /// How many databases one psql run makes.
    static let batch = 8
    private var ready: [String] = []

    /// The URL of `database` for `user` (with `password`, percent-encoded as given).
    public func url(database: String, user: String? = nil, password: String? = nil) -> String {
        let who = (user ?? superuser) + (password.map { ":" + $0 } ?? "")
        return "postgresql://\(who)@/\(database)?host=\(socketFolder)"
    }

    /// Runs SQL through `psql` as the superuser and returns what it printed
    /// (unaligned, tuples only). Fails on the first error.
    @discardableResult
    public func psql(_ sql: String, database: String) throws -> String { try psql([sql], database: database) }

    /// Runs each statement (each its own transaction) through one `psql`.
    @discardableResult
    public func psql(_ statements: [String], database: String) throws -> String {
        let run = try Self.run(
            binaries + "/psql",
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socketFolder, "-U", superuser, "-d", database] + statements.flatMap { ["-c", $0] },
            as: nil)
        guard run.status == 0 else {
            throw PostgresServerError("psql \(database): \(statements.joined(separator: "; ")): \(run.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The database name in a URL made by `url` (for `psql`).
    public static func databaseName(of url: String) -> String {
        let afterHost = url[url.range(of: "@/")!.upperBound...]
        return String(afterHost.prefix { $0 != "?" })
    }

    /// Stops the server and removes its folder. Called at exit.
    func stop() {
        _ = try? Self.run(binaries + "/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "20", "stop"], as: runAs)
        try? FileManager.default.removeItem(atPath: folder)
    }

    private init() throws {
        binaries = try Self.findBinaries()
        Self.removeAbandonedServers()
        runAs = getuid() == 0 ? "postgres" : nil
        folder = NSTemporaryDirectory() + "callrec-pg-\(getpid())"
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if let runAs {
            guard let user = getpwnam(runAs) else {
                throw PostgresServerError(
                    "the tests run as root and initdb refuses root, but there is no '\(runAs)' user to run it as "
                        + "(apt-get install postgresql creates it; or run the tests as a normal user)")
            }
            guard chown(folder, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
                throw PostgresServerError("\(folder): cannot give it to \(runAs): \(String(cString: strerror(errno)))")
            }
        }
        let initdb = try Self.run(
            binaries + "/initdb",
            ["-D", dataDirectory, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            as: runAs, in: folder)
        guard initdb.status == 0 else { throw PostgresServerError("initdb failed: \(initdb.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        // Members of password_users log in with a password (SCRAM), everyone else is trusted:
        // the tests of password handling and of failed logins use the former.
        try """
            local all +password_users scram-sha-256
            local all all trust
            """.write(toFile: dataDirectory + "/pg_hba.conf", atomically: false, encoding: .utf8)
        let options = [
            "listen_addresses=''", "unix_socket_directories='\(folder)'", "fsync=off", "synchronous_commit=off", "full_page_writes=off",
            "max_connections=300", "shared_buffers=32MB", "max_locks_per_transaction=256", "max_pred_locks_per_transaction=256",
        ].map { "-c " + $0 }.joined(separator: " ")
            // More settings for profiling a benchmark, e.g. "-c log_min_duration_statement=50 -c logging_collector=on
            // -c log_directory='/tmp/pg-log'" (the server's folder, its log with it, goes at exit).
            + (ProcessInfo.processInfo.environment["CALLREC_PG_SERVER_OPTIONS"].map { " " + $0 } ?? "")
        // The server must not inherit this process's descriptors: Foundation's Process learns
        // that a child exited when the last copy of a socket it gives the child closes, and a
        // server holding pg_ctl's copy would leave us waiting for pg_ctl until the server stops.
        let start = try Self.run(
            "/bin/bash",
            ["-c", Self.closingInheritedDescriptors, "pg_ctl", binaries + "/pg_ctl", "-D", dataDirectory, "-l", folder + "/server.log",
             "-o", options, "-w", "-t", "60", "start"],
            as: runAs, in: folder)
        guard start.status == 0 else {
            let log = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
            throw PostgresServerError("PostgreSQL did not start: \(start.stderr) \(log.suffix(800))")
        }
        let folder = self.folder
        Self.stopAtExit = { [self] in self.stop() }
        atexit { PostgresServer.stopAtExit?() }
        // Should this process die without running its exit handlers, a watchdog stops the server.
        try Self.startWatchdog(parent: getpid(), dataDirectory: dataDirectory, folder: folder)
        try psql("CREATE ROLE password_users NOLOGIN", database: "postgres")
        try psql("CREATE DATABASE \(Self.template)", database: "postgres")
    }

    /// A bash script that closes every descriptor above 2, then runs its arguments.
    static let closingInheritedDescriptors = #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec "$@""#

    nonisolated(unsafe) private static var stopAtExit: (() -> Void)? = nil

    private static func startWatchdog(parent: Int32, dataDirectory: String, folder: String) throws {
        let script = """
            while kill -0 \(parent) 2>/dev/null; do sleep 1; done
            pid=$(head -1 '\(dataDirectory)/postmaster.pid' 2>/dev/null)
            [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null
            sleep 1; rm -rf '\(folder)'
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Stops servers (and removes folders) left by test processes that died.
    private static func removeAbandonedServers() {
        let base = NSTemporaryDirectory()
        let prefix = "callrec-pg-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let pidFile = base + name + "/data/postmaster.pid"
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let server = Int32(text.prefix { $0 != "\n" }) {
                kill(server, SIGQUIT)
                usleep(200_000)
            }
            try? FileManager.default.removeItem(atPath: base + name)
        }
    }

    private static func findBinaries() throws -> String {
        let fm = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["CALLREC_PG_BIN"] { return configured }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted()
        if let newest = versions.last {
            guard newest >= 15 else { throw PostgresServerError("PostgreSQL \(newest) is installed; callrec needs 15 or newer") }
            return "/usr/lib/postgresql/\(newest)/bin"
        }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where fm.isExecutableFile(atPath: "\(folder)/initdb") {
            return String(folder)
        }
        throw PostgresServerError(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or PATH: "
                + "run scripts/setup.sh (apt-get install postgresql), or set CALLREC_TEST_POSTGRES=skip to run without")
    }

    /// Runs a program, as `user` when given (this process is root): through
    /// util-linux's runuser, or its setpriv where runuser is missing.
    private static func run(_ executable: String, _ arguments: [String], as user: String?, in directory: String? = nil) throws -> CommandRunner.Run {
        guard let user else { return try CommandRunner.run(executable, arguments, in: directory) }
        for runuser in ["/usr/sbin/runuser", "/sbin/runuser"] where FileManager.default.isExecutableFile(atPath: runuser) {
            return try CommandRunner.run(runuser, ["-u", user, "--", executable] + arguments, in: directory)
        }
        return try CommandRunner.run(
            "/usr/bin/setpriv", ["--reuid", user, "--regid", user, "--init-groups", "--reset-env", executable] + arguments, in: directory)
    }
}

/// Why the test server could not start or a command on it failed.
public struct PostgresServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The catalog backends every catalog test runs against (as `@Test(arguments:)`).
public enum CatalogBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    /// Both, unless `CALLREC_TEST_POSTGRES=skip` (then SQLite alone, with a warning).
    public static var all: [CatalogBackend] {
        if PostgresServer.skipped {
            warnOnce
            return [.sqlite]
        }
        return allCases
    }

    private static let warnOnce: Void = {
        FileHandle.standardError.write(Data("warning: CALLREC_TEST_POSTGRES=skip: the catalog tests run on SQLite only\n".utf8))
    }()

    public var description: String { rawValue }

    /// Where a new, empty catalog for the recordings in `folder` is, as
    /// `--catalog` and `CatalogStore.open` take it: `folder/catalog.sqlite`,
    /// or the URL of a new database of its own on this test process's
    /// PostgreSQL server (started on first use).
    ///
    ///     let out = FixturePaths.temporaryDirectory()
    ///     let catalog = try backend.newCatalog(folder: out)
    ///     let store = try CatalogStore.open(catalog, folder: out)            // module CatalogPostgres
    ///     try CommandRunner.callrec(["convert", capture, "--out", out, "--catalog", catalog])
    public func newCatalog(folder: String) throws -> String {
        switch self {
        case .sqlite: folder + "/catalog.sqlite"
        case .postgres: try PostgresServer.shared().freshDatabase()
        }
    }
}
