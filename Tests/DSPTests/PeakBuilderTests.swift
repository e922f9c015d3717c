import CallrecTestSupport
import DSP
import Testing

/// PeakBuilder on its own, against the definition computed directly on the
/// same samples: pixel p of channel c is the minimum and maximum of samples
/// p * spp ..< (p + 1) * spp of that channel, the last pixel what is left.
@Suite struct PeakBuilderTests {
    /// `channels` of interleaved audio: speech-like voices over a little noise,
    /// with a full-scale click so the extremes of Int16 appear.
    static func interleaved(channels: Int, frames: Int, seed: UInt64) -> [Int16] {
        let voices: [SpeechSynth.Voice] = [.low, .high, SpeechSynth.Voice(pitch: 160, formantScale: 1.05, level: 0.9)]
        let seconds = Double(frames) / 8000
        let audio = (0..<channels).map { c in
            SpeechSynth(sampleRate: 8000, voice: voices[c % voices.count])
                .render(duration: seconds + 0.01, spurts: [(0.05 * Double(c), seconds * 0.6), (seconds * 0.7, seconds)], seed: seed + UInt64(c))
        }
        var random = SeededRandom(seed: seed)
        var out = [Int16](repeating: 0, count: frames * channels)
        for f in 0..<frames {
            for c in 0..<channels {
                let noise = Int(random.next() % 64) - 32
                out[f * channels + c] = Int16(clamping: Int(audio[c][f]) + noise)
            }
        }
        out[(frames / 3) * channels] = .min
        out[(frames / 3) * channels + channels - 1] = .max
        return out
    }

    /// The peaks by their definition.
    static func direct(_ samples: [Int16], channels: Int, samplesPerPixel: Int) -> [[Int16]] {
        let frames = samples.count / channels
        return stride(from: 0, to: frames, by: samplesPerPixel).map { first in
            let end = min(first + samplesPerPixel, frames)
            return (0..<channels).flatMap { c -> [Int16] in
                let values = (first..<end).map { samples[$0 * channels + c] }
                return [values.min()!, values.max()!]
            }
        }
    }

    /// The pixels PeakBuilder emits when given `samples` in pieces of `chunks`
    /// frames (cycled), then finished.
    static func built(_ samples: [Int16], channels: Int, samplesPerPixel: Int, chunks: [Int]) -> (pixels: [[Int16]], counted: Int) {
        var builder = PeakBuilder(channels: channels, samplesPerPixel: samplesPerPixel)
        var pixels: [[Int16]] = []
        var at = 0
        var k = 0
        while at < samples.count {
            let n = min(chunks[k % chunks.count] * channels, samples.count - at)
            samples[at..<(at + n)].withUnsafeBufferPointer { piece in builder.process(piece) { pixels.append(Array($0)) } }
            at += n
            k += 1
        }
        builder.finish { pixels.append(Array($0)) }
        return (pixels, builder.pixels)
    }

    @Test(arguments: [(1, 160), (2, 80), (2, 160), (3, 441)])
    func pixelsAreTheMinimumAndMaximumOfEachChannel(channels: Int, samplesPerPixel: Int) {
        // 1.2345 s at 8 kHz: 9876 frames, not a whole number of pixels, so the last is partial.
        let samples = Self.interleaved(channels: channels, frames: 9876, seed: UInt64(channels))
        let expected = Self.direct(samples, channels: channels, samplesPerPixel: samplesPerPixel)
        #expect(expected.count == (9876 + samplesPerPixel - 1) / samplesPerPixel)
        let whole = Self.built(samples, channels: channels, samplesPerPixel: samplesPerPixel, chunks: [9876])
        #expect(whole.pixels == expected)
        #expect(whole.counted == expected.count)
        // Interleaving: each channel's column is that channel alone, not its neighbours'.
        if channels > 1 {
            #expect(expected.contains { $0[0] != $0[2] || $0[1] != $0[3] })
        }
    }

    @Test(arguments: [[160], [1], [7, 13, 301], [79, 81], [4096], [3, 997, 160, 1]])
    func chunksNotOnPixelBoundariesGiveTheSamePixels(chunks: [Int]) {
        let samples = Self.interleaved(channels: 2, frames: 8000 + 37, seed: 11)
        let expected = Self.direct(samples, channels: 2, samplesPerPixel: 160)
        let result = Self.built(samples, channels: 2, samplesPerPixel: 160, chunks: chunks)
        #expect(result.pixels == expected, "chunks \(chunks)")
        #expect(result.pixels.last!.count == 4)
    }

    @Test func finishEmitsAPartialPixelOnlyWhenThereIsOne() {
        let samples = Self.interleaved(channels: 2, frames: 1600, seed: 5)
        var builder = PeakBuilder(channels: 2, samplesPerPixel: 160)
        var pixels: [[Int16]] = []
        samples.withUnsafeBufferPointer { builder.process($0) { pixels.append(Array($0)) } }
        #expect(pixels.count == 10)
        builder.finish { pixels.append(Array($0)) }
        #expect(pixels.count == 10, "1600 frames are exactly ten pixels")

        // One frame more is an eleventh pixel of that one frame: its minimum is its maximum.
        let partial = [Int16(-1234), 4321]
        partial.withUnsafeBufferPointer { builder.process($0) { pixels.append(Array($0)) } }
        #expect(pixels.count == 10)
        builder.finish { pixels.append(Array($0)) }
        #expect(pixels.last == [-1234, -1234, 4321, 4321])
        #expect(builder.pixels == 11)
        // A finished pixel leaves nothing behind: the next one starts afresh.
        var again: [[Int16]] = []
        let quiet = [Int16](repeating: 3, count: 2 * 160)
        quiet.withUnsafeBufferPointer { builder.process($0) { again.append(Array($0)) } }
        #expect(again == [[3, 3, 3, 3]])
    }

    @Test func silenceAndFullScaleAreDrawnAsTheyAre() {
        var samples = [Int16](repeating: 0, count: 2 * 320)
        samples[2 * 200] = .min
        samples[2 * 201 + 1] = .max
        let result = Self.built(samples, channels: 2, samplesPerPixel: 160, chunks: [100])
        #expect(result.pixels == [[0, 0, 0, 0], [.min, 0, 0, .max]])
    }
}
