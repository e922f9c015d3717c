import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Conversion
import Foundation
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

    /// Talk time, overtalk, DTMF and silence reach the row when the index carries them.
    @Test func speechFactsFromTheIndex() throws {
        let json = """
            {"duration_s": 10, "overtalk_s": 0.5, "dtmf": [{"digit": "5"}, {"digit": "1"}],
             "channels": [{"talk_time_s": 3.0, "speech": [[0, 2], [4, 5]]}, {"talk_time_s": 2.5, "speech": [[1.5, 3], [9, 9.5]]}]}
            """
        let facts = try #require(IndexSpeechFacts(indexJSON: Array(json.utf8)))
        var row = CatalogRecording(
            id: "x", callID: "c", caller: nil, callee: nil, direction: "unknown", start: "", startEpoch: 0, durationS: 10, audioPath: "",
            indexPath: "", audioBytes: 0, codecs: "", endReason: "bye")
        facts.apply(to: &row)
        #expect(row.callerTalkS == 3.0 && row.calleeTalkS == 2.5 && row.overtalkS == 0.5 && row.dtmfCount == 2)
        // Speech covers 0-3, 4-5 and 9-9.5: 4.5 s of 10, so 55 % is silence.
        #expect(abs((row.silenceShare ?? -1) - 0.55) < 1e-9)

        let bare = try #require(IndexSpeechFacts(indexJSON: Array(#"{"duration_s": 10, "channels": [{}, {}]}"#.utf8)))
        var plain = row
        plain.callerTalkS = nil
        plain.calleeTalkS = nil
        plain.dtmfCount = nil
        plain.silenceShare = nil
        plain.overtalkS = nil
        bare.apply(to: &plain)
        #expect(plain.talkS == nil && plain.dtmfCount == nil && plain.silenceShare == nil)
    }
}
