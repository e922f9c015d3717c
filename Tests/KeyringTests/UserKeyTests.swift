import CallrecTestSupport
import Catalog
import Foundation
import Keyring
import Sealing
import Testing

/// Users' keys and passwords: one password per user opens their personal
/// key (and so the team keys wrapped for it); a wrong one is an audited
/// refusal; a password change keeps the key; nothing in the catalog opens a
/// key without the password.
@Suite struct UserKeyTests {
    typealias S = SealedSite

    @Test func aWrongPasswordIsOneLineAndAnAuditedRefusal() throws {
        let site = try SealedSite()
        try site.addUser("alice", .agent, numbers: ["+4681111"])
        let error = #expect(throws: CatalogError.self) {
            _ = try UserKeys.unlock("alice", password: try Passphrase("not her password"), catalog: site.catalog, action: "show", target: "20261129T081530Z-3f9a1c2e", at: 7)
        }
        #expect(error?.code == .refused)
        #expect(error?.message == "refused: alice (agent) may not show 20261129T081530Z-3f9a1c2e: wrong password")
        let entry = try #require(try site.catalog.auditLog(by: SealedSite.admin, at: 8).last)
        #expect(entry.actor == "alice" && entry.action == "show" && entry.outcome == .refused && entry.detail == "wrong password")
        #expect(try site.keys("alice").identities.count == 1)
    }

    @Test func theCatalogHoldsPublicKeysAndPasswordSealedKeysOnly() throws {
        let site = try SealedSite()
        try site.addUser("bob", .supervisor, team: "sales")
        let stored = try #require(try site.catalog.userKey(of: "bob"))
        // The wrapped key is an age file with one scrypt stanza (what `age -d` asks a passphrase for).
        let text = String(decoding: stored.wrapped.prefix(80), as: UTF8.self)
        #expect(text.hasPrefix("age-encryption.org/v1\n-> scrypt "))
        #expect(!String(decoding: stored.wrapped, as: UTF8.self).contains("AGE-SECRET-KEY-"))
        let opened = try X25519Identity(unsealing: stored.wrapped, with: [ScryptIdentity(passphrase: try Passphrase("bob-password"))])
        #expect(opened.recipient.description == stored.recipient)
        // The reference tool opens it with the password too, and gives back an identity file that opens bob's recordings.
        let wrappedFile = try TemporaryFile.write(stored.wrapped)
        let byAge = try CommandRunner.inTerminal(["age", "-d", wrappedFile], answers: ["bob-password"], prompts: ["passphrase"])
        #expect(byAge.status == 0, "\(byAge.stderr)")
        #expect(byAge.stderr.contains("# public key: \(stored.recipient)") && byAge.stderr.contains("AGE-SECRET-KEY-1"))
        // The team key is sealed to bob's personal key, not to anything the catalog holds.
        let wrap = try #require(try site.catalog.teamKeyWraps(of: "bob").first)
        #expect(wrap.recipient == stored.recipient)
        #expect(throws: SealingError.self) { _ = try X25519Identity(unsealing: wrap.wrapped, with: [X25519Identity()]) }
        let team = try X25519Identity(unsealing: wrap.wrapped, with: [opened])
        #expect(try site.catalog.teamKeys().first?.recipient == team.recipient.description)
        // Nothing in the catalog file spells out a private key.
        let database = SealedSite.read(site.out + "/catalog.sqlite") + SealedSite.read(site.out + "/catalog.sqlite-wal")
        #expect(!String(decoding: database, as: UTF8.self).contains("AGE-SECRET-KEY-"))
    }

    @Test func aPasswordChangeKeepsTheKeyAndAResetMakesANewOne() throws {
        let site = try SealedSite()
        try site.addUser("bob", .supervisor, team: "sales")
        let before = try #require(try site.catalog.userKey(of: "bob")?.recipient)
        try UserKeys.changePassword(
            "bob", from: try Passphrase("bob-password"), to: try Passphrase("a new one for bob"), workFactor: S.workFactor,
            catalog: site.catalog, by: SealedSite.admin, at: 3)
        #expect(try site.catalog.userKey(of: "bob")?.recipient == before)
        #expect(throws: CatalogError.self) {
            _ = try UserKeys.unlock("bob", password: try Passphrase("bob-password"), catalog: site.catalog, action: "show", target: nil, at: 4)
        }
        let keys = try UserKeys.unlock("bob", password: try Passphrase("a new one for bob"), catalog: site.catalog, action: "show", target: nil, at: 4)
        #expect(keys.names == ["bob", "team sales #1"], "the team key stays his")
        // A wrong old password changes nothing.
        #expect(throws: CatalogError.self) {
            try UserKeys.changePassword(
                "bob", from: try Passphrase("guess guess"), to: try Passphrase("mallory's choice"), workFactor: S.workFactor,
                catalog: site.catalog, by: SealedSite.admin, at: 5)
        }
        // A reset (the password was lost) is a new key; the team gets a key for it.
        let (key, changes) = try UserKeys.resetKey(
            "bob", password: try Passphrase("bob starts over"), workFactor: S.workFactor, catalog: site.catalog, by: SealedSite.admin, at: 6)
        #expect(key.recipient != before)
        #expect(changes.map(\.description) == ["team sales: key #2 for bob"])
        let fresh = try UserKeys.unlock("bob", password: try Passphrase("bob starts over"), catalog: site.catalog, action: "show", target: nil, at: 7)
        #expect(fresh.names == ["bob", "team sales #2"])
        // Only an admin resets.
        let alice = CatalogUser(name: "alice", role: .agent)
        #expect(throws: CatalogError.self) {
            try UserKeys.resetKey("bob", password: try Passphrase("alice was here"), workFactor: S.workFactor, catalog: site.catalog, by: .user(alice), at: 8)
        }
    }

    @Test func newPasswordsAreAtLeastEightCharacters() throws {
        #expect(throws: CatalogError.self) { _ = try UserKeys.checkNewPassword("short") }
        _ = try UserKeys.checkNewPassword("long enough")
    }

    @Test func theRecipientSetComesFromNumbersAndTeams() throws {
        let site = try SealedSite()
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111", "+46812*"])
        try site.addUser("bob", .supervisor, team: "sales", numbers: ["+4689999"])
        try site.addUser("sara", .admin)
        let directory = try site.catalog.keyDirectory()
        #expect(directory.holders(caller: "+4681234", callee: nil).map(\.description) == ["alice", "team sales #1"])
        #expect(directory.holders(caller: "+4670", callee: "+4689999").map(\.description) == ["bob", "team sales #1"])
        #expect(directory.holders(caller: "+4681111", callee: "+4689999").map(\.description) == ["alice", "bob", "team sales #1"])
        #expect(directory.holders(caller: nil, callee: nil).isEmpty)
        #expect(directory.holders(caller: "+4670", callee: "+4671").isEmpty)
    }
}
