import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// `callrec catalog ...` run as a user runs it, on recordings convert wrote.
@Suite struct CatalogCLITests {
    static let u = FixturePaths.fixture("g711u-2legs-20ms.pcap")  // +4681234567 -> +4687654321
    static let a = FixturePaths.fixture("g711a-2legs-20ms.pcap")  // +4631555010 -> +4631555020

    func run(_ arguments: [String], _ environment: [String: String] = [:]) throws -> CommandRunner.Run {
        try CommandRunner.callrec(arguments, environment: environment)
    }

    /// Converts both fixtures into a new folder; returns it, the arguments
    /// that name it, and the recordings as find --json prints them.
    func converted(_ backend: CatalogBackend) throws -> (String, [String], [[String: Any]]) {
        let (out, at) = try catalogPlace(backend, "cli-catalog")
        let convert = try run(["convert", Self.u, Self.a] + at)
        #expect(convert.status == 0, "\(convert.stderr)")
        return (out, at, try found(at))
    }

    func found(_ at: [String], _ extra: [String] = []) throws -> [[String: Any]] {
        let find = try run(["catalog", "find"] + at + ["--json"] + extra)
        #expect(find.status == 0, "\(find.stderr)")
        return try JSONSerialization.jsonObject(with: Data(find.stdout.utf8)) as? [[String: Any]] ?? []
    }

    /// A password file for the CLI (first line; mode 0600, as callrec requires).
    static func passwordFile(_ password: String) throws -> String {
        let path = FixturePaths.temporaryDirectory("password") + "/password"
        _ = FileManager.default.createFile(atPath: path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600])
        return path
    }

    func id(_ recordings: [[String: Any]], caller: String) -> String {
        recordings.first { $0["caller"] as? String == caller }?["id"] as? String ?? "?"
    }

    @Test(arguments: CatalogBackend.all)
    func findPrintsJSONAndTablesAndFilters(backend: CatalogBackend) throws {
        let (out, at, all) = try converted(backend)
        #expect(all.count == 2)
        for r in all {
            for key in ["id", "call_id", "caller", "callee", "direction", "start", "duration_s", "path", "sha256", "retain_until"] {
                #expect(r[key] != nil, "find --json lacks \(key)")
            }
            #expect(FileManager.default.fileExists(atPath: r["path"] as? String ?? ""))
        }
        #expect(try found(at, ["--number", "+4687654321"]).map { $0["caller"] as? String } == ["+4681234567"])
        #expect(try found(at, ["--number", "+46315*"]).map { $0["callee"] as? String } == ["+4631555020"])
        #expect(try found(at, ["--caller", "+46?12*"]).count == 1)
        #expect(try found(at, ["--from", "2026-11-18", "--to", "2026-11-18"]).count == 2)
        #expect(try found(at, ["--to", "2026-11-17"]).isEmpty)
        #expect(try found(at, ["--from", "2026-11-18T12:06:00", "--tz", "Europe/Stockholm"]).count == 2)  // 11:06 UTC
        #expect(try found(at, ["--from", "2026-11-18T12:07:00+01:00"]).isEmpty)
        #expect(try found(at, ["--direction", "unknown", "--min-duration", "6", "--max-duration", "7"]).count == 2)
        #expect(try found(at, ["--min-duration", "7"]).isEmpty)
        #expect(try found(at, ["--dtmf"]).isEmpty, "the index reports no DTMF yet")
        let table = try run(["catalog", "find"] + at + ["--callee", "+4687654321"])
        #expect(table.stdout.contains("+4681234567 -> +4687654321"))
        #expect(table.stdout.hasSuffix("1 recording\n"))
        // The catalog is found from --catalog as well as --out.
        let catalog = backend == .sqlite ? out + "/catalog.sqlite" : at[3]
        #expect(try run(["catalog", "find", "--catalog", catalog]).stdout.contains("2 recordings"))
    }

    @Test(arguments: CatalogBackend.all)
    func showAndExportAsOpusAndWAV(backend: CatalogBackend) throws {
        let (out, at, all) = try converted(backend)
        let id = id(all, caller: "+4681234567")
        let show = try run(["catalog", "show", id] + at + ["--reason", "complaint 4711"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("caller       +4681234567"))
        #expect(show.stdout.contains("packets      caller 300 (lost 0"))
        let copy = FixturePaths.temporaryDirectory("export") + "/call.opus"
        #expect(try run(["catalog", "export", id] + at + ["--to", copy]).status == 0)
        #expect(FileManager.default.contents(atPath: copy) == FileManager.default.contents(atPath: all.first { $0["id"] as? String == id }!["path"] as! String))
        let wav = FixturePaths.temporaryDirectory("export") + "/call.wav"
        let export = try run(["catalog", "export", id] + at + ["--to", wav, "--reason", "dispute"])
        #expect(export.status == 0, "\(export.stderr)")
        let bytes = try #require(FileManager.default.contents(atPath: wav))
        #expect(bytes.prefix(4) == Data("RIFF".utf8) && bytes[8..<12] == Data("WAVE".utf8))
        let channels = Int(bytes[22]) | Int(bytes[23]) << 8
        let rate = Int(bytes[24]) | Int(bytes[25]) << 8 | Int(bytes[26]) << 16
        #expect(channels == 2 && rate == 48_000)
        // 6.01 s of two 16-bit channels, plus the header.
        #expect(abs(Double(bytes.count - 44) / 4 / 48_000 - 6.01) < 0.01)
        // A file whose SHA-256 changed is not exported.
        let audio = all.first { $0["id"] as? String == id }!["path"] as! String
        _ = FileManager.default.createFile(atPath: audio, contents: Data("tampered".utf8))
        let damaged = try run(["catalog", "export", id, ] + at + ["--to", copy + "2"])
        #expect(damaged.status == 1 && damaged.stderr.contains("refused to export recording \(id): it does not match what was recorded and signed: 2026/11/18/\(id).opus: its SHA-256 is"), "\(damaged.stderr)")
        #expect(!FileManager.default.fileExists(atPath: copy + "2"))
        let verify = try run(["catalog", "verify"] + at)
        #expect(verify.status == 1 && verify.stdout.contains("damaged \(id): SHA-256 differs: 2026/11/18/\(id).opus"))
        let audit = try run(["catalog", "audit"] + at + ["--target", id])
        #expect(audit.stdout.contains("show          done     \(id)  why: complaint 4711"))
        #expect(audit.stdout.contains("export        done     \(id)  why: dispute  (to \(wav) as wav)"))
    }

    @Test(arguments: CatalogBackend.all)
    func agentsAreRefusedOtherPeoplesCallsAndRefusalsAreAudited(backend: CatalogBackend) throws {
        let (out, at, all) = try converted(backend)
        let mine = id(all, caller: "+4681234567"), theirs = id(all, caller: "+4631555010")
        let password = try Self.passwordFile("alice's password")
        let add = ["--password-file", password, "--work-factor", "10"]
        #expect(try run(["catalog", "users", "add", "alice"] + at + ["--role", "agent", "--number", "+4681234567"] + add).status == 0)
        #expect(try run(["catalog", "users", "add", "bob"] + at + ["--role", "supervisor", "--team", "north"] + add).status == 0)
        #expect(try run(["catalog", "users", "add", "tmp"] + at + ["--role", "boss"] + add).status == 2)
        #expect(try run(["catalog", "users", "add", "tmp"] + at + ["--role", "agent"] + add).status == 0)
        #expect(try run(["catalog", "users", "remove", "tmp"] + at).stdout == "user tmp removed\n")
        #expect(try run(["catalog", "users", "remove", "tmp"] + at).status == 1)
        let users = try run(["catalog", "users", "list"] + at).stdout
        let userLines = users.components(separatedBy: "\n\n")[0].split(separator: "\n")
        #expect(userLines.map { $0.split(separator: " ").first.map(String.init) } == ["alice", "bob"])
        #expect(users.contains("\nteam keys:\n  team north #1  age1") && users.hasSuffix("  held by bob\n"))
        #expect(users.contains("agent       team -           numbers +4681234567               key age1"))
        let own = try run(["catalog", "find"] + at + ["--as", "alice"])
        #expect(own.stdout.contains(mine) && !own.stdout.contains(theirs) && own.stderr.isEmpty)
        let find = try run(["catalog", "find"] + at + ["--as", "alice", "--number", "+4631555010"])
        #expect(find.stdout.hasSuffix("0 recordings\n"))
        #expect(find.stderr == "callrec: refused: 1 more matching recording is not a call alice (agent) may see (audited)\n")
        for command in [["show", theirs], ["export", theirs, "--to", out + "/x.opus"], ["delete", theirs, "--reason", "r"]] {
            let refused = try run(["catalog"] + command + at + ["--as", "alice"])
            #expect(refused.status == 1)
            #expect(refused.stderr.hasPrefix("callrec: refused: alice (agent) may not \(command[0]) \(theirs): "), "\(refused.stderr)")
        }
        #expect(try run(["catalog", "show", mine] + at + ["--as", "alice", "--password-file", password]).status == 0)
        #expect(try run(["catalog", "audit"] + at + ["--as", "alice"]).stderr.contains("refused: alice (agent) may not audit"))
        #expect(try run(["catalog", "purge"] + at + ["--as", "bob"]).status == 1)
        #expect(try run(["catalog", "find"] + at + ["--as", "mallory"]).stderr == "callrec: no user 'mallory' in the catalog (callrec catalog users list)\n")
        let audit = try run(["catalog", "audit"] + at + ["--user", "alice", "--json"])
        let entries = try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(entries.map { "\($0["action"]!) \($0["outcome"]!)" } == ["find refused", "show refused", "export refused", "delete refused", "show done", "audit refused"])
        #expect(FileManager.default.fileExists(atPath: all.first { $0["id"] as? String == theirs }!["path"] as! String))
    }

    @Test(arguments: CatalogBackend.all)
    func rulesAddListTestAndConvertSkips(backend: CatalogBackend) throws {
        let (out, at) = try catalogPlace(backend, "cli-rules")
        let add = try run(["catalog", "rules", "add"] + at + ["--skip", "--remote", "+4631555020", "--name", "supplier line"])
        #expect(add.stdout == "rule 1 added at position 1: skip remote +4631555020 retain 24m\n")
        #expect(try run([
            "catalog", "rules", "add"] + at + ["--record", "--local", "+46812*", "--days", "mon-fri", "--hours", "08:00-17:00",
            "--except", "12:00-13:00", "--tz", "Europe/Stockholm", "--retain", "7y",
        ]).status == 0)
        let list = try run(["catalog", "rules", "list"] + at)
        #expect(list.stdout.contains("2    2     record local +46812* mon,tue,wed,thu,fri 08:00-17:00 not 12:00-13:00 Europe/Stockholm retain 7y"))
        func ruleTest(at time: String) throws -> CommandRunner.Run {
            try run([
                "catalog", "rules", "test"] + at + ["--caller", "+4681234567", "--callee", "+4687654321", "--direction", "outbound",
                "--at", time, "--tz", "Europe/Stockholm",
            ])
        }
        let test = try ruleTest(at: "2026-11-18T10:06")
        #expect(test.stdout.contains("rule 2 (#2): MATCHES"))
        #expect(test.stdout.contains("no  remote +4687654321 does not match +4631555020"))
        #expect(test.stdout.contains("yes wed 2026-11-18 10:06:00 Europe/Stockholm is not within the excluded 12:00-13:00"))
        #expect(test.stdout.hasSuffix("decision: record, retain 7y\n"))
        let lunch = try ruleTest(at: "2026-11-18T12:30")
        #expect(lunch.stdout.contains("no  wed 2026-11-18 12:30:00 Europe/Stockholm is within the excluded 12:00-13:00"))
        #expect(lunch.stdout.hasSuffix("no rule matches: the default applies\ndecision: record, retain 24m\n"))
        let convert = try run(["convert", Self.u, Self.a] + at)
        #expect(convert.status == 0)
        #expect(convert.stdout.hasSuffix("1 recording written to \(out), 1 call skipped by the recording rules\n"))
        #expect(try run(["catalog", "rules", "remove", "1"] + at).stdout == "rule 1 removed\n")
        #expect(try run(["catalog", "rules", "remove", "1"] + at).status == 1)
        #expect(try run(["catalog", "rules", "add"] + at + ["--record", "--tz", "Mars/Olympus"]).status == 1)
        #expect(try run(["catalog", "rules", "add"] + at + ["--record", "--hours", "25:00-26:00"]).status != 0)
    }

    /// A capture from 2020 is past the default 24 months: purge removes it unless it is held.
    @Test(arguments: CatalogBackend.all)
    func purgeHoldReleaseAndForget(backend: CatalogBackend) throws {
        let (out, at) = try catalogPlace(backend, "cli-purge")
        var old = SyntheticCall()
        old.start = MediaTime(seconds: 1_600_000_000, microseconds: 0)  // 2020-09-13
        old.callerNumber = "+46701234567"
        let path = try TemporaryFile.write(old.build().pcap, name: "old.pcap")
        #expect(try run(["convert", path, Self.u, Self.a] + at).status == 0)
        let all = try found(at)
        let oldID = id(all, caller: "+46701234567")
        let dry = try run(["catalog", "purge"] + at + ["--dry-run"])
        #expect(dry.stdout == "would purge \(oldID)\n1 would purge, 0 kept under legal hold\n")
        #expect(try run(["catalog", "hold", oldID] + at + ["--reason", "case 2026-17"]).status == 0)
        let kept = try run(["catalog", "purge"] + at)
        #expect(kept.stdout == "kept \(oldID): legal hold: case 2026-17\n0 purged, 1 kept under legal hold\n")
        #expect(try found(at, ["--held"]).count == 1)
        #expect(try run(["catalog", "release", oldID] + at + ["--reason", "case closed"]).status == 0)
        #expect(try run(["catalog", "purge"] + at).stdout == "purged \(oldID)\n1 purged, 0 kept under legal hold\n")
        #expect(try found(at).count == 2)

        let other = id(all, caller: "+4631555010")
        #expect(try run(["catalog", "hold", other] + at + ["--reason", "dispute"]).status == 0)
        let forget = try run(["catalog", "forget"] + at + ["--number", "+4631555020", "--reason", "erasure request 118"])
        #expect(forget.stdout == "kept \(other): legal hold: dispute\n0 erased, 1 kept under legal hold\n")
        let forgetU = try run(["catalog", "forget"] + at + ["--number", "+4687654321", "--reason", "erasure request 119"])
        #expect(forgetU.stdout.hasPrefix("erased "))
        #expect(try found(at).map { $0["id"] as? String } == [other])
        let delete = try run(["catalog", "delete", other] + at + ["--reason", "x"])
        #expect(delete.status == 1 && delete.stderr.contains("under legal hold"))
        #expect(try run(["catalog", "verify"] + at).stdout.hasSuffix("intact\n1 recording healthy, nothing to repair\n"))
    }

    /// convert killed (SIGKILL) right after each commit step; verify repairs
    /// to the recording complete in files and catalog: killed before its row
    /// was entered, its complete files are committed as they are (salvaged).
    @Test(arguments: CatalogBackend.all, ["files-synced", "row-pending", "manifest-written", "first-file-renamed", "files-renamed", "committed"])
    func killedMidCommitThenVerified(backend: CatalogBackend, step: String) throws {
        let (out, at) = try catalogPlace(backend, "cli-kill")
        let killed = try run(["convert", Self.u] + at, ["CALLREC_CRASH_AT": step])
        #expect(killed.killed && killed.status == SIGKILL)
        let verify = try run(["catalog", "verify"] + at)
        #expect(verify.status == 0)
        let expected = [
            "files-synced": "recording cut by a crash 20261118T110641Z-9030a5a1: salvaged, complete (6.0 s of audio), its commit finished",
            "row-pending": "interrupted commit 20261118T110641Z-9030a5a1: completed (files and row)",
            "manifest-written": "interrupted commit 20261118T110641Z-9030a5a1: completed (files and row)",
            "first-file-renamed": "interrupted commit 20261118T110641Z-9030a5a1: completed (files and row)",
            "files-renamed": "interrupted commit 20261118T110641Z-9030a5a1: completed (files and row)",
            "committed": "1 recording healthy, nothing to repair",
        ][step]!
        #expect(verify.stdout.contains(expected), "\(verify.stdout)")
        let recordings = try found(at)
        #expect(recordings.count == 1)
        let files = (FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".opus") || $0.hasSuffix(".json") || $0.hasSuffix(".partial") }
        // Audio, peaks, manifest and index per recording.
        #expect(files.count == recordings.count * 4)
        let again = try run(["catalog", "verify"] + at).stdout
        #expect(again.hasSuffix("nothing to repair\n") && again.contains(": intact\n"), "\(again)")
    }

    @Test func missingCatalogAndBadArgumentsAreOneLine() throws {
        let missing = try run(["catalog", "find", "--out", "/nonexistent/out"])
        #expect(missing.status == 1)
        #expect(missing.stderr == "callrec: /nonexistent/out/catalog.sqlite: no catalog there (callrec convert writes OUT/catalog.sqlite; give --out DIR or --catalog PATH)\n")
        let bad = try run(["catalog", "find", "--out", "/tmp", "--direction", "sideways"])
        #expect(bad.status == 2 && bad.stderr.contains("--direction must be inbound, outbound, internal or unknown"))
        let badDate = try run(["catalog", "find", "--out", "/tmp", "--from", "yesterday"])
        #expect(badDate.status == 2 && badDate.stderr.contains("'yesterday' is not a date or time"))
        let help = try run(["catalog", "--help"])
        #expect(help.status == 0 && help.stdout.contains("callrec catalog find --number '+46812*'"))
    }

    @Test(arguments: CatalogBackend.all)
    func aCallWhoseMediaTurnedEncryptedIsMarkedInTheCatalog(backend: CatalogBackend) throws {
        // SDP plain RTP, a ZRTP handshake at 2 s, SRTP after it: the audio in clear is recorded.
        var call = SyntheticCall(seed: 65, duration: 5)
        call.zrtpAt = 2
        let capture = try TemporaryFile.write(call.build().pcap)
        let (_, at) = try catalogPlace(backend, "cli-catalog-zrtp")
        let convert = try run(["convert", capture] + at)
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stderr.contains("the media is encrypted from packet"), "\(convert.stderr)")
        let all = try found(at)
        #expect(all.count == 1)
        #expect(all.first?["media_encrypted"] as? Bool == true)
        let (_, plain) = try catalogPlace(backend, "cli-catalog-plain")
        #expect(try run(["convert", Self.u] + plain).status == 0)
        #expect(try found(plain).first?["media_encrypted"] as? Bool == false)
        let id = all.first?["id"] as? String ?? "?"
        let show = try run(["catalog", "show", id] + at)
        #expect(show.stdout.contains("ENCRYPTED"), "\(show.stdout)")
    }
}
