import CallMedia
import CallrecCore
import CallrecTestSupport
import Codecs
import Conversion
import ConversionTestSupport
import DSP
import Foundation
import Output
import Testing

/// Every output format and channel layout, decoded the way users' tools
/// decode them and compared with what each party said: duration, channels,
/// correlation.
@Suite struct OutputLayoutTests {
    /// A 3 s call whose caller sends PCMU (8 kHz) and whose callee sends G.722
    /// (16 kHz): recorded at 16 kHz, only the caller's leg is resampled.
    static func mixedCall() -> SyntheticCall {
        var call = SyntheticCall()
        call.codec = .pcmu
        call.calleeCodec = .g722
        call.duration = 3
        call.seed = 17
        return call
    }

    static func convert(_ call: SyntheticCall, _ configure: (inout ConvertOptions) -> Void) throws -> (SyntheticCall.Output, RecordingSummary) {
        let c = try ConvertedCall(call, folder: "callrec-layout", configure)
        #expect(c.result.error == nil)
        return (c.generated, c.summary)
    }

    /// G.722's own delay (its two 24-tap QMFs), in 16 kHz samples: the decode
    /// of G.722-coded audio lags its source by this much.
    static let g722Delay = 22

    /// What each party said as the recording should hold it at `rate`: the
    /// source, delayed as its codec delays it, converted to `rate` (libsamplerate's
    /// best converter) and placed on the recording's timeline.
    static func references(_ generated: SyntheticCall.Output, _ call: SyntheticCall, rate: Int, length: Int) throws -> [[Int16]] {
        let codecs = [call.codec, call.calleeCodec ?? call.codec]
        let firsts = [generated.callerFirstPacket, generated.calleeFirstPacket]
        return try zip([generated.callerAudio, generated.calleeAudio], codecs).enumerated().map { party, pair in
            let (audio, codec) = pair
            var source = codec == .g722 ? [Int16](repeating: 0, count: g722Delay) + audio : audio
            if codec.sampleRate != rate {
                let resampler = try Resampler(inputRate: codec.sampleRate, outputRate: rate, converter: .sincBest)
                var converted: [Int16] = []
                try source.withUnsafeBufferPointer { try resampler.process($0) { converted += $0 } }
                try resampler.flush { converted += $0 }
                source = converted
            }
            let offset = Int(firsts[party].samples(since: generated.callerFirstPacket, rate: rate))
            return SignalMetrics.placed(source, at: offset, length: length)
        }
    }

    static let formats = AudioFileFormat.allCases
    static let layouts = ChannelLayout.allCases

    @Test(arguments: formats, layouts)
    func everyFormatAndLayoutDecodesToTheSource(format: AudioFileFormat, layout: ChannelLayout) throws {
        let call = Self.mixedCall()
        let (generated, summary) = try Self.convert(call) {
            $0.format = format
            $0.channelLayout = layout
        }
        #expect(summary.index.sampleRate == 16000)
        #expect(summary.index.format == format.rawValue)
        #expect(summary.index.layout == layout.rawValue)
        #expect(summary.index.channels.map(\.codec) == ["PCMU", "G722"])
        let names = summary.audioFiles.map { String($0.path.split(separator: "/").last!) }
        #expect(summary.index.audioFiles == names)
        #expect(names.allSatisfy { $0.hasSuffix("." + format.fileExtension) })
        #expect(summary.audioFiles.allSatisfy { (try? FileManager.default.attributesOfItem(atPath: $0.path)[.size] as? Int).map(Int64.init) == $0.bytes })

        let recordings = try summary.audioFiles.map { try DecodedRecording(path: $0.path) }
        let span = generated.calleeFirstPacket.seconds(since: generated.callerFirstPacket) + Double(generated.packetsPerLeg) * 0.020
        for recording in recordings {
            #expect(abs(recording.duration - span) < 0.001, "duration \(recording.duration) vs \(span)")
        }
        // Channel c of the call, at the recording's 16 kHz, wherever the layout put it.
        var parties: [[Int16]] = []
        switch layout {
        case .stereo:
            #expect(recordings.count == 1 && recordings[0].channels.count == 2)
            parties = [recordings[0].channel(0, at: 16000), recordings[0].channel(1, at: 16000)]
        case .split:
            #expect(recordings.count == 2 && recordings.allSatisfy { $0.channels.count == 1 })
            #expect(names == [summary.id + "-caller." + format.fileExtension, summary.id + "-callee." + format.fileExtension])
            parties = recordings.map { $0.channel(0, at: 16000) }
        case .mono:
            #expect(recordings.count == 1 && recordings[0].channels.count == 1)
        }
        let length = recordings[0].channel(0, at: 16000).count
        let sources = try Self.references(generated, call, rate: 16000, length: length)
        // Lossless formats keep the decode; Opus at 16 kbit/s per speaker keeps the speech.
        let threshold = format == .opus ? 0.8 : 0.95
        if layout == .mono {
            let mixed = zip(sources[0], sources[1]).map { Int16(clamping: Int($0) + Int($1)) }
            let c = SignalMetrics.bestCorrelation(recordings[0].channel(0, at: 16000), mixed, maxLag: 16)
            #expect(c.value > threshold, "mono vs both parties: \(c)")
        } else {
            for c in 0..<2 {
                let own = SignalMetrics.bestCorrelation(parties[c], sources[c], maxLag: 16)
                #expect(own.value > threshold, "channel \(c): \(own)")
                #expect(abs(own.lag) <= 2, "channel \(c) misaligned by \(own.lag)")
                #expect(abs(SignalMetrics.bestCorrelation(parties[c], sources[1 - c], maxLag: 16).value) < 0.2)
            }
        }
    }

    @Test(arguments: [(AudioCodec.pcmu, 16000), (.pcmu, 48000), (.g722, 8000)])
    func rateForcesTheRecordingsRate(codec: AudioCodec, rate: Int) throws {
        var call = SyntheticCall()
        call.codec = codec
        call.duration = 3
        call.seed = 23
        let (generated, summary) = try Self.convert(call) {
            $0.format = .wav
            $0.outputRate = rate
        }
        #expect(summary.index.sampleRate == rate)
        let recording = try DecodedRecording(path: summary.audioPath)
        #expect(recording.sampleRate == rate)
        let span = generated.calleeFirstPacket.seconds(since: generated.callerFirstPacket) + Double(generated.packetsPerLeg) * 0.020
        #expect(abs(recording.duration - span) < 0.001)
        let decoded = recording.channels[0]
        let source = try Self.references(generated, call, rate: rate, length: decoded.count)[0]
        let c = SignalMetrics.bestCorrelation(decoded, source, maxLag: 8)
        #expect(c.value > 0.95, "\(c)")
        #expect(c.lag == 0)
    }

    @Test func autoRateIsTheCallsOwnAndNothingIsResampled() throws {
        // A G.711 call stays at 8 kHz and its WAV holds the payload's decode exactly.
        var call = SyntheticCall()
        call.duration = 2
        call.seed = 29
        let (generated, summary) = try Self.convert(call) { $0.format = .wav }
        #expect(summary.index.sampleRate == 8000)
        let recording = try SoundFileReader(path: summary.audioPath)
        let expected = generated.callerAudio.map { G711.ulawExpand(G711.ulawCompress($0)) }
        #expect(Array(recording.channels[0].prefix(expected.count)) == expected)
    }
}
