import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import ConversionTestSupport
import Foundation
import Output
import Testing

/// A call that starts narrowband and is moved to G.722 by a re-INVITE keeps
/// its wideband half: the recording's rate, fixed at the first audio, covers
/// every codec either side's SDP named, and each leg lists its codecs in order.
@Suite struct CodecChangeTests {
    /// PCMU for 4 s, then both legs G.722 after the caller's re-INVITE.
    static func call(offeredAtStart: Bool) -> SyntheticCall {
        var call = SyntheticCall(seed: 71, duration: 10)
        call.codec = .pcmu
        call.codecChange = SyntheticCall.CodecChange(at: 4, to: .g722, offeredAtStart: offeredAtStart)
        call.networkJitter = 0
        return call
    }

    static func convert(_ call: SyntheticCall) throws -> (channels: [[Int16]], index: CallIndex, notes: [String]) {
        let c = try ConvertedCall(call, folder: "callrec-codec-change") { $0.format = .wav }
        return (try c.decoded().channels, c.summary.index, c.diagnostics.notes)
    }

    /// Power above 4 kHz against power below it (Goertzel every 250 Hz), over `samples` at 16 kHz.
    static func highToLow(_ samples: ArraySlice<Int16>) -> Double {
        let high = stride(from: 4500.0, through: 7500, by: 250).map { SignalMetrics.power(samples, at: $0, rate: 16000) }.reduce(0, +)
        let low = stride(from: 500.0, through: 3500, by: 250).map { SignalMetrics.power(samples, at: $0, rate: 16000) }.reduce(0, +)
        return high / max(low, 1e-9)
    }

    @Test func aMoveToG722OfferedAtTheStartIsRecordedWideband() throws {
        // The caller offers PCMU and G.722, the callee answers PCMU alone: the negotiated set is
        // PCMU, but the offer named G.722, so the call may move there (it does at 4 s).
        let out = try Self.convert(Self.call(offeredAtStart: true))
        #expect(out.index.sampleRate == 16000)
        for channel in out.index.channels {
            let codecs = try #require(channel.codecs)
            #expect(codecs.map(\.codec) == ["PCMU", "G722"])
            #expect(codecs[0].fromS < 0.05)  // the callee starts 10 ms after the caller
            #expect(abs(codecs[1].fromS - 4) < 0.05, "\(codecs)")
        }
        #expect(!out.notes.contains { $0.contains("is recorded at") })
        // The G.722 half keeps its band above 4 kHz; the PCMU half (resampled from 8 kHz) has none.
        for c in 0..<2 {
            let audio = out.channels[c]
            let before = Self.highToLow(audio[16000..<(3 * 16000)])
            let after = Self.highToLow(audio[(5 * 16000)..<(9 * 16000)])
            #expect(after > 0.01 && after > 100 * before, "channel \(c): above/below 4 kHz \(before) before, \(after) after")
        }
    }

    @Test func aCodecNoSDPNamedBeforeTheFirstAudioIsNotedAndTheRateKept() throws {
        // Neither first SDP names G.722: the rate was fixed at 8 kHz by the first audio; the
        // G.722 half is resampled into it, the leg still lists both codecs, and a note says so.
        let out = try Self.convert(Self.call(offeredAtStart: false))
        #expect(out.index.sampleRate == 8000)
        #expect(out.index.channels.allSatisfy { $0.codecs?.map(\.codec) == ["PCMU", "G722"] })
        #expect(out.notes.filter { $0.contains("G722 audio is recorded at 8000 Hz") }.count == 1, "\(out.notes)")
        // Nothing lost across the change: audio on both sides of it.
        let callerAudio = out.channels[0]
        #expect(SignalMetrics.rms(callerAudio[(5 * 8000)..<(9 * 8000)]) > 300)
    }

    @Test func aReInviteThatGivesADynamicPayloadTypeANewCodecChangesItsMeaning() throws {
        // PT 96 is PCMU in the first offer and answer and G.722 after the re-INVITE at 4 s: the
        // same call as with static payload types (0, then 9), so the same recording. A leg that
        // kept PT 96's first meaning decoded the whole G.722 half as PCMU: noise.
        var dynamic = Self.call(offeredAtStart: false)
        dynamic.audioPayloadType = 96
        let numbered = try Self.convert(dynamic)
        let fixed = try Self.convert(Self.call(offeredAtStart: false))
        #expect(numbered.index.channels.allSatisfy { $0.codecs?.map(\.codec) == ["PCMU", "G722"] })
        #expect(numbered.channels.map(\.count) == fixed.channels.map(\.count))
        // The caller switches as its re-INVITE is answered: sample for sample the same.
        #expect(numbered.channels[0] == fixed.channels[0])
        // The callee switches 20 ms after the re-INVITE reached it: its last PCMU packet comes under
        // PT 96's new meaning, which only a static payload type tells apart (the G.722 decoder takes a
        // moment to settle after it). Before the re-INVITE the same samples; after it the same audio.
        let change = 3 * 8000 + 7800
        #expect(numbered.channels[1][..<change] == fixed.channels[1][..<change])
        let settled = 4 * 8000 + 400
        let after = SignalMetrics.bestCorrelation(Array(numbered.channels[1][settled...]), Array(fixed.channels[1][settled...]), maxLag: 0)
        #expect(after.value > 0.99, "callee after the change: correlation \(after.value)")
    }
}
