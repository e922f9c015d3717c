import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Conversion
import Foundation
import Keyring
import Output
import Sealing
import Testing

/// Sealed recordings end to end: what is on disk, what decrypts, what the
/// catalog keeps, and that erasure, retention, verify and reseal work on them.
@Suite struct SealedRecordingTests {
    typealias S = SealedSite

    /// The real captures in ../shared/data, converted sealed and in the clear
    /// into two sites: every sealed file decrypts to the bytes of the file
    /// written in the clear (Opus coding is deterministic), so the audio is the same.
    @Test func realCapturesConvertSealedAndDecryptToTheSameFiles() throws {
        try #require(FixturePaths.hasSharedData, "../shared/data is missing")
        let folder = FixturePaths.shared("captures")
        let captures = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") || $0.hasSuffix(".rtp") }.sorted()
        #expect(captures.count >= 10)
        var compared = 0
        for name in captures {
            let sealed = try SealedSite()
            let clear = try SealedSite()
            let capture = folder + "/" + name
            let sealedResult = try Converter(options: sealed.options()).convert(path: capture, diagnostics: Diagnostics())
            let clearResult = try Converter(options: clear.options(sealed: false)).convert(path: capture, diagnostics: Diagnostics())
            #expect(sealedResult.recordings.map(\.id) == clearResult.recordings.map(\.id), "\(name)")
            let clearFiles = Set(S.files(clear.out).filter { !$0.hasPrefix("catalog.sqlite") })
            for relative in S.files(sealed.out) where !relative.hasPrefix("catalog.sqlite") {
                #expect(relative.hasSuffix(".age"), "\(name): \(relative) is not sealed")
                let plainName = String(relative.dropLast(4))
                #expect(clearFiles.contains(plainName), "\(name): \(plainName)")
                var opened: [UInt8] = []
                try AgeDecryptor.decrypt(path: sealed.out + "/" + relative, identities: [sealed.compliance]) { opened += $0 }
                var expected = S.read(clear.out + "/" + plainName)
                if plainName.hasSuffix(".json") && !plainName.hasSuffix(".peaks.json") {
                    // The index names its sibling files as they are stored: with .age when sealed.
                    let index = try CallIndex.decode(opened)
                    var plain = try CallIndex.decode(expected)
                    plain.audio = plain.audio.map { $0 + ".age" }
                    plain.audioFiles = plain.audioFiles?.map { $0 + ".age" }
                    plain.peaks = plain.peaks.map { $0 + ".age" }
                    #expect(index == plain, "\(name): \(relative)")
                    expected = opened
                }
                #expect(opened == expected, "\(name): \(relative) decrypts to other bytes than the unsealed file")
                compared += 1
            }
            #expect(S.files(sealed.out).filter { !$0.hasPrefix("catalog.sqlite") }.count == clearFiles.count, "\(name)")
        }
        #expect(compared >= 30)
    }

    /// PCI DSS: with sealing on, DTMF digits are nowhere under OUT but
    /// inside sealed files, and no Ogg page is either.
    @Test func afterASealedConvertNoByteUnderOutHoldsTheDigitsOrAnOggPage() throws {
        let digits: [(UInt8, Double, Double)] = [(7, 0.5, 0.12), (3, 0.8, 0.12), (9, 1.1, 0.12), (1, 1.4, 0.12), (4, 1.7, 0.12), (6, 2.0, 0.12), (2, 2.3, 0.12), (8, 2.6, 0.12)]
        let capture = try S.call(caller: "+4681111", callee: "+4670000010", seed: 11, duration: 4, dtmf: digits)
        let pin = "73914628"
        func scan(_ site: SealedSite) -> (oggPages: Int, digitFields: Int, pin: Bool) {
            var all: [UInt8] = []
            for file in S.files(site.out) { all += S.read(site.out + "/" + file) }
            let text = String(decoding: all, as: UTF8.self)
            return (text.components(separatedBy: "OggS").count - 1, text.components(separatedBy: "\"digit\"").count - 1, text.contains(pin))
        }
        // In the clear, the test sees what it looks for: the index lists the digits, the audio is Ogg.
        let clear = try SealedSite()
        let clearRecording = try #require(try clear.convert(capture, sealed: false).first)
        #expect(clearRecording.index.dtmf.compactMap(\.digit).joined() == pin)
        let found = scan(clear)
        #expect(found.oggPages > 0 && found.digitFields == digits.count)

        let site = try SealedSite()
        try site.addUser("alice", .agent, numbers: ["+4681111"])
        let recording = try #require(try site.convert(capture).first)
        let sealed = scan(site)
        #expect(sealed.oggPages == 0 && sealed.digitFields == 0 && !sealed.pin, "\(sealed)")
        // What is shown outside the files has no digits either; the catalog keeps how many and when.
        let line = String(decoding: try JSONEncoder().encode(recording.clearIndex), as: UTF8.self)
        #expect(!line.contains("\"digit\"") && line.contains("\"sealed\":true") && !line.contains("\"speech\":[["))
        let row = try #require(try site.catalog.recording(id: recording.id))
        #expect(row.dtmfCount == digits.count)
        #expect(row.dtmfTimes?.hasPrefix("[[0,0.5") == true, "\(row.dtmfTimes ?? "nil")")
        // And the digits are there for alice, in the sealed index.
        let keys = try site.keys("alice")
        let opened = try RecordingAccess.open(id: recording.id, keys: keys, actor: .user(keys.user!), catalog: site.catalog, action: "show", reason: nil, at: 3)
        #expect(try opened.index().dtmf.compactMap(\.digit).joined() == pin)
    }

    @Test func erasureAndRetentionRemoveSealedFiles() throws {
        let site = try SealedSite()
        var ids: [String] = []
        for (k, callee) in ["+4670000021", "+4670000022", "+4670000023"].enumerated() {
            ids += try site.convert(try S.call(caller: "+4681111", callee: callee, seed: 20 + UInt64(k))).map(\.id)
        }
        #expect(S.files(site.out).filter { $0.hasSuffix(".age") }.count == 9)
        // delete one, forget a number, purge the last after its retention.
        #expect(try site.catalog.delete(id: ids[0], by: SealedSite.admin, reason: "test", at: 10).erased == [ids[0]])
        #expect(try site.catalog.forget(number: try .parse("+4670000022"), by: SealedSite.admin, reason: "test", at: 11).erased == [ids[1]])
        #expect(S.files(site.out).filter { $0.hasSuffix(".age") }.count == 3)
        let purged = try site.catalog.purge(by: SealedSite.admin, reason: nil, at: 4_000_000_000)
        #expect(purged.erased == [ids[2]])
        #expect(S.files(site.out).filter { !$0.hasPrefix("catalog.sqlite") }.isEmpty)
    }

    @Test func verifyChecksSealedFilesWithoutOpeningThem() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000030", seed: 30)).first)
        #expect(try site.catalog.verify(dryRun: false, importer: CatalogImport.recording, by: SealedSite.admin, at: 1).healthy == 1)
        // One bit of the audio's payload flipped: verify, holding no key, finds it from the checksum.
        let audio = site.catalog.filePath(try site.catalog.files(of: recording.id)[0].path)
        var bytes = S.read(audio)
        bytes[bytes.count - 100] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: audio))
        let report = try site.catalog.verify(dryRun: false, importer: CatalogImport.recording, by: SealedSite.admin, at: 2)
        #expect(report.damaged.map(\.id) == [recording.id])
        // And opening it names the chunk.
        let error = #expect(throws: SealingError.self) {
            try AgeDecryptor.decrypt(path: audio, identities: [site.compliance]) { _ in }
        }
        #expect(error?.code == .payload && error?.chunk == 0)
    }

    /// A sealed recording that lost its row is never removed for want of a
    /// key: verify keeps it, and with the compliance key catalogues it again.
    @Test func aSealedRecordingWithoutARowIsKeptAndCataloguedWithTheKey() throws {
        let site = try SealedSite()
        let recording = try #require(try site.convert(try S.call(caller: "+4681111", callee: "+4670000031", seed: 31)).first)
        let files = try site.catalog.files(of: recording.id)
        try site.catalog.write { db in try db.execute(sql: "DELETE FROM recordings WHERE id = ?", arguments: [recording.id]) }
        let kept = try site.catalog.verify(dryRun: false, importer: CatalogImport.recording, by: SealedSite.admin, at: 1)
        #expect(kept.sealedOrphansKept == [recording.id])
        #expect(kept.orphanFilesRemoved.isEmpty)
        #expect(S.files(site.out).filter { $0.hasSuffix(".age") }.count == 3)
        let imported = try site.catalog.verify(
            dryRun: false, importer: CatalogImport.importer(identities: [site.compliance]), by: SealedSite.admin, at: 2)
        #expect(imported.orphansCatalogued == [recording.id])
        let row = try #require(try site.catalog.recording(id: recording.id))
        #expect(row.caller == "+4681111")
        #expect(try site.catalog.files(of: recording.id).map(\.sha256) == files.map(\.sha256))
        #expect(try site.catalog.files(of: recording.id).filter { !S.isManifest($0.path) }.allSatisfy { $0.sealedTo == [site.compliance.recipient.description] })
    }

    /// A crash while sealing: at every step of the commit, what verify
    /// leaves is the whole sealed recording or nothing, as in the clear.
    @Test(arguments: CommitStep.allCases)
    func aCrashWhileSealingIsRepairedToAllOrNothing(step: CommitStep) throws {
        let site = try SealedSite()
        let image = FixturePaths.temporaryDirectory("sealed-crash")
        let capture = try S.call(caller: "+4681111", callee: "+4670000040", seed: 40)
        let id = try #require(
            try site.convert(capture) { at in
                guard at == step else { return }
                for item in try FileManager.default.contentsOfDirectory(atPath: site.out) where item != "catalog.sqlite-shm" {
                    try FileManager.default.copyItem(atPath: site.out + "/" + item, toPath: image + "/" + item)
                }
            }.first?.id)
        let store = try CatalogStore(path: image + "/catalog.sqlite")
        let report = try store.verify(dryRun: false, importer: CatalogImport.recording, by: SealedSite.admin, at: 1)
        let left = S.files(image).filter { !$0.hasPrefix("catalog.sqlite") }
        if step == .filesSynced {
            #expect(report.temporaryFilesRemoved.count == 3 && report.temporaryFilesRemoved.allSatisfy { $0.hasSuffix(".age.partial") })
            #expect(left.isEmpty)
        } else {
            #expect(try store.allRecordings().map(\.id) == [id])
            #expect(left.count == 3 && left.allSatisfy { $0.hasSuffix(".age") })
            for file in try store.files(of: id) { #expect(try FileDigest.sha256(path: store.filePath(file.path)) == file.sha256) }
        }
        #expect(try store.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 2).isClean)
    }

    /// A writer killed mid-file leaves a temporary sealed file: whole chunks
    /// that open up to the cut, then an error; verify removes it.
    @Test func aFileCutWhileSealingOpensOnlyUpToItsLastWholeChunk() throws {
        let site = try SealedSite()
        let writer = try AgeWriter(recipients: [site.compliance.recipient])
        let file = try AtomicFile(directory: site.out + "/2026/11/29", name: "20261129T081530Z-3f9a1c2e.opus.age", transform: writer)
        let content = (0..<(3 * AgePayload.chunkSize + 10)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try file.write(content)
        // No sync: a crash now. What is on disk is the header and three whole chunks.
        var released: [UInt8] = []
        let error = #expect(throws: SealingError.self) {
            try AgeDecryptor.decrypt(path: file.temporaryPath, identities: [site.compliance]) { released += $0 }
        }
        #expect(released == Array(content.prefix(3 * AgePayload.chunkSize)))
        #expect(error?.description.contains("without a final chunk: it was cut short") == true)
        let report = try site.catalog.verify(dryRun: false, importer: nil, by: SealedSite.admin, at: 1)
        #expect(report.temporaryFilesRemoved == ["2026/11/29/.20261129T081530Z-3f9a1c2e.opus.age.partial"])
        withExtendedLifetime(file) {}
    }
}
