import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// `catalog rules add --on-demand`, `catalog keep`, `catalog discard` and
/// `catalog users disable` as a user runs them, on recordings convert wrote.
@Suite struct OnDemandCLITests {
    static let u = FixturePaths.fixture("g711u-2legs-20ms.pcap")  // +4681234567 -> +4687654321
    static let a = FixturePaths.fixture("g711a-2legs-20ms.pcap")  // +4631555010 -> +4631555020

    func run(_ arguments: [String]) throws -> CommandRunner.Run { try CommandRunner.callrec(arguments) }

    func found(_ at: [String]) throws -> [[String: Any]] {
        let find = try run(["catalog", "find"] + at + ["--json"])
        #expect(find.status == 0, "\(find.stderr)")
        return try JSONSerialization.jsonObject(with: Data(find.stdout.utf8)) as? [[String: Any]] ?? []
    }

    @Test(arguments: CatalogBackend.all)
    func keepDiscardAndDisableAsTheCommandsDoThem(backend: CatalogBackend) throws {
        let (_, at) = try catalogPlace(backend, "cli-on-demand")
        // The fixtures are of 2026-11-18: thirty days to keep them in.
        let rule = try run(["catalog", "rules", "add", "--record", "--local", "+468*", "--on-demand", "30d", "--retain", "12m"] + at)
        #expect(rule.status == 0 && rule.stdout.contains("on demand 30d retain 12m"), "\(rule.stderr)")
        #expect(try run(["catalog", "rules", "add", "--skip", "--on-demand", "1d"] + at).status == 1)
        #expect(try run(["convert", Self.u, Self.a] + at).status == 0)
        let all = try found(at)
        let u = try #require(all.first { $0["caller"] as? String == "+4681234567" }), a = try #require(all.first { $0["caller"] as? String == "+4631555010" })
        let uid = u["id"] as! String, aid = a["id"] as! String
        #expect(u["on_demand"] as? Bool == true && a["on_demand"] as? Bool == false)
        let password = FixturePaths.temporaryDirectory("password") + "/pw"
        _ = FileManager.default.createFile(atPath: password, contents: Data("a password\n".utf8), attributes: [.posixPermissions: 0o600])
        for (name, number) in [("alice", "+4681234567"), ("bob", "+4631555010")] {
            let add = try run(["catalog", "users", "add", name, "--role", "agent", "--number", number, "--password-file", password, "--work-factor", "10"] + at)
            #expect(add.status == 0, "\(add.stderr)")
        }
        let kept = try run(["catalog", "keep", uid, "--as", "alice", "--reason", "a complaint"] + at)
        #expect(kept.status == 0 && kept.stdout.hasPrefix("\(uid): kept, retained until 2027-11-18T"), "\(kept.stdout)\(kept.stderr)")
        #expect(try run(["catalog", "keep", uid, "--as", "alice"] + at).stderr.contains("kept already (by alice"))
        #expect(try run(["catalog", "keep", aid, "--as", "bob"] + at).stderr.contains("it was not recorded on demand"))
        #expect(try run(["catalog", "keep", aid, "--as", "alice"] + at).stderr.hasPrefix("callrec: refused: alice (agent) may not keep"))
        let after = try #require(try found(at).first { $0["id"] as? String == uid })
        #expect(after["on_demand"] as? Bool == false && after["kept_by"] as? String == "alice")
        // Her own call under a hold: refused; his own: deleted.
        #expect(try run(["catalog", "hold", uid, "--reason", "case 17"] + at).status == 0)
        let held = try run(["catalog", "discard", uid, "--as", "alice", "--reason", "private"] + at)
        #expect(held.status == 1 && held.stderr.contains("legal hold"))
        let gone = try run(["catalog", "discard", aid, "--as", "bob", "--reason", "a private call"] + at)
        #expect(gone.status == 0 && gone.stdout.hasPrefix("deleted \(aid)\n"), "\(gone.stderr)")
        #expect(try found(at).map { $0["id"] as? String } == [uid])
        // Disabled: kept, but acts nowhere until enabled.
        #expect(try run(["catalog", "users", "disable", "alice", "--reason", "left"] + at).stdout == "user alice disabled\n")
        #expect(try run(["catalog", "users", "list"] + at).stdout.contains("alice             agent       DISABLED"))
        let refused = try run(["catalog", "find", "--as", "alice"] + at)
        #expect(refused.status == 1 && refused.stderr.contains("the user is disabled"))
        #expect(try run(["catalog", "users", "enable", "alice"] + at).status == 0)
        #expect(try run(["catalog", "find", "--as", "alice"] + at).status == 0)
        let audit = try run(["catalog", "audit", "--action", "keep", "--json"] + at)
        let entries = try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(entries.count == 4 && entries.allSatisfy { $0["action"] as? String == "keep" })
        #expect(entries.filter { $0["outcome"] as? String == "done" }.count == 1)
        let none = try run(["catalog", "audit", "--action", "keep", "--until", "2020-01-01"] + at)
        #expect(none.stdout.hasSuffix("0 entries\n"))
    }
}
