import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// Sealed recordings from the command line, as a firm sets them up: the
/// compliance key made off the recorder, only its public key given to
/// convert and record, users with passwords from files (or typed at a
/// terminal), listening with a password, reseal with the compliance key.
@Suite struct SealedCLITests {
    func run(_ arguments: [String], stdin: [UInt8]? = nil) throws -> CommandRunner.Run {
        try CommandRunner.callrec(arguments, stdin: stdin)
    }
    func tool(_ arguments: [String]) throws -> CommandRunner.Run { try CommandRunner.run("/usr/bin/env", arguments) }

    /// A password file, mode 0600 unless `mode` says otherwise.
    static func passwordFile(_ password: String, mode: Int = 0o600) -> String {
        let path = FixturePaths.temporaryDirectory("password") + "/password"
        _ = FileManager.default.createFile(atPath: path, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: mode])
        return path
    }

    /// A call of alice's number, with DTMF digits 4, 7, 1 on the caller's leg.
    static func capture() throws -> String {
        var call = SyntheticCall(seed: 61, duration: 3)
        call.callerNumber = "+4681111"
        call.calleeNumber = "+4670000060"
        var impairments = LegImpairments()
        impairments.events = [(4, 0.6, 0.12), (7, 1.0, 0.12), (1, 1.4, 0.12)]
        call.callerImpairments = impairments
        return try TemporaryFile.write(call.build().pcap)
    }

    struct Site {
        var out: String
        var key: String
        var recipient: String
        var alicePassword: String
    }

    /// The compliance key, alice (agent of sales) and bob (its supervisor), before any call.
    func site() throws -> Site {
        let folder = FixturePaths.temporaryDirectory("sealed-cli")
        let key = folder + "/compliance.key"
        let made = try run(["keys", "new", "--out", key])
        #expect(made.status == 0, "\(made.stderr)")
        let out = folder + "/recordings"
        let alice = Self.passwordFile("alice's password")
        let added = try run([
            "catalog", "users", "add", "alice", "--out", out, "--role", "agent", "--team", "sales", "--number", "+4681111",
            "--password-file", alice, "--work-factor", "10",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.hasPrefix("user alice: agent, personal key age1"))
        let bob = try run([
            "catalog", "users", "add", "bob", "--out", out, "--role", "supervisor", "--team", "sales",
            "--password-file", Self.passwordFile("bob's password"), "--work-factor", "10",
        ])
        #expect(bob.stdout.hasSuffix("team sales: key #1 for bob\n"), "\(bob.stdout)")
        return Site(out: out, key: key, recipient: made.stdout.trimmingCharacters(in: .newlines), alicePassword: alice)
    }

    @Test func convertSealsToTheRecipientAndAgeOpensTheFiles() throws {
        let site = try site()
        let convert = try run(["convert", try Self.capture(), "--out", site.out, "--recipient", site.recipient, "--json"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let notice = "callrec: sealing every recording, its peaks and its index (age v1, .age files) to 1 compliance key ("
        #expect(convert.stderr.contains("\n" + notice), "\(convert.stderr)")
        #expect(convert.stderr.contains("and the keys of the catalog's users and teams whose numbers are a call's parties\n"))
        // The JSON line: the sealed files, no digit.
        #expect(!convert.stdout.contains("\"digit\""))
        let line = try #require(try JSONSerialization.jsonObject(with: Data(convert.stdout.utf8)) as? [String: Any])
        let audio = try #require(line["audio"] as? String)
        #expect(audio.hasSuffix(".opus.age"))
        let call = try #require(line["call"] as? [String: Any])
        #expect(call["sealed"] as? Bool == true && (call["dtmf"] as? [Any])?.count == 3)
        // The reference tool opens what convert sealed, and opusinfo is clean on it.
        let opus = FixturePaths.temporaryDirectory("sealed-cli-age") + "/call.opus"
        let opened = try tool(["age", "-d", "-i", site.key, "-o", opus, audio])
        #expect(opened.status == 0, "\(opened.stderr)")
        let info = try tool(["opusinfo", opus])
        #expect(info.status == 0 && !info.stdout.contains("WARNING") && !info.stderr.contains("WARNING"), "\(info.stdout)\(info.stderr)")
        let index = try tool(["age", "-d", "-i", site.key, line["index"] as! String])
        #expect(index.stdout.contains("\"digit\" : \"4\""))
        // Without --recipient, convert writes in the clear as ever, and says so with --verbose.
        let clear = try run(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", FixturePaths.temporaryDirectory("clear"), "--verbose"])
        #expect(clear.stderr.contains("\ncallrec: not sealing: recordings, peaks and indexes are written in the clear"), "\(clear.stderr)")
    }

    @Test func aliceListensWithHerPasswordAndAWrongOneIsRefused() throws {
        let site = try site()
        #expect(try run(["convert", try Self.capture(), "--out", site.out, "--recipient", site.recipient]).status == 0)
        let found = try run(["catalog", "find", "--out", site.out, "--json"])
        let id = try #require((try JSONSerialization.jsonObject(with: Data(found.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)

        // The operator sees the row, not the digits.
        let operatorShow = try run(["catalog", "show", id, "--out", site.out])
        #expect(operatorShow.status == 0)
        #expect(operatorShow.stdout.contains("dtmf         3 digits at 0.6 s (caller), 1.0 s (caller), 1.4 s (caller) (the digits are sealed"), "\(operatorShow.stdout)")
        #expect(operatorShow.stdout.contains("sealed to    alice, team sales #1, 1 other key (compliance)"))
        // alice, with her password, sees them.
        let show = try run(["catalog", "show", id, "--out", site.out, "--as", "alice", "--password-file", site.alicePassword])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("dtmf         3 digits: 4 at 0.6 s (caller), 7 at 1.0 s (caller), 1 at 1.4 s (caller)"), "\(show.stdout)")
        // A wrong password: one line, exit 1, audited.
        let wrong = try run(["catalog", "show", id, "--out", site.out, "--as", "alice", "--password-file", Self.passwordFile("guessing")])
        #expect(wrong.status == 1 && wrong.stdout.isEmpty)
        #expect(wrong.stderr == "callrec: refused: alice (agent) may not show \(id): wrong password\n")
        // A password file others can read is refused before it is read.
        let loose = Self.passwordFile("alice's password", mode: 0o644)
        let refused = try run(["catalog", "show", id, "--out", site.out, "--as", "alice", "--password-file", loose])
        #expect(refused.status == 1)
        #expect(refused.stderr == "callrec: \(loose): private key file has mode 0644: its group and others can access it; a private key must be readable by its owner only (run: chmod 600 \(loose))\n")
        // Export: alice's WAV, decoded from the sealed file; the operator without a key is refused.
        let wav = FixturePaths.temporaryDirectory("sealed-export") + "/call.wav"
        let export = try run(["catalog", "export", id, "--out", site.out, "--to", wav, "--as", "alice", "--password-file", site.alicePassword])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(FileManager.default.contents(atPath: wav)?.prefix(4) == Data("RIFF".utf8))
        let blind = try run(["catalog", "export", id, "--out", site.out, "--to", wav + "2"])
        #expect(blind.status == 1 && blind.stderr.contains("it is sealed, and no key was given to open it"))
        // The compliance key exports the Ogg Opus file as recorded.
        let opus = FixturePaths.temporaryDirectory("sealed-export") + "/call.opus"
        #expect(try run(["catalog", "export", id, "--out", site.out, "--to", opus, "--identity", site.key]).status == 0)
        #expect(FileManager.default.contents(atPath: opus)?.prefix(4) == Data("OggS".utf8))
        let audit = try run(["catalog", "audit", "--out", site.out, "--target", id]).stdout
        #expect(audit.contains("alice             show          done"))
        #expect(audit.contains("alice             show          refused  \(id)  (wrong password)"))
        let details = try #require(
            try JSONSerialization.jsonObject(with: Data(try run(["catalog", "audit", "--out", site.out, "--target", id, "--json"]).stdout.utf8))
                as? [[String: Any]]
        ).compactMap { $0["detail"] as? String }
        #expect(details.contains("to \(wav) as wav, opened with alice's keys"))
        // verify checks the sealed files without a key.
        #expect(try run(["catalog", "verify", "--out", site.out]).stdout.hasSuffix("intact\n1 recording healthy, nothing to repair\n"))
    }

    @Test func resealGivesAnOlderRecordingToAUserAddedLater() throws {
        let folder = FixturePaths.temporaryDirectory("sealed-cli-reseal")
        let key = folder + "/compliance.key"
        let recipient = try run(["keys", "new", "--out", key]).stdout.trimmingCharacters(in: .newlines)
        let out = folder + "/recordings"
        // The compliance key from the configuration file.
        let config = folder + "/callrec.conf"
        _ = FileManager.default.createFile(atPath: config, contents: Data("recipient = \(recipient)\n".utf8))
        #expect(try run(["convert", try Self.capture(), "--out", out, "--config", config]).status == 0)
        let id = try #require(
            (try JSONSerialization.jsonObject(with: Data(try run(["catalog", "find", "--out", out, "--json"]).stdout.utf8)) as? [[String: Any]])?
                .first?["id"] as? String)
        let password = Self.passwordFile("carl's password")
        #expect(try run(["catalog", "users", "add", "carl", "--out", out, "--role", "agent", "--number", "+4681111", "--password-file", password, "--work-factor", "10"]).status == 0)
        let before = try run(["catalog", "show", id, "--out", out, "--as", "carl", "--password-file", password])
        #expect(before.status == 1 && before.stderr.contains("carl's keys do not open it (it is sealed to 1 other key (compliance))"), "\(before.stderr)")
        // Reseal: carl is added to each sealed file's header, and the recorder (its key in the output
        // folder) signs a new manifest for the new files.
        let reseal = try run(["catalog", "reseal", id, "--out", out, "--identity", key, "--reason", "carl joined"])
        #expect(reseal.status == 0 && reseal.stdout.contains("\(id): added carl (3 files, headers only)"), "\(reseal.stdout)\(reseal.stderr)")
        #expect(try run(["catalog", "show", id, "--out", out, "--as", "carl", "--password-file", password]).status == 0)
        #expect(try run(["catalog", "verify", "--out", out]).stdout.hasSuffix("intact\n1 recording healthy, nothing to repair\n"))
        // The new manifest on disk verifies with the recorder's public key, as anyone would check it.
        let manifest = try #require(
            FileManager.default.enumerator(atPath: out)?.allObjects.compactMap { $0 as? String }.first { $0.hasSuffix(".manifest.json") })
        let signature = manifest.replacingOccurrences(of: ".manifest.json", with: ".manifest.sig")
        let openssl = try tool(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", out + "/recorder.pub.pem", "-rawin", "-in", out + "/" + manifest, "-sigfile",
             out + "/" + signature])
        #expect(openssl.status == 0 && openssl.stdout.contains("Signature Verified Successfully"), "\(openssl.stdout)\(openssl.stderr)")
        #expect(try String(contentsOfFile: out + "/" + manifest, encoding: .utf8).contains("\"supersedes\": {\"recorder\":"))
        // An evidence bundle of it checks out.
        let zip = folder + "/evidence.zip"
        let exported = try run(["catalog", "export", id, "--out", out, "--evidence", zip, "--reason", "dispute", "--identity", key])
        #expect(exported.status == 0, "\(exported.stderr)")
        let checked = try run(["verify-evidence", zip])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        // Without the recorder key, a signed recording is not resealed.
        let other = folder + "/elsewhere.key"
        let refused = try run(["catalog", "reseal", id, "--out", out, "--identity", key, "--signing-key", other])
        #expect(refused.status == 1 && refused.stderr.contains(other), "\(refused.stderr)")
        // A key file others can read is refused.
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: key)
        let loose = try run(["catalog", "reseal", id, "--out", out, "--identity", key])
        #expect(loose.status == 1 && loose.stderr.contains("private key file has mode 0640: its group can access it"))
    }

    /// The password typed at a terminal: twice for a new user, never echoed.
    @Test func aPasswordTypedAtTheTerminal() throws {
        let out = FixturePaths.temporaryDirectory("sealed-cli-tty")
        let added = try CommandRunner.inTerminal(
            [FixturePaths.callrecBinary, "catalog", "users", "add", "dora", "--out", out, "--role", "agent", "--work-factor", "10"],
            answers: ["dora's secret", "dora's secret"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stderr.contains("New password for dora: ") && added.stderr.contains("Again: "))
        #expect(!added.stderr.contains("dora's secret"), "the password must not be echoed")
        let mismatch = try CommandRunner.inTerminal(
            [FixturePaths.callrecBinary, "catalog", "users", "add", "erik", "--out", out, "--role", "agent", "--work-factor", "10"],
            answers: ["erik's secret", "something else"])
        #expect(mismatch.status == 1 && mismatch.stderr.contains("the two passwords differ; nothing was changed"))
        // Without a terminal or a file: one line saying what to give.
        let none = try run(["catalog", "users", "add", "fred", "--out", out, "--role", "agent"])
        #expect(none.status == 1)
        #expect(none.stderr == "callrec: a password for fred is needed: give --password-file FILE (mode 0600) or run at a terminal\n")
        let list = try run(["catalog", "users", "list", "--out", out]).stdout
        #expect(list.contains("dora") && !list.contains("erik") && !list.contains("fred"))
        // passwd at the terminal: the current one, then the new one twice.
        let changed = try CommandRunner.inTerminal(
            [FixturePaths.callrecBinary, "catalog", "users", "passwd", "dora", "--out", out, "--work-factor", "10"],
            answers: ["dora's secret", "dora's new secret", "dora's new secret"])
        #expect(changed.status == 0 && changed.stderr.contains("user dora: password changed (same key)"), "\(changed.stderr)")
    }

    @Test func recordSaysItSealsAndItsLinesHoldNoDigits() throws {
        let folder = FixturePaths.temporaryDirectory("sealed-cli-record")
        let key = folder + "/compliance.key"
        let recipient = try run(["keys", "new", "--out", key]).stdout.trimmingCharacters(in: .newlines)
        let out = folder + "/recordings"
        let capture = FileManager.default.contents(atPath: try Self.capture()).map { [UInt8]($0) } ?? []
        let record = try run(["record", "-", "--out", out, "--recipient", recipient, "--status-interval", "0"], stdin: capture)
        #expect(record.status == 0, "\(record.stderr)")
        #expect(record.stderr.contains("callrec: sealing every recording, its peaks and its index (age v1, .age files) to 1 compliance key"))
        #expect(record.stdout.contains("\"outcome\":\"recorded\"") && record.stdout.contains(".opus.age"))
        #expect(!record.stdout.contains("\"digit\""))
        #expect(try run(["catalog", "verify", "--out", out]).stdout.hasSuffix("intact\n1 recording healthy, nothing to repair\n"))
    }
}
