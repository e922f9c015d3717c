import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Codecs
import Conversion
import Foundation
import Output
import RTP
import Testing

/// Conversion of the real capture sipnab__sip-rtp-g711.pcap: two consecutive
/// one-way calls (the callee sends audio, the caller is silent), PCMU then PCMA;
/// the second call has no BYE in the capture.
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct RealCaptureTests {
    static let path = FixturePaths.shared("captures/sipnab__sip-rtp-g711.pcap")

    /// The payload's own decode of one RTP stream, placed by timestamp from its first packet.
    static func referenceDecode(ssrc: UInt32, law: G711.Law) throws -> (audio: [Int16], first: MediaTime) {
        let source = try CaptureSource(path: path)
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var audio: [Int16] = []
        var first: MediaTime?
        var firstTimestamp: UInt32 = 0
        let table = law == .ulaw ? G711.ulawTable : G711.alawTable
        try source.forEachPacket { packet in
            guard let d = slicer.slice(packet), let h = RTPHeader(d.payload), h.ssrc == ssrc else { return }
            if first == nil {
                first = packet.timestamp
                firstTimestamp = h.timestamp
            }
            let offset = Int(h.timestamp &- firstTimestamp)
            let payload = d.payload[h.payloadOffset..<(h.payloadOffset + h.payloadLength)]
            if audio.count < offset + payload.count { audio += [Int16](repeating: 0, count: offset + payload.count - audio.count) }
            for (k, code) in payload.enumerated() { audio[offset + k] = table[Int(code)] }
        }
        return (audio, first!)
    }

    @Test func convertsBothCalls() throws {
        let output = FixturePaths.temporaryDirectory("callrec-real")
        let converter = try Converter(options: ConvertOptions(outputDirectory: output))
        let diagnostics = Diagnostics()
        let result = converter.convert(path: Self.path, diagnostics: diagnostics)
        #expect(result.error == nil)
        #expect(result.recordings.count == 2)
        let indexes = result.recordings.map(\.index)
        #expect(indexes.map(\.callID) == ["1-1966@10.0.2.20", "1-1968@10.0.2.20"])
        #expect(indexes.map(\.caller) == ["sipp", "sipp"])
        #expect(indexes.map(\.callee) == ["test", "test"])
        #expect(indexes.map(\.endReason) == ["bye", "cut"])
        // tshark: 0x343DA99B g711U 425 packets, 0x343FFA34 g711A 414 packets, no loss; the caller sent none.
        #expect(indexes[0].channels.map(\.packets) == [0, 425])
        #expect(indexes[1].channels.map(\.packets) == [0, 414])
        #expect(indexes[0].channels[1].codec == "PCMU")
        #expect(indexes[1].channels[1].codec == "PCMA")
        #expect(indexes[0].channels[1].ssrcs == ["0x343DA99B"])
        #expect(indexes.flatMap { $0.channels.map(\.lost) } == [0, 0, 0, 0])
        // The junk 5-byte datagram on the RTP port is counted, not decoded.
        #expect(diagnostics[.rtpMalformed] + diagnostics[.rtpUnmatched] >= 1)

        for (summary, ssrc, law) in [(result.recordings[0], UInt32(0x343D_A99B), G711.Law.ulaw), (result.recordings[1], 0x343F_FA34, .alaw)] {
            let reader = try OggOpusReader(path: summary.audioPath)
            #expect(reader.channels.count == 2)
            let reference = try Self.referenceDecode(ssrc: ssrc, law: law)
            // Duration within 40 ms of the RTP span.
            #expect(abs(reader.duration - Double(reference.audio.count) / 8000) < 0.040)
            let ch0 = SignalMetrics.decimate(reader.channels[0], by: 6)
            let ch1 = SignalMetrics.decimate(reader.channels[1], by: 6)
            let offset = Int(reference.first.samples(since: summary.start, rate: 8000))
            let placed = SignalMetrics.placed(reference.audio, at: offset, length: ch1.count)
            let own = SignalMetrics.bestCorrelation(ch1, placed, maxLag: 16)
            #expect(own.value > 0.8, "callee channel vs payload decode: \(own)")
            #expect(abs(own.lag) <= 2)
            // The caller said nothing: only a trace of codec noise on its channel.
            #expect(SignalMetrics.rms(ch0) < 0.01 * SignalMetrics.rms(ch1))
        }
    }
}
