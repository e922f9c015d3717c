import CallrecTestSupport
import Catalog
import Foundation
import Keyring
import Output
import Sealing
import Testing

/// `catalog reseal`: a signed recording is refused and kept byte for byte;
/// the catalog's half of a reseal (next checksums, then the renames) is
/// settled by verify after a crash half-way.
@Suite struct ResealTests {
    typealias S = SealedSite

    /// A recording its recorder signed is not resealed: its manifest names
    /// each file's SHA-256, which a new header would change. The refusal is
    /// audited and every file stays byte for byte as it was.
    @Test func aSignedRecordingIsRefusedAndKeptAsItWas() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000050", seed: 50)).first)
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111"])
        let before = try site.catalog.files(of: recording.id)
        let bytes = before.map { S.read(site.catalog.filePath($0.path)) }
        #expect(try site.catalog.manifest(of: recording.id) != nil)
        let error = #expect(throws: CatalogError.self) {
            _ = try Reseal.reseal(
                id: recording.id, identities: [site.compliance], catalog: site.catalog, by: SealedSite.admin, reason: "alice joined", at: 4)
        }
        #expect(error?.code == .refused)
        #expect(error?.message.contains("its files are signed as they are") == true, "\(String(describing: error))")
        #expect(try site.catalog.files(of: recording.id) == before)
        #expect(before.map { S.read(site.catalog.filePath($0.path)) } == bytes)
        let entry = try #require(try site.catalog.auditLog(by: SealedSite.admin, at: 6).last { $0.action == "reseal" })
        #expect(entry.target == recording.id && entry.outcome == .refused && entry.reason == "alice joined")
        #expect(S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty)
        // A key that does not open it changes nothing either; an agent may not reseal at all.
        #expect(throws: (any Error).self) {
            _ = try Reseal.reseal(id: recording.id, identities: [X25519Identity()], catalog: site.catalog, by: SealedSite.admin, reason: nil, at: 7)
        }
        #expect(try site.catalog.files(of: recording.id) == before)
        let alice = try #require(try site.catalog.user(named: "alice"))
        #expect(throws: CatalogError.self) {
            _ = try Reseal.reseal(id: recording.id, identities: [site.compliance], catalog: site.catalog, by: .user(alice), reason: nil, at: 8)
        }
    }

    /// A crash after the first file was renamed over its old self and before
    /// the catalog took the new checksums: verify settles each file by what
    /// is on disk, and nothing is marked damaged (the catalog's half of a
    /// reseal, driven by hand: `Reseal` itself refuses signed recordings).
    @Test func anInterruptedResealIsSettledByVerify() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000052", seed: 52)).first)
        try site.addUser("alice", .agent, numbers: ["+4681111"])
        let files = try site.catalog.files(of: recording.id).filter(\.isSealed)
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
        let settled = try site.catalog.files(of: recording.id).filter(\.isSealed)
        #expect(settled[0].sealedTo == (files[0].sealedTo ?? []) + [alice] && settled[0].sha256 == next[0].sha256)
        #expect(settled[1] == files[1])
        #expect(try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 3).isClean)
        withExtendedLifetime(temporaries) {}
    }
}
