import CallrecTestSupport
import CallrecCore
import Foundation
import Inspection
import RTP
import Testing

/// The call index counts each channel's stream as tshark 4.0 counts it
/// (`-z rtp,streams`, tshark-reference.txt): packets, lost and maximum
/// jitter, on every recorded channel of every real capture in ../shared/data.
/// Legs with RFC 4733 events, comfort noise or marker bits are where the
/// index used to differ (an event's timestamp stays at the event's start, so
/// its packets bear no jitter; tshark's maximum skips talk-spurt starts).
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct IndexStatisticsTests {
    @Test(arguments: TsharkReference.files)
    func everyRecordedChannelCountsAsTsharkDoes(_ file: String) throws {
        let reference = try #require(TsharkReference.load()?.capture(file))
        let found = try CallFinding.run(path: FixturePaths.shared("captures/" + file))
        defer { try? FileManager.default.removeItem(atPath: found.output) }
        let inspected = Inspector.inspect(.file(FixturePaths.shared("captures/" + file)), diagnostics: Diagnostics())
        for recording in found.recordings {
            for channel in recording.index.channels {
                // A channel with one stream that tshark lists. A relay hop shows the same packets twice
                // (heplify: the SDP path, which tshark-reference lists, and the B2BUA's side on port 4800,
                // which only tshark's heuristic and `inspect` list); the channel counts the copy the router
                // kept, so it must match tshark's stream or `inspect`'s count of that copy (InspectorTests
                // hold `inspect` to tshark on every stream tshark lists).
                guard channel.ssrcs.count == 1 else { continue }
                let ssrc = channel.ssrcs[0].lowercased()
                guard reference.streams.contains(where: { $0.ssrc.lowercased() == ssrc }) else { continue }
                typealias Count = (what: String, packets: Int, lost: Int, jitterMs: Double)
                let fromTshark: [Count] = reference.streams.filter { $0.ssrc.lowercased() == ssrc }.map {
                    ("tshark \($0.source):\($0.sourcePort) -> \($0.destination):\($0.destinationPort)", $0.packets, $0.lost, $0.maxJitterMs)
                }
                let fromInspect: [Count] = inspected.streams.filter { RTPHeader.format(ssrc: $0.ssrc).lowercased() == ssrc }.map {
                    ("inspect \($0.source) -> \($0.destination)", $0.packets, $0.lost, $0.maxJitterMs)
                }
                let streams = fromTshark + fromInspect
                // The index keeps jitter to 0.01 ms; tshark prints three decimals.
                let matching = streams.filter {
                    channel.packets == $0.packets && channel.lost == $0.lost && abs(channel.jitterMs - $0.jitterMs) <= 0.0051
                }
                #expect(
                    !matching.isEmpty,
                    """
                    \(file) \(recording.id) \(channel.speaker): \(channel.packets) packets, \(channel.lost) lost, \
                    jitter \(channel.jitterMs) ms; streams: \(streams.map { "\($0.what) \($0.packets) pkts \($0.lost) lost jitter \($0.jitterMs) ms" })
                    """)
            }
        }
    }

    /// Every capture with recorded audio has at least one channel the check above compares,
    /// so the test cannot pass by comparing nothing.
    @Test func theCheckComparesTheRealCaptures() throws {
        let reference = try #require(TsharkReference.load())
        var compared = 0
        for file in ["asterisk-testsuite__ulaw-2013785496.pcap", "projectrtp__ivr_dtmf_issue_9_1_9_9_3.pcap", "heplify__sip_ipv4_tcp.pcap"] {
            let capture = try #require(reference.capture(file))
            let found = try CallFinding.run(path: FixturePaths.shared("captures/" + file))
            defer { try? FileManager.default.removeItem(atPath: found.output) }
            let ssrcs = Set(capture.streams.map { $0.ssrc.lowercased() })
            let channels = found.recordings.flatMap(\.index.channels)
            compared += channels.filter { $0.ssrcs.count == 1 && ssrcs.contains($0.ssrcs[0].lowercased()) }.count
        }
        // ulaw: one leg (events on its SSRC); ivr_dtmf: two legs, one with events; heplify TCP: two legs with comfort noise.
        #expect(compared == 5)
    }

    /// The same SSRC sent to a new port after the callee's re-INVITE is a second stream to
    /// tshark: the packets missing around the move are not counted as lost, only those missing
    /// within each stream. The index counts the leg the same way (`inspect` counts as tshark).
    @Test func theSameSSRCToANewPortIsASecondStream() throws {
        var call = SyntheticCall(seed: 83, duration: 6)
        call.move = SyntheticCall.MediaMove(party: .callee, at: 3, to: Endpoint(address: call.calleeMedia.address, port: 41_234))
        let generated = call.build()
        // 5 packets lost within the stream to the old port; 20 missing across the move.
        var pcap = try PcapFilter.dropRTP(generated.pcap, from: call.callerMedia, between: 1.0, and: 1.1, after: generated.callerFirstPacket)
        pcap = try PcapFilter.dropRTP(pcap, from: call.callerMedia, between: 2.8, and: 3.2, after: generated.callerFirstPacket)
        let path = try TemporaryFile.write(pcap)
        let inspected = Inspector.inspect(.file(path), diagnostics: Diagnostics())
        let callerStreams = inspected.streams.filter { $0.source == call.callerMedia }
        #expect(callerStreams.count == 2)
        #expect(callerStreams.map(\.lost).reduce(0, +) == 5)
        let found = try CallFinding.run(path: path)
        defer { try? FileManager.default.removeItem(atPath: found.output) }
        let caller = try #require(found.recordings.first?.index.channels.first)
        #expect(caller.ssrcs.count == 1)
        #expect(caller.packets == callerStreams.map(\.packets).reduce(0, +))
        #expect(caller.lost == 5)
        #expect(abs(caller.jitterMs - (callerStreams.map(\.maxJitterMs).max() ?? -1)) <= 0.0051)
    }
}
