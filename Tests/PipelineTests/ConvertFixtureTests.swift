import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Conversion
import ConversionTestSupport
import Foundation
import Output
import Testing

/// End to end: a generated two-leg call in, a two-channel Ogg Opus file out,
/// each channel matching what that party said.
@Suite struct ConvertFixtureTests {
    struct Converted {
        var result: Converter.InputResult
        var reader: OggOpusReader
        var index: CallIndex
        var output: String
    }

    func convertSynthetic(_ call: SyntheticCall) throws -> (SyntheticCall.Output, Converted) {
        let c = try ConvertedCall(call)
        return (c.generated, Converted(result: c.result, reader: try c.opus(), index: c.index, output: c.output))
    }

    @Test(arguments: [AudioCodecName.pcmu, .pcma])
    func eachChannelCarriesItsOwnParty(codec: AudioCodecName) throws {
        var call = SyntheticCall()
        call.codec = codec.codec
        call.seed = codec == .pcmu ? 5 : 6
        let (generated, converted) = try convertSynthetic(call)
        #expect(converted.result.error == nil)
        #expect(converted.result.recordings.count == 1)
        let reader = converted.reader
        #expect(reader.channels.count == 2)
        // Duration within 40 ms of the RTP span (first packet of either leg to the end of the last).
        let span = generated.calleeFirstPacket.seconds(since: generated.callerFirstPacket) + Double(generated.packetsPerLeg) * 0.020
        #expect(abs(reader.duration - span) < 0.040, "duration \(reader.duration) vs span \(span)")
        // Channel 0 is the caller, channel 1 the callee, each at its own offset on the shared timeline.
        let ch0 = SignalMetrics.decimate(reader.channels[0], by: 6)
        let ch1 = SignalMetrics.decimate(reader.channels[1], by: 6)
        let calleeOffset = Int(generated.calleeFirstPacket.samples(since: generated.callerFirstPacket, rate: 8000))
        let caller = SignalMetrics.placed(generated.callerAudio, at: 0, length: ch0.count)
        let callee = SignalMetrics.placed(generated.calleeAudio, at: calleeOffset, length: ch1.count)
        let own0 = SignalMetrics.bestCorrelation(ch0, caller, maxLag: 16)
        let own1 = SignalMetrics.bestCorrelation(ch1, callee, maxLag: 16)
        #expect(own0.value > 0.8, "caller channel correlation \(own0)")
        #expect(own1.value > 0.8, "callee channel correlation \(own1)")
        #expect(abs(own0.lag) <= 2 && abs(own1.lag) <= 2, "legs misaligned: \(own0.lag), \(own1.lag) samples")
        #expect(abs(SignalMetrics.bestCorrelation(ch0, callee, maxLag: 16).value) < 0.2)
        #expect(abs(SignalMetrics.bestCorrelation(ch1, caller, maxLag: 16).value) < 0.2)
        // The index matches the capture.
        let index = converted.index
        #expect(index.callID == call.callID)
        #expect(index.caller == call.callerNumber)
        #expect(index.callee == call.calleeNumber)
        #expect(index.channels.map(\.packets) == [generated.packetsPerLeg, generated.packetsPerLeg])
        #expect(index.channels.map(\.codec) == [codec.rawValue, codec.rawValue])
        #expect(index.channels.map(\.lost) == [0, 0])
        #expect(index.endReason == "bye")
        #expect(index.sampleRate == 8000)
        #expect(reader.tag("CALL_ID") == call.callID)
        #expect(reader.tag("CALLER") == call.callerNumber)
        #expect(reader.tag("CALLEE") == call.calleeNumber)
        #expect(reader.tag("START") == index.start)
        // The catalog holds the recording.
        let catalog = try CatalogStore(path: converted.output + "/catalog.sqlite")
        #expect(try catalog.recording(id: index.id)?.callID == call.callID)
    }

    @Test func silenceSuppressionKeepsTheGap() throws {
        // Drop 2 s of the caller's packets (as a phone with VAD would send nothing):
        // the callee's audio after the gap must stay aligned.
        var call = SyntheticCall()
        call.seed = 9
        call.duration = 6
        let c = try ConvertedCall(
            call, capture: { try PcapFilter.dropRTP($0.pcap, from: call.callerMedia, between: 2.0, and: 4.0, after: $0.callerFirstPacket) })
        let generated = c.generated
        let reader = try c.opus()
        let span = generated.calleeFirstPacket.seconds(since: generated.callerFirstPacket) + Double(generated.packetsPerLeg) * 0.020
        #expect(abs(reader.duration - span) < 0.040)
        let ch0 = SignalMetrics.decimate(reader.channels[0], by: 6)
        // Inside the gap the caller's channel is silent (Opus leaves only a trace of codec noise).
        let gap = SignalMetrics.rms(ch0[(2 * 8000 + 400)..<(4 * 8000 - 400)])
        #expect(gap < 0.01 * SignalMetrics.rms(ch0), "gap level \(gap)")
        // After it, the caller's audio is where it was said.
        let tail = Array(ch0[(4 * 8000 + 800)...])
        let source = Array(SignalMetrics.placed(generated.callerAudio, at: 0, length: ch0.count)[(4 * 8000 + 800)...])
        #expect(SignalMetrics.bestCorrelation(tail, source, maxLag: 4).value > 0.8)
    }

    @Test func writesNothingHalfDone() throws {
        let files = FileManager.default.enumerator(atPath: try ConvertedCall(SyntheticCall()).output)?.allObjects as? [String] ?? []
        #expect(!files.contains { $0.hasSuffix(AtomicFile.temporarySuffix) })
        #expect(files.filter { $0.hasSuffix(".opus") }.count == 1)
        #expect(files.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".peaks.json") && !$0.hasSuffix(".manifest.json") }.count == 1)
        #expect(files.filter { $0.hasSuffix(".manifest.json") }.count == 1 && files.filter { $0.hasSuffix(".manifest.sig") }.count == 1)
        #expect(files.filter { $0.hasSuffix(".peaks.json") }.count == 1)
    }
}

/// The codecs as test arguments.
enum AudioCodecName: String, CaseIterable, Sendable {
    case pcmu = "PCMU"
    case pcma = "PCMA"
    case g722 = "G722"
    var codec: Codecs.AudioCodec {
        switch self {
        case .pcmu: .pcmu
        case .pcma: .pcma
        case .g722: .g722
        }
    }
}

import Codecs
