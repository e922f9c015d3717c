import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Codecs
import Conversion
import Foundation
import RTP
import Testing

/// G.722 on the real captures in ../shared/data/captures.
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct G722CaptureTests {
    /// The payloads of one capture's RTP packets with payload type 9, in capture order.
    static func g722Packets(_ capture: String) throws -> [(time: MediaTime, header: RTPHeader, payload: [UInt8])] {
        let source = try CaptureSource(path: FixturePaths.shared("captures/" + capture))
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var packets: [(MediaTime, RTPHeader, [UInt8])] = []
        try source.forEachPacket { packet in
            guard let d = slicer.slice(packet), let h = RTPHeader(d.payload), h.payloadType == 9 else { return }
            packets.append((packet.timestamp, h, Array(d.payload[h.payloadOffset..<(h.payloadOffset + h.payloadLength)])))
        }
        return packets
    }

    /// The payload's own decode, placed by RTP timestamp (8 kHz clock, 16 kHz audio).
    static func referenceDecode(_ packets: [(time: MediaTime, header: RTPHeader, payload: [UInt8])]) -> [Int16] {
        var decoder = PayloadDecoder(codec: .g722)
        var audio: [Int16] = []
        let first = packets[0].header.timestamp
        for p in packets {
            let offset = Int(p.header.timestamp &- first) * 2
            var out = [Int16](repeating: 0, count: p.payload.count * 2)
            let n = p.payload.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { decoder.decode(raw, into: $0) } }
            if audio.count < offset + n { audio += [Int16](repeating: 0, count: offset + n - audio.count) }
            audio.replaceSubrange(offset..<(offset + n), with: out[0..<n])
        }
        return audio
    }

    /// projectrtp's capture is RTP only (no SIP to pair it with a call), so its
    /// payloads are decoded directly: the content is a quiet 440 Hz tone.
    @Test func decodesTheQuiet440HzTone() throws {
        let packets = try Self.g722Packets("projectrtp__440hzinbackgroundg722.pcap")
        #expect(packets.count == 393)  // tshark: 393 G.722 packets, no loss
        let audio = Self.referenceDecode(packets)
        #expect(audio.count == 393 * 320)
        // The whole file's spectrum, on a 4 kHz copy for speed: a coarse scan, then refined.
        let low = SignalMetrics.averaged(audio, by: 4)
        let coarse = SignalMetrics.peakFrequency(low, rate: 4000, in: 100...1500, step: 2)
        let peak = SignalMetrics.peakFrequency(low, rate: 4000, in: (coarse - 3)...(coarse + 3), step: 0.25)
        #expect((436...452).contains(peak), "spectral peak at \(peak) Hz")
    }

    /// The Wireshark sample call: 8.5 s of one-way G.722 with SIP. The recording
    /// is 16 kHz, 136000 samples, and its callee channel is the payload's own
    /// decode sample for sample (WAV keeps it exact).
    @Test func convertsTheSignalledCallAt16kHzExactly() throws {
        let output = FixturePaths.temporaryDirectory("callrec-g722")
        var options = ConvertOptions(outputDirectory: output)
        options.format = .wav
        let result = try Converter(options: options).convert(path: FixturePaths.shared("captures/rtp-pcap__sip-rtp-g722.pcap"), diagnostics: Diagnostics())
        #expect(result.error == nil)
        let summary = try #require(result.recordings.first)
        #expect(summary.index.sampleRate == 16000)
        #expect(summary.index.channels[1].codec == "G722")
        #expect(summary.index.channels[1].packets == 425)
        let recording = try SoundFileReader(path: summary.audioPath)
        #expect(recording.sampleRate == 16000)
        #expect(recording.length == 136_000)
        let packets = try Self.g722Packets("rtp-pcap__sip-rtp-g722.pcap")
        let reference = Self.referenceDecode(packets)
        let offset = Int(packets[0].time.samples(since: summary.start, rate: 16000))
        let placed = SignalMetrics.placed(reference, at: offset, length: recording.length)
        let differing = zip(recording.channels[1], placed).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) samples differ from the payload's own decode")
        #expect(recording.channels[0].allSatisfy { $0 == 0 }, "the caller sent nothing")
    }
}
