import CallrecTestSupport
import DSP
import Foundation
import Testing

/// SpeechDetector on its own, on speech-like audio whose talk spurts are known
/// (CallSynthesis's SpeechSynth speaks only inside them).
///
/// Tolerance: a segment starts within `onset` of its spurt's start (two 10 ms
/// frames of speech are needed, and a syllable fades in), and ends between
/// `early` before and `late` after the spurt's end: the synthesiser's last
/// syllable can end up to 0.17 s before the spurt does, and the detector holds
/// a segment `hangoverFrames` (200 ms) past its last speech frame.
@Suite struct SpeechDetectorTests {
    static let onset = 0.05
    static let early = 0.1
    static let late = 0.25

    /// Segments in seconds, after `samples` given in pieces of `chunks` samples (cycled).
    static func detect(_ samples: [Int16], rate: Int, chunks: [Int] = [Int.max]) -> (segments: [(Double, Double)], frames: Int) {
        var detector = SpeechDetector(sampleRate: rate)
        var at = 0
        var k = 0
        samples.withUnsafeBufferPointer { all in
            while at < all.count {
                let n = min(chunks[k % chunks.count], all.count - at)
                detector.process(all, offset: at, stride: 1, count: n)
                at += n
                k += 1
            }
        }
        detector.finish()
        return (detector.segments.map { (Double($0.start) / 100, Double($0.end) / 100) }, detector.frames)
    }

    /// Gaussian noise at `level` dB full scale (RMS), like a quiet analogue line.
    static func noise(count: Int, level: Double, seed: UInt64) -> [Int16] {
        var random = SeededRandom(seed: seed)
        let rms = 32768 * pow(10, level / 20)
        return (0..<count).map { _ in Int16(clamping: Int((random.normal() * rms).rounded())) }
    }

    /// The audio from its first sound to its last (the synthesiser's syllables start and end in digital silence).
    static func trimmed(_ audio: [Int16]) -> [Int16] {
        Array(audio[audio.firstIndex { $0 != 0 }!...audio.lastIndex { $0 != 0 }!])
    }

    static func mixed(_ a: [Int16], _ b: [Int16]) -> [Int16] { zip(a, b).map { Int16(clamping: Int($0) + Int($1)) } }

    static let spurts: [(Double, Double)] = [(0.4, 1.9), (2.8, 3.6), (4.5, 6.9)]

    @Test(arguments: [8000, 16000], [false, true])
    func findsEachTalkSpurtWithinTheTolerance(rate: Int, noisy: Bool) {
        for voice in [SpeechSynth.Voice.low, .high] {
            var audio = SpeechSynth(sampleRate: rate, voice: voice).render(duration: 8, spurts: Self.spurts, seed: 3)
            if noisy { audio = Self.mixed(audio, Self.noise(count: audio.count, level: -55, seed: 9)) }
            let found = Self.detect(audio, rate: rate)
            #expect(found.frames == 800)
            #expect(found.segments.count == Self.spurts.count, "\(rate) Hz, \(voice.pitch) Hz voice: \(found.segments)")
            for (segment, spurt) in zip(found.segments, Self.spurts) {
                #expect(abs(segment.0 - spurt.0) <= Self.onset, "\(rate) Hz: segment \(segment) for spurt \(spurt)")
                #expect(segment.1 >= spurt.1 - Self.early && segment.1 <= spurt.1 + Self.late, "\(rate) Hz: segment \(segment) for spurt \(spurt)")
            }
        }
    }

    @Test(arguments: [8000, 16000])
    func digitalSilenceAndQuietLinesAreNoSpeech(rate: Int) {
        let silence = [Int16](repeating: 0, count: 5 * rate)
        let silent = Self.detect(silence, rate: rate)
        #expect(silent.segments.isEmpty)
        #expect(silent.frames == 500)
        for level in [-70.0, -55, -45] {
            let line = Self.detect(Self.noise(count: 5 * rate, level: level, seed: UInt64(-level)), rate: rate)
            #expect(line.segments.isEmpty, "white noise at \(level) dBFS: \(line.segments)")
        }
        // A line that goes quiet after digital silence (a leg that starts late) is not speech either.
        let late = Self.detect(silence + Self.noise(count: 3 * rate, level: -50, seed: 4), rate: rate)
        #expect(late.segments.isEmpty, "\(late.segments)")
    }

    @Test(arguments: [8000, 16000])
    func theHangoverBridgesShortPausesOnly(rate: Int) {
        let synth = SpeechSynth(sampleRate: rate, voice: .low)
        let first = Self.trimmed(synth.render(duration: 1.5, spurts: [(0.2, 1.2)], seed: 21))
        let second = Self.trimmed(synth.render(duration: 1.5, spurts: [(0.2, 1.2)], seed: 23))
        let lead = [Int16](repeating: 0, count: rate / 2)
        // A pause of 0.1 s (half the 200 ms hangover) is one segment.
        let bridged = Self.detect(lead + first + [Int16](repeating: 0, count: rate / 10) + second + lead, rate: rate)
        #expect(bridged.segments.count == 1, "\(bridged.segments)")
        // A pause of 0.6 s is two.
        let apart = Self.detect(lead + first + [Int16](repeating: 0, count: 6 * rate / 10) + second + lead, rate: rate)
        #expect(apart.segments.count == 2, "\(apart.segments)")

        // A segment lasts the hangover past the last frame that holds sound (less
        // the fading end of a syllable, which may be too quiet to be speech), and no longer.
        let audio = synth.render(duration: 3, spurts: [(0.5, 1.5)], seed: 22)
        let frame = rate / 100
        let lastSound = (0..<(audio.count / frame)).last { f in audio[(f * frame)..<((f + 1) * frame)].contains { $0 != 0 } }!
        let end = Self.detect(audio, rate: rate).segments.last!.1
        let hangover = Double(SpeechDetector.hangoverFrames) / 100
        #expect(end > Double(lastSound) / 100 + hangover - 0.05 && end <= Double(lastSound + 1) / 100 + hangover, "end \(end), last sound at frame \(lastSound)")
        // Cut off in the middle of the hangover, `finish` ends the segment at the last frame.
        let cut = Array(audio[0..<((lastSound + 5) * frame)])
        let finished = Self.detect(cut, rate: rate)
        #expect(finished.segments.last!.1 == Double(finished.frames) / 100)
    }

    @Test(arguments: [[1], [7, 160, 33], [79], [1000, 3], [441]])
    func oddChunksGiveTheSameSegmentsAsOneBuffer(chunks: [Int]) {
        for rate in [8000, 16000] {
            let audio = Self.mixed(
                SpeechSynth(sampleRate: rate, voice: .high).render(duration: 6, spurts: [(0.3, 2.2), (3.1, 5.4)], seed: 31),
                Self.noise(count: 6 * rate, level: -58, seed: 32))
            let whole = Self.detect(audio, rate: rate)
            let pieces = Self.detect(audio, rate: rate, chunks: chunks)
            #expect(whole.segments.count == 2)
            #expect(pieces.frames == whole.frames)
            #expect(pieces.segments.map(\.0) == whole.segments.map(\.0) && pieces.segments.map(\.1) == whole.segments.map(\.1), "chunks \(chunks)")
        }
    }

    @Test func oneChannelOfInterleavedFramesIsThatChannelAlone() {
        let caller = SpeechSynth(sampleRate: 8000, voice: .low).render(duration: 6, spurts: [(0.3, 2.0)], seed: 41)
        let callee = SpeechSynth(sampleRate: 8000, voice: .high).render(duration: 6, spurts: [(2.8, 5.0)], seed: 42)
        var frames = [Int16](repeating: 0, count: 2 * caller.count)
        for i in caller.indices {
            frames[2 * i] = caller[i]
            frames[2 * i + 1] = callee[i]
        }
        for (channel, alone) in [caller, callee].enumerated() {
            var detector = SpeechDetector(sampleRate: 8000)
            frames.withUnsafeBufferPointer { all in
                // In 20 ms packets, as the call's mixer gives them.
                for first in stride(from: 0, to: caller.count, by: 160) {
                    detector.process(all, offset: 2 * first + channel, stride: 2, count: min(160, caller.count - first))
                }
            }
            detector.finish()
            let expected = Self.detect(alone, rate: 8000).segments
            #expect(detector.segments.count == 1)
            #expect(detector.segments.map { Double($0.start) / 100 } == expected.map(\.0), "channel \(channel)")
            #expect(detector.segments.map { Double($0.end) / 100 } == expected.map(\.1), "channel \(channel)")
        }
    }
}
