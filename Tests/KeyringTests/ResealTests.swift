import CallrecTestSupport
import Catalog
import Foundation
import Keyring
import Output
import Sealing
import Testing

/// `catalog reseal`: a user added later hears older calls once the
/// compliance key adds them; the header changes, the payload stays byte for
/// byte, the catalog's checksums follow, and a crash half-way is settled.
@Suite struct ResealTests {
    typealias S = SealedSite

    /// The payload of an age file: everything after the header's MAC line.
    static func payload(_ bytes: [UInt8]) -> [UInt8] {
        let text = Array("\n--- ".utf8)
        var i = 0
        while i + text.count <= bytes.count, !bytes[i..<(i + text.count)].elementsEqual(text) { i += 1 }
        let end = bytes[(i + 1)...].firstIndex(of: 0x0A)!
        return Array(bytes[(end + 1)...])
    }

    @Test func aUserAddedLaterHearsAnOlderCallOnceResealed() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000050", seed: 50)).first)
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111"])
        try site.addUser("bob", .supervisor, team: "sales")
        let alice = try site.keys("alice")
        func open() throws -> OpenedRecording {
            try RecordingAccess.open(id: recording.id, keys: alice, actor: .user(alice.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
        }
        #expect(throws: CatalogError.self) { _ = try open() }
        let before = try site.catalog.files(of: recording.id).map { S.read(site.catalog.filePath($0.path)) }

        let outcome = try Reseal.reseal(
            id: recording.id, identities: [site.compliance], catalog: site.catalog, by: SealedSite.admin, reason: "alice joined", at: 4)
        #expect(outcome.added.map(\.description) == ["alice", "team sales #1"])
        #expect(outcome.files == 3)
        #expect(try open().index().caller == "+4681111")
        let bob = try site.keys("bob")
        _ = try RecordingAccess.open(id: recording.id, keys: bob, actor: .user(bob.user!), catalog: site.catalog, action: "show", reason: nil, at: 5)

        let files = try site.catalog.files(of: recording.id)
        // alice is an agent: the team key is bob's to hold, not hers.
        let team = try #require(try site.catalog.teamKeys().first { $0.team == "sales" && $0.isCurrent })
        #expect(alice.identities.count == 1)
        for (file, old) in zip(files, before) {
            let now = S.read(site.catalog.filePath(file.path))
            #expect(Self.payload(now) == Self.payload(old), "\(file.path): the payload must not change")
            #expect(now.count == old.count + 2 * 98, "two X25519 stanzas of 98 bytes each")
            #expect(file.sha256 == FileDigest.sha256(bytes: now))
            #expect(file.bytes == Int64(now.count))
            #expect(file.sealedTo == [site.compliance.recipient.description, alice.identities[0].recipient.description, team.recipient])
        }
        let row = try #require(try site.catalog.recording(id: recording.id))
        #expect(row.audioSHA256 == files[0].sha256 && row.audioBytes == files[0].bytes)
        let entry = try #require(try site.catalog.auditLog(by: SealedSite.admin, at: 6).last { $0.action == "reseal" })
        #expect(entry.target == recording.id && entry.reason == "alice joined")
        #expect(entry.detail == "added alice, team sales #1 to 3 files (headers only; payloads unchanged)")
        #expect(try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 7).healthy == 1)
        // Again: nothing to add.
        #expect(try Reseal.reseal(id: recording.id, identities: [site.compliance], catalog: site.catalog, by: SealedSite.admin, reason: nil, at: 8).added.isEmpty)
        #expect(S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty)
    }

    @Test func resealNeedsAKeyThatOpensTheFiles() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000051", seed: 51)).first)
        try site.addUser("alice", .agent, numbers: ["+4681111"])
        let before = try site.catalog.files(of: recording.id)
        let error = #expect(throws: SealingError.self) {
            _ = try Reseal.reseal(id: recording.id, identities: [X25519Identity()], catalog: site.catalog, by: SealedSite.admin, reason: nil, at: 2)
        }
        #expect(error?.code == .noMatch)
        #expect(try site.catalog.files(of: recording.id) == before)
        #expect(S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty)
        // An agent may not reseal, whatever key they hold.
        let alice = try #require(try site.catalog.user(named: "alice"))
        #expect(throws: CatalogError.self) {
            _ = try Reseal.reseal(id: recording.id, identities: [site.compliance], catalog: site.catalog, by: .user(alice), reason: nil, at: 3)
        }
    }

    /// A crash after the first file was renamed over its old self and before
    /// the catalog took the new checksums: verify settles each file by what
    /// is on disk, and nothing is marked damaged.
    @Test func anInterruptedResealIsSettledByVerify() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000052", seed: 52)).first)
        try site.addUser("alice", .agent, numbers: ["+4681111"])
        let files = try site.catalog.files(of: recording.id)
        let alice = try #require(try site.catalog.user(named: "alice")?.recipient)
        // Steps 1-3 by hand for two of the three files, the second's rename not done.
        var next: [CatalogStore.ResealedFile] = []
        var temporaries: [AtomicFile] = []
        for file in files.prefix(2) {
            let path = site.catalog.filePath(file.path)
            let temporary = try AtomicFile(path: path)
            try AgeRewrap.addingRecipients([try X25519Recipient(alice)], toFileAt: path, identities: [site.compliance]) { try temporary.write($0) }
            try temporary.sync()
            next.append(.init(position: file.position, sha256: try FileDigest.sha256(path: temporary.temporaryPath), bytes: temporary.size, sealedTo: (file.sealedTo ?? []) + [alice]))
            temporaries.append(temporary)
        }
        try site.catalog.beginReseal(id: recording.id, files: next)
        try temporaries[0].replace()
        // The crash: the second file's temporary copy stays, unrenamed.
        let report = try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 2)
        #expect(report.damaged.isEmpty)
        #expect(report.resealsSettled.count == 2)
        #expect(report.temporaryFilesRemoved.count == 1)
        let settled = try site.catalog.files(of: recording.id)
        #expect(settled[0].sealedTo == (files[0].sealedTo ?? []) + [alice] && settled[0].sha256 == next[0].sha256)
        #expect(settled[1] == files[1])
        #expect(try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 3).isClean)
        // Reseal again finishes the job for the files that still lack alice.
        let outcome = try Reseal.reseal(id: recording.id, identities: [site.compliance], catalog: site.catalog, by: SealedSite.admin, reason: nil, at: 4)
        #expect(outcome.files == 2)
        #expect(try site.catalog.files(of: recording.id).allSatisfy { $0.sealedTo?.contains(alice) == true })
        withExtendedLifetime(temporaries) {}
    }
}
