import CallrecCore
import CallrecTestSupport
import Capture
import Codecs
import Foundation
@testable import CallMedia
import RTP
import Testing

/// One RTP stream of a real capture played through a `Leg` on its own, as a
/// call would play it (the captures here carry no signalling, so the stream
/// is picked by SSRC and its payload types are given).
struct StreamPlayer {
    /// Collects what the leg plays, from `lead` samples before time zero.
    final class Sink {
        var timeline: [Int16] = []
        let lead = 8000
        /// The earliest position written.
        var first = Int64.max

        func write(_ samples: UnsafeBufferPointer<Int16>, at position: Int64) -> Int {
            let start = Int(position) + lead
            guard start >= 0 else { return samples.count }
            first = min(first, position)
            if timeline.count < start + samples.count { timeline += [Int16](repeating: 0, count: start + samples.count - timeline.count) }
            for (k, s) in samples.enumerated() { timeline[start + k] = s }
            return 0
        }
    }

    var leg: Leg
    let sink: Sink

    /// Plays the stream `ssrc` of `path`, with `kinds` saying what each payload type is.
    static func play(_ path: String, ssrc: UInt32, kinds: [UInt8: PayloadKind]) throws -> StreamPlayer {
        var leg = Leg(outputRate: 8000, maxLag: 10)
        for (pt, kind) in kinds { leg.kinds[Int(pt)] = kind }
        let sink = Sink()
        let source = try CaptureSource(path: path)
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var origin: MediaTime?
        try source.forEachPacket { packet in
            guard let d = slicer.slice(packet), d.transport == .udp, let h = RTPHeader(d.payload), h.ssrc == ssrc else { return }
            if origin == nil { origin = packet.timestamp }
            let arrival = packet.timestamp.samples(since: origin!, rate: 8000)
            let body = UnsafeRawBufferPointer(rebasing: d.payload[h.payloadOffset..<(h.payloadOffset + h.payloadLength)])
            try leg.receive(h, payload: body, at: packet.timestamp, arrival: arrival, kind: kinds[h.payloadType] ?? .unsupported(nil)) { position, samples, _, _ in
                sink.write(samples, at: position)
            }
            try leg.playout(until: arrival - 3200) { position, samples, _, _ in sink.write(samples, at: position) }
        }
        try leg.drain { position, samples, _, _ in sink.write(samples, at: position) }
        return StreamPlayer(leg: leg, sink: sink)
    }
}

@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct RealStreamTests {
    @Test func asteriskDTMFDigits() throws {
        // SLL, PCMU with RFC 2833 events (PT 101) on the same SSRC: digits 2 0 1 3 7 8 5 4 9 6.
        let player = try StreamPlayer.play(
            FixturePaths.shared("captures/asterisk-testsuite__ulaw-2013785496.pcap"), ssrc: 0x34D0_1D16,
            kinds: [0: .audio(.pcmu, clockRate: 8000), 101: .telephoneEvent(clockRate: 8000)])
        let digits = player.leg.digits
        #expect(digits.map(\.symbol).joined(separator: " ") == "2 0 1 3 7 8 5 4 9 6")
        // tshark: each event lasted 1600 timestamp units (200 ms); the first ended 6.006 s into the capture.
        #expect(digits.allSatisfy { abs($0.duration - 0.2) < 0.001 })
        let firstStart = Double(digits[0].position) / 8000
        #expect(abs(firstStart - (6.006 - 0.2)) < 0.1, "first digit at \(firstStart) s")
        // Events are never decoded as audio, and they are not loss: nothing concealed, 974 packets, none lost.
        #expect(player.leg.concealedSamples == 0)
        #expect(player.leg.packets == 974)
        #expect(player.leg.lost == 0)
    }

    @Test func projectrtpDTMFDigitsAcrossALongGap() throws {
        // SLL2, PCMU with events; digits 9 1 9 9 3 3 1 1 1 1 2.
        let player = try StreamPlayer.play(
            FixturePaths.shared("captures/projectrtp__ivr_dtmf_issue_9_1_9_9_3.pcap"), ssrc: 0x7056_A020,
            kinds: [0: .audio(.pcmu, clockRate: 8000), 101: .telephoneEvent(clockRate: 8000)])
        #expect(player.leg.digits.map(\.symbol).joined(separator: " ") == "9 1 9 9 3 3 1 1 1 1 2")
        #expect(player.leg.packets == 2424)
        #expect(player.leg.lost == 0)
    }

    @Test func heavyLossMixedPacketSizes() throws {
        // pcapng, PCMA in 20/40/60 ms packets, 12 % loss (tshark: 1737 packets, 240 lost, 65.68 s).
        let player = try StreamPlayer.play(
            FixturePaths.shared("captures/mediastreamer2__audio-80-75-0c60.pcapng"), ssrc: 0xC647_C3F8,
            kinds: [8: .audio(.pcma, clockRate: 8000)])
        #expect(player.leg.packets == 1737)
        #expect(player.leg.lost == 240)
        #expect(player.leg.concealedSamples > 0)
        // The arrivals fall 5.5 s behind the timestamps (a queue under congestion, 9 %: no clock
        // drifts that much): the leg follows its timestamps in one piece, exactly their span
        // (60.26 s), not the capture's 65.68 s, and is never re-anchored.
        let audible = Double(Int64(player.sink.timeline.count - player.sink.lead) - player.sink.first) / 8000
        #expect(abs(audible - 60.26) < 0.005, "timeline \(audible) s")
        #expect(player.leg.timestampJumps == 0)
        #expect(player.leg.drift == 0)
    }
}
