import CallMedia
import CallrecTestSupport
import Catalog
import Commit
import Foundation
import Keyring
import Sealing
import Testing

/// Who a recording is sealed to, and so who can hear it: the users whose
/// numbers are its parties (the agent), their teams (so the supervisor),
/// and compliance — never an admin for being an admin, never the operator.
@Suite struct RecipientSetTests {
    typealias S = SealedSite

    /// sales: alice (agent, +4681111), bob (supervisor); support: amir (agent,
    /// +46822*), sven (supervisor); sara an admin, olle a supervisor of no team.
    static func site() throws -> SealedSite {
        let site = try SealedSite()
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111"])
        try site.addUser("bob", .supervisor, team: "sales")
        try site.addUser("amir", .agent, team: "support", numbers: ["+46822*"])
        try site.addUser("sven", .supervisor, team: "support")
        try site.addUser("sara", .admin)
        try site.addUser("olle", .supervisor)
        return site
    }

    @Test func anAgentsCallIsSealedToTheAgentTheirTeamAndCompliance() throws {
        let site = try Self.site()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000001", seed: 1)).first)
        let directory = try site.catalog.keyDirectory()
        let alice = try #require(try site.catalog.user(named: "alice")?.recipient)
        let team = try #require(try site.catalog.teamKeys().first { $0.team == "sales" && $0.isCurrent })
        #expect(recording.sealedTo == [site.compliance.recipient.description, alice, team.recipient])
        let all = try site.catalog.files(of: recording.id)
        // The manifest and its signature are in the clear; audio, peaks and index are sealed.
        #expect(all.filter { S.isManifest($0.path) }.allSatisfy { $0.sealedTo == nil } && all.count == 5)
        let files = all.filter { !S.isManifest($0.path) }
        #expect(files.count == 3)  // audio, peaks, index
        for file in files {
            #expect(file.path.hasSuffix(".age"))
            #expect(file.sealedTo == recording.sealedTo)
            #expect(try S.stanzaCount(site.catalog.filePath(file.path)) == 3)
        }
        #expect(directory.describe(recording.sealedTo!) == "alice, team sales #1, 1 other key (compliance)")
    }

    @Test func whoCanHearAnAgentsCall() throws {
        let site = try Self.site()
        let id = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000001", seed: 2)).first?.id)
        func openAs(_ name: String) throws -> OpenedRecording {
            let keys = try site.keys(name)
            return try RecordingAccess.open(
                id: id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
        }
        func refusal(_ name: String) -> String? {
            switch Result(catching: { try openAs(name) }) {
            case .success: return nil
            case .failure(let error as CatalogError): return error.code == .refused ? error.message : "\(error)"
            case .failure(let error): return "\(error)"
            }
        }
        // The agent whose number it is, and the supervisor of her team (through the team key).
        for name in ["alice", "bob"] {
            let opened = try openAs(name)
            #expect(try opened.index().caller == "+4681111", "\(name)")
            #expect(try opened.audio().contentSize > 1000)
        }
        // Another team's agent and supervisor: not their calls.
        #expect(refusal("amir")?.contains("it is not a call of amir's numbers") == true)
        #expect(refusal("sven")?.contains("it is not a call of team support") == true)
        // An admin and a supervisor without a team may see every call's row, but hold no key that opens this one.
        #expect(refusal("sara") == "refused: sara (admin) may not show \(id): sara's keys do not open it (it is sealed to alice, team sales #1, 1 other key (compliance))")
        #expect(refusal("olle")?.contains("olle's keys do not open it") == true)
        // The refusals are in the audit log.
        let refused = try site.catalog.auditLog(by: SealedSite.admin, at: 4).filter { $0.outcome == .refused && $0.target == id }
        #expect(Set(refused.map(\.actor)) == ["amir", "sven", "sara", "olle"])
        // Compliance hears every call.
        let compliance = try RecordingKeys.keyFiles([site.complianceKeyFile])
        let opened = try RecordingAccess.open(id: id, keys: compliance, actor: SealedSite.admin, catalog: site.catalog, action: "export", reason: nil, at: 5)
        #expect(try opened.index().dtmf.isEmpty)
        // The operator without a key: no.
        #expect(throws: CatalogError.self) {
            _ = try RecordingAccess.open(id: id, keys: .none, actor: SealedSite.admin, catalog: site.catalog, action: "export", reason: nil, at: 6)
        }
    }

    @Test func aCallBetweenTwoTeamsIsSealedToBothAgentsAndBothTeams() throws {
        let site = try Self.site()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4682299", seed: 3)).first)
        let holders = try site.catalog.keyDirectory()
        #expect(holders.describe(recording.sealedTo!) == "alice, amir, team sales #1, team support #1, 1 other key (compliance)")
        for name in ["alice", "bob", "amir", "sven"] {
            let keys = try site.keys(name)
            #expect(throws: Never.self) {
                _ = try RecordingAccess.open(id: recording.id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
            }
        }
    }

    @Test func aCallOfNobodysNumberIsSealedToComplianceAlone() throws {
        let site = try Self.site()
        let recording = try #require(try site.convert(try S.call(caller: "+4670000002", callee: "+4670000003", seed: 4)).first)
        #expect(recording.sealedTo == [site.compliance.recipient.description])
        let audio = try #require(try site.catalog.files(of: recording.id).first)
        #expect(try S.stanzaCount(site.catalog.filePath(audio.path)) == 1)
    }

    /// The recipients are decided again at commit, from the catalog as it
    /// stands then: a user added while the call was being written is in.
    @Test func aUserAddedDuringTheCallIsInTheHeaderOfItsRecording() throws {
        let site = try Self.site()
        let capture = try S.call(caller: "+4683333", callee: "+4670000004", seed: 5)
        let recording = try #require(
            try site.convert(capture) { step in
                // The files are written and synced, sealed to compliance alone; then carl joins sales.
                if step == .filesSynced, try site.catalog.user(named: "carl") == nil {
                    try site.addUser("carl", .agent, team: "sales", numbers: ["+4683333"])
                }
            }.first)
        let carl = try #require(try site.catalog.user(named: "carl")?.recipient)
        #expect(recording.sealedTo?.contains(carl) == true)
        #expect(try site.catalog.keyDirectory().describe(recording.sealedTo!) == "carl, team sales #1, 1 other key (compliance)")
        let keys = try site.keys("carl")
        let opened = try RecordingAccess.open(id: recording.id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
        #expect(try opened.index().callee == "+4670000004")
        // Every file got the new header, and the catalog's checksums are of the files as they are now.
        for file in try site.catalog.files(of: recording.id) where !S.isManifest(file.path) {
            let path = site.catalog.filePath(file.path)
            #expect(try S.stanzaCount(path) == 3)
            #expect(try FileDigest.sha256(path: path) == file.sha256)
            #expect(try AgeFileReader(path: path, identities: keys.identities).contentSize > 0)
        }
        #expect(try site.catalog.verify(dryRun: true, importer: nil, by: SealedSite.admin, at: 4).isClean)
    }

    @Test func aTeamKeyChangesWhenItsSupervisorsDo() throws {
        let site = try SealedSite()
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111"])
        #expect(try site.catalog.teamKeys().isEmpty, "no supervisor, no team key")
        #expect(try site.addUser("bob", .supervisor, team: "sales").map(\.description) == ["team sales: key #1 for bob"])
        let early = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000005", seed: 6)).first)
        #expect(try site.addUser("berit", .supervisor, team: "sales").map(\.description) == ["team sales: key #2 for berit, bob"])
        let late = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000006", seed: 7)).first)
        func opens(_ name: String, _ id: String) throws -> Bool {
            let keys = try site.keys(name)
            do {
                _ = try RecordingAccess.open(id: id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
                return true
            } catch let error as CatalogError where error.code == .refused {
                return false
            }
        }
        // bob holds both generations; berit the one made with her, so the calls sealed from then on.
        #expect(try site.keys("bob").names == ["bob", "team sales #1", "team sales #2"])
        #expect(try site.keys("berit").names == ["berit", "team sales #2"])
        #expect(try opens("bob", early.id) && opens("bob", late.id))
        #expect(try !opens("berit", early.id) && opens("berit", late.id))
        // bob leaves the team: his wraps go, and the team's key changes again for those left.
        let moved = try site.catalog.putUser(
            CatalogUser(name: "bob", role: .supervisor, team: "support"), key: nil, teamKeys: TeamKeys(), by: SealedSite.admin, at: 5)
        #expect(moved.map(\.description) == ["team sales: key #3 for berit", "team support: key #1 for bob"])
        #expect(try site.keys("bob").names == ["bob", "team support #1"])
        #expect(try !opens("bob", late.id))
        // The last supervisor leaves: no current team key, calls are sealed to agent and compliance.
        try site.catalog.removeUser(named: "berit", teamKeys: TeamKeys(), by: SealedSite.admin, at: 6)
        #expect(try site.catalog.teamKeys().filter { $0.team == "sales" }.allSatisfy { !$0.isCurrent })
        let alone = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000007", seed: 8)).first)
        #expect(try site.catalog.keyDirectory().describe(alone.sealedTo!) == "alice, 1 other key (compliance)")
    }
}
