import CallrecCore
import CallrecTestSupport
import Codecs
import DSP
import Foundation
import Output
import CallMedia
import Conversion
import ConversionTestSupport
import Testing

/// A call whose legs carry codecs of different bands (a G.711 caller, a G.722
/// callee) is recorded at 16 kHz; each speaker must still be in the
/// recording as its own codec delivered it.
@Suite struct MixedRateQualityTests {
    static func mixedCall() -> SyntheticCall {
        var call = SyntheticCall(seed: 61, duration: 10)
        call.codec = .pcmu
        call.calleeCodec = .g722
        call.networkJitter = 0
        return call
    }

    /// Converts `call` to `format` and returns the decoded channels and the index.
    static func convert(_ call: SyntheticCall, format: AudioFileFormat, rate: Int? = nil) throws -> (channels: [[Int16]], index: CallIndex) {
        let c = try ConvertedCall(call, folder: "callrec-mixed") { options in
            options.format = format
            options.outputRate = rate
        }
        return (try c.decoded().channels, c.summary.index)
    }

    @Test func theNarrowbandLegIsResampledWhole() throws {
        // The G.711 leg's exact decode (recorded at 8 kHz: nothing resampled), against the same
        // leg in the 16 kHz recording brought back to 8 kHz: every sample of every packet is there.
        // (The resampler holds back its last 94 output samples of each packet until the next one;
        // a frame encoded before they came out left a hole of 5.9 ms in every 20 ms.)
        let call = Self.mixedCall()
        let exact = try Self.convert(call, format: .wav, rate: 8000).channels[0]
        let wide = try Self.convert(call, format: .wav).channels[0]
        var back: [Int16] = []
        let resampler = try Resampler(inputRate: 16000, outputRate: 8000)
        try wide.withUnsafeBufferPointer { try resampler.process($0) { back.append(contentsOf: $0) } }
        try resampler.flush { back.append(contentsOf: $0) }
        let n = min(exact.count, back.count) - 100
        let c = SignalMetrics.bestCorrelation(Array(exact[0..<n]), Array(back[0..<n]), maxLag: 2)
        #expect(c.value > 0.99 && c.lag == 0, "\(c)")
    }

    @Test(.enabled(if: PESQ.available, "python3 with pesq, numpy and scipy is missing (make test installs them)"))
    func eachSpeakerKeepsItsOwnBandsQuality() throws {
        // PESQ of each speaker's Opus channel against the payload's own decode, in the band its codec
        // has (narrowband at 8 kHz for the PCMU caller, wideband at 16 kHz for the G.722 callee),
        // within 0.3 of the decode against itself. With the G.711 stream coded wideband like the
        // G.722 one, the PCMU caller lost 0.35; narrowband, 0.13 (espeak speech: scripts/measure-opus-quality.py).
        let call = Self.mixedCall()
        let pcmuDecode = try Self.convert(call, format: .wav, rate: 8000).channels[0]
        let g722Decode = try Self.convert(call, format: .wav).channels[1]
        let opus = try Self.convert(call, format: .opus)
        #expect(opus.index.sampleRate == 16000)
        let pcmu = try PESQ.score(reference: pcmuDecode, degraded: opus.channels[0], rate: 8000, degradedRate: 48000)
        let pcmuBest = try PESQ.score(reference: pcmuDecode, degraded: pcmuDecode, rate: 8000)
        let g722 = try PESQ.score(reference: g722Decode, degraded: opus.channels[1], rate: 16000, degradedRate: 48000)
        let g722Best = try PESQ.score(reference: g722Decode, degraded: g722Decode, rate: 16000)
        #expect(pcmu > pcmuBest - 0.3, "PCMU caller: \(pcmu) against \(pcmuBest)")
        #expect(g722 > g722Best - 0.3, "G.722 callee: \(g722) against \(g722Best)")
    }
}
