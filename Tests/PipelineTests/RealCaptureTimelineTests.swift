import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import Output
import Testing

/// The same captures converted end to end: calls without signalling, their
/// DTMF in the call index, loss as tshark counts it.
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct RealCaptureTimelineTests {
    func convert(_ name: String) throws -> CallIndex {
        let output = FixturePaths.temporaryDirectory("callrec-real-timeline")
        let result = try Converter(options: ConvertOptions(outputDirectory: output))
            .convert(path: FixturePaths.shared("captures/" + name), diagnostics: Diagnostics())
        return try #require(result.recordings.first).index
    }

    @Test(arguments: [
        ("asterisk-testsuite__ulaw-2013785496.pcap", "2 0 1 3 7 8 5 4 9 6"),
        ("projectrtp__ivr_dtmf_issue_9_1_9_9_3.pcap", "9 1 9 9 3 3 1 1 1 1 2"),
    ])
    func dtmfDigitsReachTheIndex(capture: String, digits: String) throws {
        let index = try convert(capture)
        #expect(index.dtmf.map { $0.digit ?? "?" }.joined(separator: " ") == digits)
        // Each digit once, from one party, in time order, lasting what its end packets said.
        #expect(Set(index.dtmf.map(\.channel)).count == 1)
        #expect(index.dtmf.map(\.atS) == index.dtmf.map(\.atS).sorted())
        #expect(index.dtmf.allSatisfy { $0.durationS > 0.05 && $0.durationS < 1 })
        #expect(index.channels.allSatisfy { $0.lost == 0 && $0.concealedMs == 0 })
    }

    @Test func heavyLossIsCountedAsTsharkDoesAndConcealed() throws {
        // tshark: 1737 packets, 240 lost.
        let index = try convert("mediastreamer2__audio-80-75-0c60.pcapng")
        #expect(index.channels[0].packets == 1737)
        #expect(index.channels[0].lost == 240)
        #expect(index.channels[0].concealedMs > 0)
    }
}
