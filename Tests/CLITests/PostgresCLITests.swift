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

    /// Fan-out conversion on an engine that is not ours, as README "Many
    /// converters at once" shows it: `xargs -P 4` runs four converters at once
    /// over six captures of different calls into one new PostgreSQL catalog
    /// and one shared folder — racing for the catalog's creation, the folder's
    /// signing key and its manifest chain — then over two of the captures
    /// again (a capture converted twice, a second probe's copy). Every call is
    /// recorded, in the ledger and in the chain exactly once, nobody fails or
    /// reports a lock, and verify finds catalog, files, manifests and the
    /// audit chain in agreement.
    @Test func fourConvertersAtOnceRecordEveryCallOnce() throws {
        let catalog = try PostgresServer.shared().freshDatabase()
        let out = FixturePaths.temporaryDirectory("fan-out")
        let captures = FixturePaths.temporaryDirectory("fan-out-captures")
        var calls = 0
        var perSite: [Int: Int] = [:]
        var paths: [String] = [], copies: [String] = []
        var fresh = ""
        for seed in 1...7 {
            var traffic = TrafficGenerator(concurrentCalls: 2, duration: 6, seed: UInt64(100 + seed))
            traffic.callLength = 2...3
            // The generator names calls by line and number: each site's calls are other calls, an hour apart.
            traffic.start = MediaTime(seconds: 1_795_000_000 + Int64(seed) * 3600, microseconds: 0)
            var pcap: [UInt8] = []
            let generated = traffic.generate { pcap.append(contentsOf: $0) }.calls
            calls += generated
            perSite[seed] = generated
            let path = "\(captures)/site-\(seed).pcap"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(pcap)))
            if seed == 7 {
                fresh = path  // converted last, twice at once
                continue
            }
            paths.append(path)
            if seed == 2 || seed == 5 {
                copies.append("\(captures)/site-\(seed)-probe-b.pcap")
                try FileManager.default.copyItem(atPath: path, toPath: copies.last!)
            }
        }
        #expect(paths.count == 6 && copies.count == 2 && calls >= 14)
        // Each converter takes one capture at a time: the six sites at once, then the two copies at once, then site 2 again.
        var printed = ""
        for list in [paths, copies, [paths[1]]] {
            let fanOut = try CommandRunner.run(
                "/bin/sh", ["-c", "xargs -P 4 -n 1 \"$0\" convert --jobs 1 --out \"$1\" --catalog \"$2\"", FixturePaths.callrecBinary, out, catalog],
                stdin: Array((list.joined(separator: "\n") + "\n").utf8))
            #expect(fanOut.status == 0, "\(fanOut.stderr)")
            for word in ["lock", "serializ", "deadlock", "error", "failed", "cannot", "another process"] {
                #expect(!fanOut.stderr.lowercased().contains(word), "\(fanOut.stderr)")
            }
            printed += fanOut.stdout
        }
        // The copies' calls, and site 2's again, were each found recorded already.
        let already = printed.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: " recorded already") else { return nil }
            return Int(line[..<range.lowerBound].split(separator: " ").dropLast().last ?? "")
        }
        #expect(already.reduce(0, +) == 2 * perSite[2]! + perSite[5]!, "\(printed)")
        // A capture and its copy at the very same moment: the two converters meet in the same
        // recordings. Whoever is second to a file is refused it (one line, nothing touched) or
        // finds the call recorded already; nothing is written twice or over another's file.
        try FileManager.default.copyItem(atPath: fresh, toPath: fresh + ".copy.pcap")
        let race = try CommandRunner.run(
            "/bin/sh", ["-c", "xargs -P 2 -n 1 \"$0\" convert --jobs 1 --out \"$1\" --catalog \"$2\"", FixturePaths.callrecBinary, out, catalog],
            stdin: Array("\(fresh)\n\(fresh).copy.pcap\n".utf8))
        let unexpected = race.stderr.split(separator: "\n").filter { line in
            line.hasPrefix("callrec: ") && !line.hasPrefix("callrec: recorder ") && !line.hasPrefix("callrec: checkpoint ")
                && !line.hasPrefix("callrec: note: ") && !line.hasSuffix("another process is writing this file now (the same recording, from another converter or recorder); left as it is")
        }
        #expect(unexpected.isEmpty, "\(race.stderr)")

        let recordings = try found(["--out", out, "--catalog", catalog, "--limit", "1000"])
        #expect(recordings.count == calls, "\(recordings.map { $0["call_id"] ?? "" })")
        #expect(Set(recordings.compactMap { $0["id"] as? String }).count == calls)
        let coverage = try run(["catalog", "coverage", "--json", "--out", out, "--catalog", catalog])
        #expect(coverage.status == 0, "\(coverage.stderr)")
        let totals = try JSONSerialization.jsonObject(with: Data(coverage.stdout.utf8)) as? [String: Any]
        #expect((totals?["total"] as? [String: Any])?["seen"] as? Int == calls, "\(coverage.stdout)")
        let opus = (FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".opus") }
        #expect(opus.count == calls, "\(opus)")
        #expect(!(FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []).contains { $0.hasSuffix(".partial") })
        // One signing key for the folder, made once; one chain.
        let recorders = try run(["catalog", "recorders", "--out", out, "--catalog", catalog])
        #expect(recorders.stdout.split(separator: "\n").count == 1, "\(recorders.stdout)")
        #expect(recorders.stdout.contains(" \(calls) manifests "), "\(recorders.stdout)")
        let verify = try run(["catalog", "verify", "--out", out, "--catalog", catalog])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("\(calls) recordings healthy, nothing to repair"), "\(verify.stdout)")
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

    /// README "Row-level security": `catalog viewer-role` makes the role, and
    /// `--as` with `--viewer-catalog` reads through it — an agent finds and
    /// shows their own call, is refused the other; the owner cannot be given
    /// as the viewer; on SQLite the option is one clear line.
    @Test func asReadsThroughTheViewerRole() throws {
        let server = try PostgresServer.shared()
        let catalog = try server.freshDatabase()
        let database = PostgresServer.databaseName(of: catalog)
        let out = FixturePaths.temporaryDirectory("rls-cli")
        let at = ["--out", out, "--catalog", catalog]
        #expect(try run(["convert", Self.u, Self.a] + at).status == 0)
        let password = FixturePaths.temporaryDirectory("rls-pw") + "/pw"
        _ = FileManager.default.createFile(atPath: password, contents: Data("alice's password\n".utf8), attributes: [.posixPermissions: 0o600])
        let add = try run(
            ["catalog", "users", "add", "alice"] + at + ["--role", "agent", "--number", "+4681234567", "--password-file", password, "--work-factor", "10"])
        #expect(add.status == 0, "\(add.stderr)")
        let role = "serve_" + database
        let made = try run(["catalog", "viewer-role", role] + at)
        #expect(made.status == 0, "\(made.stderr)")
        let viewer = server.url(database: database, user: role)
        #expect(made.stdout.contains("--viewer-catalog postgresql://\(role)@"), "\(made.stdout)")
        #expect(try run(["catalog", "viewer-role", role] + at).status == 0, "running it again changes nothing")

        let asAlice = at + ["--as", "alice", "--viewer-catalog", viewer]
        let find = try run(["catalog", "find", "--json"] + asAlice)
        #expect(find.status == 0, "\(find.stderr)")
        let found = try JSONSerialization.jsonObject(with: Data(find.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(found.map { $0["caller"] as? String } == ["+4681234567"])
        let mine = try #require(found.first?["id"] as? String)
        let show = try run(["catalog", "show", mine] + asAlice)
        #expect(show.status == 0, "\(show.stderr)")
        let theirs = try #require(try self.found(at).first { $0["caller"] as? String == "+4631555010" }?["id"] as? String)
        let refused = try run(["catalog", "show", theirs] + asAlice)
        #expect(refused.status == 1 && refused.stderr.contains("refused: alice (agent) may not show"), "\(refused.stderr)")

        let owner = try run(["catalog", "find"] + at + ["--as", "alice", "--viewer-catalog", catalog])
        #expect(owner.status == 1 && owner.stderr.contains("row-level security would not apply"), "\(owner.stderr)")
        let serve = try run(["serve"] + at + ["--viewer-catalog", catalog, "--listen", "127.0.0.1:1"])
        #expect(serve.status == 1 && serve.stderr.contains("row-level security would not apply"), "\(serve.stderr)")
        let sqlite = try run(["catalog", "find", "--out", out, "--catalog", out + "/catalog.sqlite", "--as", "alice", "--viewer-catalog", viewer])
        #expect(sqlite.status == 1 && sqlite.stderr.contains("SQLite has no row-level security"), "\(sqlite.stderr)")
    }
}
