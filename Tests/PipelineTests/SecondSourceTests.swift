import CallMedia
import CallrecCore
import CallrecTestSupport
import Codecs
import Foundation
import Output
import Testing

/// No leg is thrown away (issue 17, item 2): a second source sending a
/// leg while the first keeps sending is kept, with its audio and its DTMF;
/// only a true relay copy (same SSRC, sequence numbers and payload) is
/// merged away; a stream that cannot be kept is always reported.
@Suite struct SecondSourceTests {
    /// The call of the real case: 30 ms packets, the callee's SDP port
    /// sending silence while its voice and its digits (RFC 4733 on payload
    /// type 96) come from another port (a B2BUA sending from another port
    /// than it receives on).
    static func call() -> SyntheticCall {
        var call = SyntheticCall(seed: 17, duration: 8)
        call.ptime = 30
        call.calleeSpeech = [Int16](repeating: 0, count: 8 * 8000)
        return call
    }

    /// The callee's voice from the other port: another SSRC, 30 ms, digits 1 5 9 on PT 96.
    static func secondStream(_ generated: SyntheticCall.Output, _ call: SyntheticCall, port: UInt16 = 50_010, ssrc: UInt32 = 0x5EC0_0D01)
        -> (stream: SyntheticStream, audio: [Int16])
    {
        let spurts = SpeechSynth.conversation(duration: 7.5, seed: 99).callee
        let audio = SpeechSynth(sampleRate: 8000, voice: .high).render(duration: 7.5, spurts: spurts, seed: 5)
        var stream = SyntheticStream(
            from: Endpoint(address: call.calleeMedia.address, port: port), to: call.callerMedia,
            start: generated.calleeFirstPacket.advanced(byNanoseconds: 7_000_000), audio: audio)
        stream.ptime = 30
        stream.ssrc = ssrc
        stream.eventPayloadType = 96
        stream.events = [(1, 2.01, 0.18), (5, 3.51, 0.18), (9, 5.01, 0.24)]
        return (stream, audio)
    }

    /// `audio` with the stretches the events replaced silenced (what the stream carried as audio).
    static func spoken(_ audio: [Int16], _ stream: SyntheticStream) -> [Int16] {
        var out = audio
        let period = Double(stream.ptime) / 1000
        for event in stream.events {
            let from = Int((event.at / period).rounded(.up)) * 240
            let to = min(out.count, from + Int(((event.duration + 2 * period) / period).rounded(.up)) * 240)
            for i in from..<to { out[i] = 0 }
        }
        return out
    }

    @Test func aSecondStreamTowardALegsEndpointIsKeptWithItsDigits() throws {
        let call = Self.call()
        let generated = call.build()
        let (stream, audio) = Self.secondStream(generated, call)
        let found = try CallFinding.run(PcapMerge.merge([generated.pcap, stream.pcap()]))
        let recording = try #require(found.recordings.first)
        #expect(found.recordings.count == 1)
        // Nothing of it was taken for a relay copy and dropped.
        #expect(found.diagnostics[.rtpSecondPath] == 0)
        #expect(found.diagnostics[.rtpExtraStream] == stream.packets().count)
        #expect(found.diagnostics.notes.contains { $0.contains("198.51.100.20:50010") && $0.contains("kept") }, "\(found.diagnostics.notes)")
        // Its voice is in the callee's channel, and its digits in the index.
        let match = try CallFinding.match(recording, channel: 1, Self.spoken(audio, stream), from: stream.start)
        #expect(match.value > 0.9, "\(match)")
        #expect(recording.index.dtmf.map(\.digit) == ["1", "5", "9"])
        #expect(recording.index.dtmf.allSatisfy { $0.channel == 1 })
        let first = try #require(recording.index.dtmf.first)
        let expectedAt = stream.start.seconds(since: recording.start) + 2.01
        #expect(abs(first.atS - expectedAt) < 0.04, "\(first.atS) vs \(expectedAt)")
        // The index names it.
        let extra = try #require(recording.index.channels[1].extraStream)
        #expect(extra.source == "198.51.100.20:50010")
        #expect(extra.ssrcs == ["0x5EC00D01"])
        #expect(extra.codec == "PCMU")
        #expect(extra.packets == stream.packets().count)
        #expect(extra.lost == 0)
        // The caller's channel is untouched: still the caller's speech.
        let caller = try CallFinding.match(recording, channel: 0, generated.callerAudio, from: generated.callerFirstPacket)
        #expect(caller.value > 0.9, "\(caller)")
        #expect(recording.index.channels[0].extraStream == nil)
    }

    @Test func aTrueRelayCopyIsMergedAwayNotMixedInTwice() throws {
        var call = SyntheticCall(seed: 21, duration: 6)
        call.networkJitter = 0
        let generated = call.build()
        // The callee's stream seen again at a relay's second hop, 0.4 ms later: same SSRC, sequence numbers, payload.
        let relay = Endpoint(address: IPAddress("203.0.113.5")!, port: 30_000)
        let hop = Endpoint(address: IPAddress("203.0.113.9")!, port: 31_000)
        var copies: [UInt8] = Array(generated.pcap.prefix(24))
        var count = 0
        for record in PcapMerge.records(generated.pcap) {
            let bytes = Array(record.bytes)
            // Ethernet (14) + IPv4 (20) + UDP (8); the callee's RTP goes from its media port.
            guard bytes.count > 16 + 42 + 12, UInt16(bytes[16 + 34]) << 8 | UInt16(bytes[16 + 35]) == call.calleeMedia.port,
                  bytes[16 + 23] == 17 else { continue }
            let rtp = Array(bytes[(16 + 42)...])
            var writer = PcapWriter()
            let time = MediaTime(nanoseconds: (record.microseconds + 400) * 1000)
            writer.append(PacketBuilder.ethernetUDP(from: relay, to: hop, payload: rtp), at: time)
            copies += writer.bytes.dropFirst(24)
            count += 1
        }
        #expect(count == generated.calleePackets)
        let found = try CallFinding.run(PcapMerge.merge([generated.pcap, copies]))
        let recording = try #require(found.recordings.first)
        // The copy's SSRC makes it join the call (a leg seen at another hop); every copy is merged away.
        #expect(found.diagnostics[.rtpSecondPath] >= count - RTPStreamCandidateConfirmation.packets)
        #expect(found.diagnostics[.rtpExtraStream] == 0)
        #expect(recording.index.channels[1].extraStream == nil)
        #expect((recording.index.channels[1].relayCopies ?? 0) >= count - RTPStreamCandidateConfirmation.packets)
        // The callee is heard once: the level of its own decode, not twice as loud; in fact
        // the recording is the one made without the copies, sample for sample.
        let decoded = try CallFinding.channel(recording, 1)
        let level = SignalMetrics.rms(decoded) / SignalMetrics.rms(generated.calleeAudio)
        #expect(level > 0.8 && level < 1.25, "level \(level)")
        let alone = try #require(try CallFinding.run(generated.pcap).recordings.first)
        #expect(try CallFinding.channel(alone, 1) == decoded)
        #expect(try CallFinding.channel(alone, 0) == CallFinding.channel(recording, 0))
    }

    @Test func aCopyWithTheSameNumbersButOtherContentIsKept() throws {
        // Same SSRC and sequence numbers as the callee's stream, other audio: not a copy.
        let call = Self.call()
        let generated = call.build()
        let calleeSSRC = generated.legReports[1].ssrcs[0]
        let rtp = PcapMerge.records(generated.pcap).compactMap { record -> (Int64, [UInt8])? in
            let bytes = Array(record.bytes)
            guard bytes.count > 16 + 42 + 12, bytes[16 + 23] == 17,
                  UInt16(bytes[16 + 34]) << 8 | UInt16(bytes[16 + 35]) == call.calleeMedia.port else { return nil }
            return (record.microseconds, Array(bytes[(16 + 42)...]))
        }
        let (_, audio) = Self.secondStream(generated, call)
        var writer = PcapWriter()
        // While both are silent their payloads are the same: those are taken for copies until the first that differs.
        var firstDifferent: Int? = nil
        for (k, (microseconds, packet)) in rtp.enumerated() {
            var other = packet
            // Same header, the other voice's PCMU (240 samples per 30 ms packet).
            for i in 0..<(other.count - 12) where k * 240 + i < audio.count {
                other[12 + i] = G711.ulawCompress(audio[k * 240 + i])
            }
            if firstDifferent == nil && other != packet { firstDifferent = k }
            writer.append(
                PacketBuilder.ethernetUDP(from: Endpoint(address: call.calleeMedia.address, port: 50_020), to: call.callerMedia, payload: other),
                at: MediaTime(nanoseconds: (microseconds + 300) * 1000))
        }
        let found = try CallFinding.run(PcapMerge.merge([generated.pcap, writer.bytes]))
        let recording = try #require(found.recordings.first)
        let extra = try #require(recording.index.channels[1].extraStream)
        #expect(extra.ssrcs == [RTPHeaderFormat.ssrc(calleeSSRC)])
        let differs = try #require(firstDifferent)
        #expect(found.diagnostics[.rtpExtraStream] >= rtp.count - differs - 1)
        #expect(found.diagnostics[.rtpSecondPath] <= differs + 1)
        let match = try CallFinding.match(recording, channel: 1, Array(audio.prefix(rtp.count * 240)), from: generated.calleeFirstPacket)
        #expect(match.value > 0.85, "\(match)")
    }

    @Test func aThirdStreamIsDroppedAndAlwaysReported() throws {
        let call = Self.call()
        let generated = call.build()
        let (second, _) = Self.secondStream(generated, call)
        let (third, _) = Self.secondStream(generated, call, port: 50_030, ssrc: 0x7417_0003)
        let found = try CallFinding.run(PcapMerge.merge([generated.pcap, second.pcap(), third.pcap()]))
        let recording = try #require(found.recordings.first)
        #expect(recording.index.channels[1].extraStream?.source == "198.51.100.20:50010")
        let dropped = try #require(recording.index.channels[1].droppedStreams)
        #expect(dropped.map(\.source) == ["198.51.100.20:50030"])
        #expect(dropped.first?.ssrc == "0x74170003")
        #expect(dropped.first?.packets == third.packets().count)
        #expect(found.diagnostics[.rtpStreamsDropped] == third.packets().count)
        // A note (printed without --verbose) names it.
        #expect(found.diagnostics.notes.contains { $0.contains("198.51.100.20:50030") && $0.contains("dropped") })
    }
}

/// How many packets a stream without signalling is held before it is confirmed (`RTPStreamCandidate.confirmation`).
enum RTPStreamCandidateConfirmation {
    static let packets = 4
}

