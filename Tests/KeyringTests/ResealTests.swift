import CallrecCore
import CallrecTestSupport
import Catalog
import Evidence
import Foundation
import Keyring
import Output
import Sealing
import Testing

/// `catalog reseal`: a signed recording is resealed under a new manifest
/// its recorder signs (the old one withdrawn as `resealed`), its payloads
/// byte for byte as they were; a crash once the new manifest is signed is
/// finished by verify; without a recorder key it is refused and kept as it
/// was. The catalog's half of an unsigned reseal is settled by verify after
/// a crash half-way.
@Suite struct ResealTests {
    typealias S = SealedSite

    /// The recording's decrypted audio and index, opened with the compliance key.
    static func plaintext(_ site: SealedSite, _ id: String) throws -> [[UInt8]] {
        let opened = try RecordingAccess.open(
            id: id, keys: try RecordingKeys.keyFiles([site.complianceKeyFile]), actor: SealedSite.admin, catalog: site.catalog, action: "export",
            reason: nil, at: 3)
        return try site.catalog.files(of: id).filter(\.isSealed).map { file in
            let source = try opened.content(of: file)
            var bytes = [UInt8](repeating: 0, count: Int(source.contentSize))
            let count = try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
            #expect(count == bytes.count)
            return bytes
        }
    }

    static func signer(_ site: SealedSite) throws -> ManifestSigner {
        ManifestSigner(identity: try RecorderIdentity.open(keyPath: nil, outputDirectory: site.out))
    }

    /// A user added after the call hears it once it is resealed: every sealed
    /// file gets a new header (the payload as it was), the manifest in force
    /// is withdrawn as `resealed` and the next one, signed, names the new
    /// files and the manifest it supersedes; the files on disk, the catalog,
    /// the chain and the audit log all agree (verify and the evidence checks clean).
    @Test func aSignedRecordingIsResealedUnderANewManifest() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000050", seed: 50)).first)
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111"])
        let keys = try site.keys("alice")
        #expect(throws: CatalogError.self) {
            _ = try RecordingAccess.open(id: recording.id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
        }
        let old = try #require(try site.catalog.manifest(of: recording.id))
        let before = try Self.plaintext(site, recording.id)
        let outcome = try Reseal.reseal(
            id: recording.id, identities: [site.compliance], catalog: site.catalog, signer: try Self.signer(site), by: SealedSite.admin,
            reason: "alice joined", at: 4)
        #expect(outcome.files == 3 && outcome.added.map(\.description).contains("alice"), "\(outcome)")
        // alice hears it now; the payloads are what they were.
        #expect(throws: Never.self) {
            _ = try RecordingAccess.open(id: recording.id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 5)
        }
        #expect(try Self.plaintext(site, recording.id) == before)
        // The chain: the old manifest withdrawn as resealed, the new one in force, superseding it.
        let manifests = try site.catalog.manifests(of: recording.id)
        #expect(manifests.count == 2)
        #expect(manifests[0].sequence == old.sequence && manifests[0].withdrawnAs == "resealed" && manifests[0].body == nil)
        let now = try #require(try site.catalog.manifest(of: recording.id))
        #expect(now.sequence == old.sequence + 1 && now.previousSHA256 == old.sha256)
        let nowBody = try #require(now.body)
        let parsed = try #require(RecordingManifest(parsing: nowBody))
        #expect(parsed.supersedes == .init(recorder: old.recorderID, sequence: old.sequence, sha256: old.sha256))
        // It names the files as they are now, and is on disk beside them.
        let files = try site.catalog.files(of: recording.id)
        for file in files where file.isSealed {
            let signed = try #require(parsed.files.first { file.path.hasSuffix("/" + $0.name) })
            let onDisk = try FileDigest.sha256(path: site.catalog.filePath(file.path))
            #expect(signed.sha256 == file.sha256 && signed.sha256 == onDisk)
        }
        let json = try #require(files.first { $0.path.hasSuffix(".manifest.json") })
        let sig = try #require(files.first { $0.path.hasSuffix(".manifest.sig") })
        #expect(S.read(site.catalog.filePath(json.path)) == now.body && json.sha256 == now.sha256)
        #expect(S.read(site.catalog.filePath(sig.path)) == now.signature)
        #expect(try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 6).isClean)
        let evidence = try EvidenceVerifier(catalog: site.catalog).verify()
        #expect(evidence.isClean, "\(evidence.findings)")
        let entry = try #require(try site.catalog.auditLog(by: SealedSite.admin, at: 7).last { $0.action == "reseal" })
        #expect(entry.outcome == .done && entry.detail?.contains("supersedes \(old.recorderID)#\(old.sequence)") == true, "\(entry)")
        #expect(S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty)
        // Again: nothing to add, nothing changes.
        let again = try Reseal.reseal(
            id: recording.id, identities: [site.compliance], catalog: site.catalog, signer: try Self.signer(site), by: SealedSite.admin,
            reason: nil, at: 8)
        #expect(again.added.isEmpty)
        #expect(try site.catalog.manifests(of: recording.id).count == 2)
    }

    /// A crash once the new manifest is signed — before any file was renamed,
    /// or after the first — is finished by verify: every file gets its new
    /// bytes (from the synced temporary copies; the manifest's from the
    /// catalog), nothing is marked damaged, and the evidence checks are clean.
    @Test(arguments: [Reseal.Step.manifestSigned, .firstFileRenamed])
    func aSignedResealCutShortIsFinishedByVerify(_ step: Reseal.Step) throws {
        struct Crash: Error {}
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000051", seed: 51)).first)
        try site.addUser("alice", .agent, numbers: ["+4681111"])
        let before = try Self.plaintext(site, recording.id)
        #expect(throws: CatalogError.self) {
            _ = try Reseal.reseal(
                id: recording.id, identities: [site.compliance], catalog: site.catalog, signer: try Self.signer(site), by: SealedSite.admin,
                reason: "alice joined", at: 4, afterStep: { if $0 == step { throw Crash() } })
        }
        #expect(!S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty, "the temporary files are kept for verify")
        let report = try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 5)
        #expect(report.damaged.isEmpty, "\(report.damaged)")
        #expect(report.resealsSettled.count == 5, "three sealed files and the manifest's two: \(report.resealsSettled)")
        #expect(S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty)
        #expect(try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 6).isClean)
        let evidence = try EvidenceVerifier(catalog: site.catalog).verify()
        #expect(evidence.isClean, "\(evidence.findings)")
        let keys = try site.keys("alice")
        #expect(throws: Never.self) {
            _ = try RecordingAccess.open(id: recording.id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 7)
        }
        #expect(try Self.plaintext(site, recording.id) == before)
        let now = try #require(try site.catalog.manifest(of: recording.id))
        let json = try #require(try site.catalog.files(of: recording.id).first { $0.path.hasSuffix(".manifest.json") })
        #expect(S.read(site.catalog.filePath(json.path)) == now.body)
    }

    /// Without a recorder key to sign the new manifest, a signed recording is
    /// not resealed: the refusal is audited and every file stays byte for
    /// byte as it was.
    @Test func aSignedRecordingWithoutASignerIsRefusedAndKeptAsItWas() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000053", seed: 53)).first)
        try site.addUser("alice", .agent, team: "sales", numbers: ["+4681111"])
        let before = try site.catalog.files(of: recording.id)
        let bytes = before.map { S.read(site.catalog.filePath($0.path)) }
        #expect(try site.catalog.manifest(of: recording.id) != nil)
        let error = #expect(throws: CatalogError.self) {
            _ = try Reseal.reseal(
                id: recording.id, identities: [site.compliance], catalog: site.catalog, by: SealedSite.admin, reason: "alice joined", at: 4)
        }
        #expect(error?.code == .refused)
        #expect(error?.message.contains("no recorder key was given to sign it") == true, "\(String(describing: error))")
        #expect(try site.catalog.files(of: recording.id) == before)
        #expect(before.map { S.read(site.catalog.filePath($0.path)) } == bytes)
        let entry = try #require(try site.catalog.auditLog(by: SealedSite.admin, at: 6).last { $0.action == "reseal" })
        #expect(entry.target == recording.id && entry.outcome == .refused && entry.reason == "alice joined")
        #expect(S.files(site.out).filter { $0.hasSuffix(".partial") }.isEmpty)
        // A key that does not open it changes nothing either; an agent may not reseal at all.
        #expect(throws: (any Error).self) {
            _ = try Reseal.reseal(
                id: recording.id, identities: [X25519Identity()], catalog: site.catalog, signer: try Self.signer(site), by: SealedSite.admin,
                reason: nil, at: 7)
        }
        #expect(try site.catalog.files(of: recording.id) == before)
        #expect(try site.catalog.manifests(of: recording.id).count == 1)
        let alice = try #require(try site.catalog.user(named: "alice"))
        #expect(throws: CatalogError.self) {
            _ = try Reseal.reseal(
                id: recording.id, identities: [site.compliance], catalog: site.catalog, signer: try Self.signer(site), by: .user(alice), reason: nil,
                at: 8)
        }
    }

    /// A crash after the first file was renamed over its old self and before
    /// the catalog took the new checksums: verify settles each file by what
    /// is on disk, and nothing is marked damaged (the catalog's half of an
    /// unsigned reseal — a recording catalogued before manifests —, driven
    /// by hand on a generated recording).
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
