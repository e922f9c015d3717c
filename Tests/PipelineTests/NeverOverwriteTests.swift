import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Conversion
import Evidence
import Foundation
import Testing

/// A recording is never replaced: the same call seen again (a capture
/// converted twice, a second probe's shorter copy, overlapping capture
/// files) is recognised and reported, and the recording there is kept byte
/// for byte; a different call whose id would be the same gets its own.
@Suite struct NeverOverwriteTests {
    static let admin = CatalogActor.operator("test")

    /// The bytes of every file of every recording in `out`, by catalogued path.
    static func snapshot(_ out: String) throws -> [String: Data] {
        let store = try CatalogStore(path: out + "/catalog.sqlite")
        var files: [String: Data] = [:]
        for row in try store.allRecordings() {
            for file in try store.files(of: row.id) {
                files[file.path] = try Data(contentsOf: URL(fileURLWithPath: out + "/" + file.path))
            }
        }
        return files
    }

    /// Converts each capture in turn with one converter (one run).
    static func convert(_ captures: [[UInt8]], into out: String) throws -> (recordings: [RecordingSummary], diagnostics: Diagnostics) {
        let converter = try Converter(options: ConvertOptions(outputDirectory: out))
        let diagnostics = Diagnostics()
        var recordings: [RecordingSummary] = []
        for capture in captures {
            let result = converter.convert(path: try TemporaryFile.write(capture), diagnostics: diagnostics)
            #expect(result.error == nil)
            recordings += result.recordings
        }
        return (recordings, diagnostics)
    }

    static func verifiedClean(_ out: String) throws -> Bool {
        try CatalogStore(path: out + "/catalog.sqlite").verify(dryRun: true, importer: nil, by: admin, at: 0).isClean
    }

    static func call(signalled: Bool) -> SyntheticCall {
        var call = SyntheticCall()
        call.duration = 12
        call.start = MediaTime(seconds: 1_795_000_000, microseconds: 300_000)
        call.signalled = signalled
        call.seed = 21
        return call
    }

    /// A 12 s call, then the first 7 s of the same capture (a probe that
    /// stopped early), converted into the same folder in two runs: the second
    /// writes nothing, says so, and the first recording is untouched.
    @Test(arguments: [true, false])
    func theSameCallSeenAgainIsReportedAndKept(signalled: Bool) throws {
        let generated = Self.call(signalled: signalled).build()
        let cutAt = Int64(generated.callerFirstPacket.seconds + 7) * 1_000_000
        let shorter = PcapMerge.split(generated.pcap, at: cutAt).head
        let out = FixturePaths.temporaryDirectory("callrec-never-overwrite")

        let first = try Self.convert([generated.pcap], into: out)
        let kept = try #require(first.recordings.first)
        #expect(first.recordings.count == 1)
        let before = try Self.snapshot(out)

        let again = try Self.convert([shorter], into: out)
        #expect(again.recordings.isEmpty)
        #expect(again.diagnostics[.callsAlreadyRecorded] == 1)
        #expect(again.diagnostics.notes.contains { $0.contains(kept.id) }, "\(again.diagnostics.notes)")
        // The recording there is the 12 s one, files and row as they were.
        let rows = try CatalogStore(path: out + "/catalog.sqlite").allRecordings()
        #expect(rows.map(\.id) == [kept.id])
        #expect(abs((rows.first?.durationS ?? 0) - kept.index.durationS) < 0.001 && kept.index.durationS > 11)
        #expect(try Self.snapshot(out) == before)
        // No temporary file of the refused copy is left behind, and verify finds nothing to mend.
        let left = FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []
        #expect(left.filter { $0.hasSuffix(".partial") }.isEmpty, "\(left)")
        #expect(try Self.verifiedClean(out))
    }

    /// The same stream in two overlapping capture files, read in one run: the
    /// second probe started 3 s later (so the call starts in another second
    /// and its id differs), yet it is the same call: one recording, one report.
    @Test func overlappingCapturesInOneRunGiveOneRecording() throws {
        let call = Self.call(signalled: false)
        let generated = call.build()
        // The later probe's first packet is the caller's, as the first probe's was
        // (the stream captured first names an unsignalled call).
        let from = Int64((generated.callerFirstPacket.seconds + 3) * 1_000_000)
        let cut = try #require(
            PcapMerge.records(generated.pcap).first { record in
                let udpSource = record.bytes.startIndex + 16 + 14 + 20
                return record.microseconds >= from
                    && UInt16(record.bytes[udpSource]) << 8 | UInt16(record.bytes[udpSource + 1]) == call.callerMedia.port
            })
        let laterProbe = PcapMerge.split(generated.pcap, at: cut.microseconds).tail
        let out = FixturePaths.temporaryDirectory("callrec-never-overwrite")
        let run = try Self.convert([generated.pcap, [UInt8](generated.pcap.prefix(24)) + laterProbe], into: out)
        #expect(run.recordings.count == 1)
        #expect(run.diagnostics[.callsAlreadyRecorded] == 1)
        #expect(run.diagnostics.notes.contains { $0.contains("recorded already as \(run.recordings.first?.id ?? "?")") }, "\(run.diagnostics.notes)")
        #expect(try CatalogStore(path: out + "/catalog.sqlite").allRecordings().count == 1)
        #expect(try Self.verifiedClean(out))
    }

    /// Two different calls starting in the same second whose Call-IDs hash
    /// alike (FNV-1a 32: `call-46469@…` and `call-253384@…` both give
    /// b8d04afa), so both would take one id: each is kept under its own, in
    /// one capture (both in flight together) and in two runs (the second
    /// finds the first in the catalog).
    @Test func differentCallsWithTheSameIdEachKeepTheirOwn() throws {
        let ids = ["call-46469@pbx.example.com", "call-253384@pbx.example.com"]
        #expect(StableHash.fnv1a32(ids[0].utf8) == StableHash.fnv1a32(ids[1].utf8))
        var calls: [SyntheticCall.Output] = []
        for (n, callID) in ids.enumerated() {
            var call = Self.call(signalled: true)
            call.callID = callID
            call.seed = 30 + UInt64(n)
            call.callerNumber = "+468123450\(n)"
            call.callerMedia.port = 40_000 + 2 * UInt16(n)
            call.calleeMedia.port = 50_000 + 2 * UInt16(n)
            calls.append(call.build())
        }
        for together in [true, false] {
            let out = FixturePaths.temporaryDirectory("callrec-never-overwrite")
            let run = try Self.convert(together ? [PcapMerge.merge(calls.map(\.pcap))] : calls.map(\.pcap), into: out)
            #expect(run.recordings.count == 2)
            #expect(run.diagnostics[.callsAlreadyRecorded] == 0)
            let recorded = run.recordings.sorted { $0.id < $1.id }
            let base = try #require(recorded.first?.id)
            #expect(recorded.map(\.id) == [base, base + "-2"])
            #expect(Set(recorded.map(\.index.callID)) == Set(ids))
            let rows = try CatalogStore(path: out + "/catalog.sqlite").allRecordings()
            #expect(Set(rows.map(\.caller)) == ["+4681234500", "+4681234501"])
            // Each recording is the files its manifest signs (audio, peaks, index)
            // and the manifest and its signature.
            let store = try CatalogStore(path: out + "/catalog.sqlite")
            let perRecording = try recorded.map { summary in
                let body = try #require(try store.manifest(of: summary.id)?.body)
                return try #require(ManifestFacts(body)).files.count + 2
            }
            #expect(try Self.snapshot(out).count == perRecording.reduce(0, +))
            #expect(try Self.verifiedClean(out))
        }
    }

    /// The claims themselves: a call's own id comes back; another call's is passed over.
    @Test func recordingIDsPassOverAnotherCallsID() {
        let start = MediaTime(seconds: 1_795_000_000, microseconds: 0)
        let taken = RecordingNaming.recordingID(start: start, callID: "call-46469@pbx.example.com")
        let ids = RecordingIDs { id in id == taken ? "call-46469@pbx.example.com" : nil }
        #expect(ids.claim(start: start, callID: "call-46469@pbx.example.com") == taken)
        #expect(ids.claim(start: start, callID: "call-253384@pbx.example.com") == taken + "-2")
        #expect(ids.claim(start: start, callID: "call-253384@pbx.example.com") == taken + "-2")
        ids.release(taken + "-2")
        ids.release(taken)
        #expect(ids.claimed == 0)
    }
}
