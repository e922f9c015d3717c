import CallrecTestSupport
import DSP
import Foundation
import Testing

@Suite struct ResamplerTests {
    static func tone(_ hz: Double, rate: Int, count: Int, phase: Double = 0) -> [Int16] {
        (0..<count).map { Int16(10000 * sin(2 * .pi * hz * Double($0) / Double(rate) + phase)) }
    }

    /// Pushes `input` in packets of `packet` samples, then flushes.
    static func run(_ resampler: Resampler, _ input: [Int16], packet: Int) throws -> [Int16] {
        var output: [Int16] = []
        for start in stride(from: 0, to: input.count, by: packet) {
            try input[start..<min(start + packet, input.count)].withUnsafeBufferPointer { piece in
                try resampler.process(piece) { output += $0 }
            }
        }
        try resampler.flush { output += $0 }
        return output
    }

    @Test(arguments: [(8000, 16000), (8000, 48000), (16000, 8000), (8000, 24000)])
    func convertsAToneInPlaceAndOnTime(from input: Int, to output: Int) throws {
        let seconds = 2
        let resampler = try Resampler(inputRate: input, outputRate: output)
        let converted = try Self.run(resampler, Self.tone(440, rate: input, count: input * seconds), packet: input / 50)
        // Exactly the input's duration at the new rate, and the same tone with no delay:
        // libsamplerate compensates its filter's delay.
        #expect(converted.count == output * seconds)
        let expected = Self.tone(440, rate: output, count: output * seconds)
        let inner = output / 10..<(output * seconds - output / 10)
        let c = SignalMetrics.bestCorrelation(Array(converted[inner]), Array(expected[inner]), maxLag: 8)
        #expect(c.value > 0.999, "\(c)")
        #expect(c.lag == 0)
    }

    @Test func packetsGiveTheSameAudioAsOneBlock() throws {
        let input = Self.tone(1000, rate: 8000, count: 8000)
        let whole = try Self.run(try Resampler(inputRate: 8000, outputRate: 16000), input, packet: input.count)
        let packets = try Self.run(try Resampler(inputRate: 8000, outputRate: 16000), input, packet: 160)
        #expect(whole == packets)
    }

    @Test func flushStartsAFreshStretch() throws {
        let resampler = try Resampler(inputRate: 8000, outputRate: 16000)
        let input = Self.tone(440, rate: 8000, count: 1600)
        let first = try Self.run(resampler, input, packet: 160)
        let second = try Self.run(resampler, input, packet: 160)
        #expect(first == second)
        #expect(resampler.inputSamples == 0 && resampler.outputSamples == 0)
    }

    @Test func rejectsImpossibleRates() {
        #expect(throws: Resampler.ResamplerError.self) { try Resampler(inputRate: 0, outputRate: 8000) }
        #expect(throws: Resampler.ResamplerError.self) { try Resampler(inputRate: 8000, outputRate: 8000 * 1000) }
    }
}

@Suite struct ChannelMixTests {
    @Test(arguments: [
        // (left, right, mono): sums, and saturation instead of wrap-around.
        (Int16(1000), Int16(-300), Int16(700)),
        (32767, 32767, 32767),
        (30000, 10000, 32767),
        (-32768, -1, -32768),
        (-20000, -20000, -32768),
    ])
    func downmixSumsAndNeverWraps(left: Int16, right: Int16, mono: Int16) {
        let frame: [Int16] = [left, right, left, right]
        var out = [Int16](repeating: 0, count: 2)
        let clipped = frame.withUnsafeBufferPointer { f in
            out.withUnsafeMutableBufferPointer { ChannelMix.downmix(f, channels: 2, into: $0) }
        }
        #expect(out == [mono, mono])
        #expect(clipped == (Int(left) + Int(right) == Int(mono) ? 0 : 2))
    }

    @Test func extractsOneChannel() {
        let frame: [Int16] = [1, 10, 2, 20, 3, 30]
        var out = [Int16](repeating: 0, count: 3)
        frame.withUnsafeBufferPointer { f in out.withUnsafeMutableBufferPointer { ChannelMix.extract(channel: 1, of: f, channels: 2, into: $0) } }
        #expect(out == [10, 20, 30])
    }
}
