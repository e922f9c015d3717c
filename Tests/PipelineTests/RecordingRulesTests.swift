import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Conversion
import Foundation
import Output
import Testing

/// Recording rules applied by convert when a call is identified, before any audio is decoded.
@Suite struct RecordingRulesTests {
    static let admin = CatalogActor.operator("test")

    func converter(_ rules: [RecordingRule]) throws -> (Converter, String) {
        let out = FixturePaths.temporaryDirectory("callrec-rules")
        let store = try CatalogStore(path: out + "/catalog.sqlite")
        for rule in rules { try store.addRule(rule, by: Self.admin, at: 0) }
        return (try Converter(options: ConvertOptions(outputDirectory: out)), out)
    }

    @Test func skippedCallIsNeverDecodedOrWritten() throws {
        let (converter, out) = try converter([RecordingRule(action: .skip, remote: try .parse("+4631555020"))])
        let kept = Diagnostics(), skipped = Diagnostics()
        let u = converter.convert(path: FixturePaths.fixture("g711u-2legs-20ms.pcap"), diagnostics: kept)
        let a = converter.convert(path: FixturePaths.fixture("g711a-2legs-20ms.pcap"), diagnostics: skipped)
        #expect(u.recordings.count == 1 && kept[.callsSkippedByRule] == 0)
        #expect(a.recordings.isEmpty && a.error == nil)
        #expect(skipped[.callsSkippedByRule] == 1)
        #expect(skipped[.callsWithoutMedia] == 0)
        // Its packets were claimed by the call (not unmatched), yet nothing was written.
        #expect(skipped[.rtpUnmatched] == 0 && skipped[.rtpPackets] == 600)
        #expect(try converter.catalog.allRecordings().map(\.caller) == ["+4681234567"])
        let written = FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []
        #expect(written.filter { $0.hasSuffix(".opus") || $0.hasSuffix(".partial") }.count == 1)
    }

    @Test func ruleSetsRetentionAndIsRecordedOnTheRow() throws {
        let (converter, _) = try converter([
            RecordingRule(action: .record, local: try .parse("+46812*"), retention: try .parse("7y"))
        ])
        let result = converter.convert(path: FixturePaths.fixture("g711u-2legs-20ms.pcap"), diagnostics: Diagnostics())
        let summary = try #require(result.recordings.first)
        let row = try #require(try converter.catalog.recording(id: summary.id))
        #expect(row.ruleID == 1)
        #expect(row.retainUntilEpoch == Retention(amount: 7, unit: .years).until(from: summary.start.seconds))
        #expect(row.callerPackets == 300 && row.calleePackets == 300 && row.callerLost == 0)
        #expect(row.sampleRate == 8000)
    }

    @Test func zeroPercentSampleFallsThroughToTheNextRule() throws {
        let (converter, _) = try converter([
            RecordingRule(action: .record, samplePercent: 0),
            RecordingRule(action: .skip),
        ])
        let diagnostics = Diagnostics()
        let result = converter.convert(path: FixturePaths.fixture("g711u-2legs-20ms.pcap"), diagnostics: diagnostics)
        #expect(result.recordings.isEmpty && diagnostics[.callsSkippedByRule] == 1)
    }

    /// The real capture's two calls start nine seconds apart (INVITEs at
    /// 14:52:5x and 14:53:0x UTC): a time window records only the second.
    @Test(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
    func timeWindowOnARealCapture() throws {
        let (converter, _) = try converter([
            RecordingRule(action: .record, hours: try .parse("15:53-16:00"), timeZone: "Europe/Stockholm"),
            RecordingRule(action: .skip),
        ])
        let diagnostics = Diagnostics()
        let result = converter.convert(path: FixturePaths.shared("captures/sipnab__sip-rtp-g711.pcap"), diagnostics: diagnostics)
        #expect(result.recordings.map(\.index.callID) == ["1-1968@10.0.2.20"])
        #expect(diagnostics[.callsSkippedByRule] == 1)
    }

    /// Talk time, overtalk, DTMF and silence reach the row as the typed index
    /// holds them — the values measured once on the audio — and stay nil for a
    /// call whose audio was not written (not analysed, not "silent").
    @Test func speechFactsFromTheIndex() throws {
        var index = CallIndex(
            id: "x", callID: "c", caller: nil, callee: nil, direction: "unknown", start: "", durationS: 10, sampleRate: 8000,
            endReason: "bye", audio: "x.opus",
            channels: [
                CallIndex.Channel(speaker: "caller", codec: "PCMU", ssrcs: [], packets: 500, lost: 0, duplicates: 0, late: 0, jitterMs: 1),
                CallIndex.Channel(speaker: "callee", codec: "PCMU", ssrcs: [], packets: 500, lost: 0, duplicates: 0, late: 0, jitterMs: 1),
            ])
        index.channels[0].talkTimeS = 3.0
        index.channels[1].talkTimeS = 2.5
        // Spans that cover 4.5 s of 10: the row takes the analysis' own share (0.552), not one worked out again from them.
        index.channels[0].speech = [[0, 2], [4, 5]]
        index.channels[1].speech = [[1.5, 3], [9, 9.5]]
        index.overtalkS = 0.5
        index.silenceShare = 0.552
        index.dtmf = [CallIndex.DTMF(channel: 0, digit: "5", atS: 1, durationS: 0.1), CallIndex.DTMF(channel: 0, digit: "1", atS: 2, durationS: 0.1)]
        var row = CatalogRecording(
            id: "x", callID: "c", caller: nil, callee: nil, direction: "unknown", start: "", startEpoch: 0, durationS: 10, audioPath: "",
            indexPath: "", audioBytes: 0, codecs: "", endReason: "bye")
        row.apply(speechFactsOf: index)
        #expect(row.callerTalkS == 3.0 && row.calleeTalkS == 2.5 && row.overtalkS == 0.5 && row.dtmfCount == 2)
        #expect(row.silenceShare == 0.552)

        index.audio = nil
        index.skipped = "srtp"
        row.apply(speechFactsOf: index)
        #expect(row.talkS == nil && row.overtalkS == nil && row.silenceShare == nil && row.dtmfCount == 2)
    }

    /// A converted call's catalog row says what its index file says.
    @Test func theRowAgreesWithTheIndexFile() throws {
        let (converter, _) = try converter([])
        let result = converter.convert(path: FixturePaths.fixture("g711u-2legs-20ms.pcap"), diagnostics: Diagnostics())
        let summary = try #require(result.recordings.first)
        let index = try CallIndex.decode(Array(try Data(contentsOf: URL(fileURLWithPath: summary.indexPath))))
        let row = try #require(try converter.catalog.recording(id: summary.id))
        #expect(index.silenceShare > 0 && index.silenceShare < 1)
        #expect(row.silenceShare == index.silenceShare && row.overtalkS == index.overtalkS)
        #expect(row.callerTalkS == index.channels[0].talkTimeS && row.calleeTalkS == index.channels[1].talkTimeS)
        #expect(row.dtmfCount == index.dtmf.count)
    }
}
