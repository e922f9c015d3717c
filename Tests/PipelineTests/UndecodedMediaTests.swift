import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Output
import Pipeline
import Testing

/// What is in the call stays in the recording (issue 17, item 9): media in
/// a codec callrec does not decode keeps its time as marked silence, and a
/// call of RFC 4733 events alone keeps its digits.
@Suite struct UndecodedMediaTests {
    /// `pcap` with every RTP packet of payload type `from` that `keep` refuses
    /// (given its time) rewritten to payload type `to`, or dropped when `to` is nil.
    static func rewritePayloadType(_ pcap: [UInt8], _ from: UInt8, to: UInt8?, where keep: (MediaTime) -> Bool) throws -> [UInt8] {
        let source = try CaptureSource(path: try TemporaryFile.write(pcap))
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var writer = PcapWriter(linkType: UInt32(source.linkTypes.first?.rawValue ?? 1))
        try source.forEachPacket { packet in
            var bytes = Array(packet.bytes)
            if let d = slicer.slice(packet), d.transport == .udp, d.payload.count >= 12, d.payload[0] >> 6 == 2,
               d.payload[1] & 0x7F == from, !keep(packet.timestamp) {
                guard let to else { return }
                let offset = d.payload.baseAddress! - packet.bytes.baseAddress!
                bytes[offset + 1] = bytes[offset + 1] & 0x80 | to
            }
            writer.append(bytes, at: packet.timestamp)
        }
        return writer.bytes
    }

    @Test func afterASwitchToAnUnsupportedCodecTheRestOfTheCallIsMarkedSilence() throws {
        let call = SyntheticCall(seed: 71, duration: 6)
        let generated = call.build()
        // Both legs switch to G.729 (static payload type 18, which callrec does not decode) 3 s into the call.
        let switchAt = generated.callerFirstPacket.advanced(byNanoseconds: 3_000_000_000)
        let pcap = try Self.rewritePayloadType(generated.pcap, 0, to: 18) { $0 < switchAt }
        let found = try CallFinding.run(pcap)
        let recording = try #require(found.recordings.first)
        let index = recording.index
        // Not cut off at the switch: the recording lasts the call.
        #expect(index.durationS > 5.9 && index.durationS < 6.2, "\(index.durationS)")
        let cut = switchAt.seconds(since: recording.start)
        for (k, channel) in index.channels.enumerated() {
            let span = try #require(channel.undecoded?.first, "channel \(k)")
            #expect(channel.undecoded?.count == 1)
            #expect(span.codec == "G729")
            #expect(abs(span.fromS - cut) < 0.05, "\(span)")
            #expect(abs(span.toS - index.durationS) < 0.1, "\(span)")
            #expect(span.packets > 140)
            // Speech up to the switch, silence after it.
            let decoded = try CallFinding.channel(recording, k)
            let audio = k == 0 ? generated.callerAudio : generated.calleeAudio
            let first = k == 0 ? generated.callerFirstPacket : generated.calleeFirstPacket
            let offset = Int(first.samples(since: recording.start, rate: 8000))
            let before = Int((cut - 0.1) * 8000)
            let source = SignalMetrics.placed(audio, at: offset, length: before)
            #expect(SignalMetrics.bestCorrelation(Array(decoded.prefix(before)), source, maxLag: 16).value > 0.8)
            #expect(SignalMetrics.rms(Array(decoded.dropFirst(Int((cut + 0.1) * 8000)))) < 5)
        }
        #expect(found.diagnostics[.rtpUnsupportedPayload] > 280)
    }

    @Test(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
    func aCaptureOfDigitsAloneKeepsItsDigits() throws {
        // asterisk's DTMF test call with its audio (PT 0) taken out: RFC 4733 events (PT 101) alone.
        let real = Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.shared("captures/asterisk-testsuite__ulaw-2013785496.pcap"))))
        let eventsOnly = try Self.rewritePayloadType(real, 0, to: nil) { _ in false }
        let found = try CallFinding.run(eventsOnly)
        let recording = try #require(found.recordings.first, "\(found.reports.map(\.outcome))")
        #expect(recording.index.dtmf.map { $0.digit ?? "?" }.joined(separator: " ") == "2 0 1 3 7 8 5 4 9 6")
        // On silence: nothing made up from the events.
        let decoded = try CallFinding.channel(recording, 0) + CallFinding.channel(recording, 1)
        #expect(SignalMetrics.rms(decoded) < 5)
        let last = try #require(recording.index.dtmf.last)
        #expect(recording.index.durationS >= last.atS + last.durationS)
        #expect(found.diagnostics[.callsWithoutMedia] == 0)
    }

    @Test func aStreamThatIsNotTheCallsAudioGetsItsNote() throws {
        var call = SyntheticCall(seed: 72, duration: 2)
        call.video = true
        let (_, found) = try CallFinding.run(call)
        let notes = found.diagnostics.notes.filter { $0.contains("is not the call's audio") }
        // One per direction of the video stream, not one per packet.
        #expect(notes.count == 2, "\(notes)")
    }
}
