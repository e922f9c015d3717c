import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// `--catalog postgresql://...` as an operator uses it: several converters
/// and recorders, each with its own --out, writing into one catalog; the
/// config file's `catalog = ...`; and the one-line errors of a catalog that
/// cannot be reached, none of which shows the password.
@Suite(.postgres) struct PostgresCLITests {
    static let u = FixturePaths.fixture("g711u-2legs-20ms.pcap")  // +4681234567 -> +4687654321
    static let a = FixturePaths.fixture("g711a-2legs-20ms.pcap")  // +4631555010 -> +4631555020

    func run(_ arguments: [String], _ environment: [String: String] = [:], stdin: [UInt8]? = nil) throws -> CommandRunner.Run {
        try CommandRunner.callrec(arguments, environment: environment, stdin: stdin)
    }

    func found(_ arguments: [String]) throws -> [[String: Any]] {
        let find = try run(["catalog", "find", "--json"] + arguments)
        #expect(find.status == 0, "\(find.stderr)")
        return try JSONSerialization.jsonObject(with: Data(find.stdout.utf8)) as? [[String: Any]] ?? []
    }

    /// A converter and a recorder, each with its own folder, write into one
    /// catalog; each finds both calls, each file where it is; verify of each
    /// folder checks its own recordings and counts the other's.
    @Test func aConverterAndARecorderShareOneCatalog() throws {
        let catalog = try PostgresServer.shared().freshDatabase()
        let siteA = FixturePaths.temporaryDirectory("site-a"), siteB = FixturePaths.temporaryDirectory("site-b")
        let convert = try run(["convert", Self.u, "--out", siteA, "--catalog", catalog])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(!FileManager.default.fileExists(atPath: siteA + "/catalog.sqlite"), "the rows went to PostgreSQL, not a file")
        let record = try run(["record", "-", "--out", siteB, "--catalog", catalog], stdin: Array(FileManager.default.contents(atPath: Self.a)!))
        #expect(record.status == 0, "\(record.stderr)")

        for site in [siteA, siteB] {
            let all = try found(["--out", site, "--catalog", catalog])
            #expect(all.count == 2)
            for recording in all {
                let path = recording["path"] as? String ?? ""
                #expect(FileManager.default.fileExists(atPath: path), "find from \(site) names \(path)")
                let home = recording["caller"] as? String == "+4681234567" ? siteA : siteB
                #expect(path.hasPrefix((home as NSString).resolvingSymlinksInPath + "/") || path.hasPrefix(home + "/"), "\(path)")
            }
        }
        let verifyA = try run(["catalog", "verify", "--out", siteA, "--catalog", catalog])
        #expect(verifyA.status == 0)
        #expect(verifyA.stdout.contains(": intact\n1 recording healthy, nothing to repair\n"), "\(verifyA.stdout)")
        #expect(verifyA.stdout.contains("1 recording stored elsewhere (other recorders' --out) not checked here"))
        let show = try run(["catalog", "show", try #require(found(["--out", siteA, "--catalog", catalog]).first?["id"] as? String), "--out", siteA, "--catalog", catalog])
        #expect(show.stdout.contains("storage      "), "\(show.stdout)")
    }

    /// The config file's `catalog = ...` line serves convert, record and the catalog commands alike.
    @Test func theConfigFileNamesTheCatalog() throws {
        let catalog = try PostgresServer.shared().freshDatabase()
        let out = FixturePaths.temporaryDirectory("config")
        let config = out + "/callrec.conf"
        try "# the shared catalog\ncatalog = \(catalog)\nlocal-prefix = +46812\n".write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try run(["convert", Self.u, "--out", out, "--config", config]).status == 0)
        let all = try found(["--out", out, "--config", config])
        #expect(all.map { $0["direction"] as? String } == ["outbound"])
        #expect(!FileManager.default.fileExists(atPath: out + "/catalog.sqlite"))
        // --catalog on the command line wins over the file: here, a catalog file that does not exist.
        let other = FixturePaths.temporaryDirectory("config")
        let overridden = try run(["catalog", "find", "--out", other, "--config", config, "--catalog", other + "/catalog.sqlite"])
        #expect(overridden.status == 1 && overridden.stderr.contains("\(other)/catalog.sqlite: no catalog there"), "\(overridden.stderr)")
    }

    /// Each way of not reaching the catalog is one line naming it (never its
    /// password) and what to do, with exit status 1; nothing is written.
    @Test func unreachableCatalogsAreOneLineWithoutThePassword() throws {
        let server = try PostgresServer.shared()
        let out = FixturePaths.temporaryDirectory("unreachable")
        let role = "pw_cli_\(getpid())"
        try server.psql("CREATE ROLE \(role) LOGIN PASSWORD 'correct horse' IN ROLE password_users", database: "postgres")
        let database = PostgresServer.databaseName(of: try server.freshDatabase())
        try server.psql("ALTER DATABASE \(database) OWNER TO \(role)", database: "postgres")
        let shown = "postgresql://\(role)@/\(database)?host=\(server.socketFolder)"
        let cases: [(String, [String: String], String)] = [
            (server.url(database: database, user: role, password: "wrong%20horse"), [:], "\(shown): authentication failed for user \(role)"),
            (server.url(database: database, user: role), ["PGPASSWORD": "wrong horse"], "\(shown): authentication failed for user \(role)"),
            (
                server.url(database: "no_such_db", password: "s3cret"), [:],
                "postgresql://postgres@/no_such_db?host=\(server.socketFolder): database no_such_db does not exist (create it: createdb no_such_db)"
            ),
            (
                "postgresql://callrec:s3cret@127.0.0.1:1/calls?sslmode=disable", [:],
                "postgresql://callrec@127.0.0.1:1/calls: connection refused (is PostgreSQL running and listening there?)"
            ),
        ]
        for (url, environment, line) in cases {
            for command in [["convert", Self.u, "--out", out, "--catalog", url], ["catalog", "find", "--out", out, "--catalog", url]] {
                let failed = try run(command, environment)
                #expect(failed.status == 1, "\(command): \(failed.stderr)")
                #expect(failed.stderr == "callrec: \(line)\n", "\(command)")
                #expect(!failed.stderr.contains("horse") && !failed.stderr.contains("s3cret"))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: out + "/2026"), "convert wrote files without a catalog")
        // The right password, from the environment: a new catalog is made in the (empty) database.
        let right = ["PGPASSWORD": "correct horse"]
        #expect(try run(["catalog", "find", "--out", out, "--catalog", server.url(database: database, user: role)], right).stderr
            == "callrec: \(shown): no catalog in this database yet (callrec convert or record with --catalog \(shown) creates it)\n")
        #expect(try run(["convert", Self.u, "--out", out, "--catalog", server.url(database: database, user: role)], right).status == 0)
        let find = try run(["catalog", "find", "--out", out, "--catalog", server.url(database: database, user: role)], right)
        #expect(find.status == 0 && find.stdout.hasSuffix("1 recording\n"), "\(find.stderr)")
        let bad = try run(["catalog", "find", "--out", out, "--catalog", "postgresql://u:s3cret@h/d?sslmode=sometimes"])
        #expect(bad.status == 1 && bad.stderr.hasPrefix("callrec: postgresql://u@h/d?sslmode=sometimes: sslmode must be"), "\(bad.stderr)")
    }
}
