import Foundation

/// A small deterministic random generator (SplitMix64), so generated
/// captures and their source audio are the same on every machine.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform Double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// A uniform Double in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }
    /// A standard normal Double (Box-Muller).
    public mutating func normal() -> Double {
        let u = max(unit(), 1e-300)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * unit())
    }
}

/// Speech-like audio: voiced syllables (a glottal pulse train at a speaker's
/// pitch through moving formant resonators) with fricative noise and pauses,
/// in talk spurts. Not intelligible, but with speech's spectrum, rhythm and
/// silences, so codecs, detectors and correlation tests see realistic input.
public struct SpeechSynth {
    /// A speaker's voice.
    public struct Voice: Sendable {
        /// Mean pitch in Hz.
        public var pitch: Double
        /// Formant scale (1.0 adult male, ~1.15 female).
        public var formantScale: Double
        /// Peak amplitude (0...1 of full scale).
        public var level: Double

        public init(pitch: Double, formantScale: Double, level: Double) {
            self.pitch = pitch
            self.formantScale = formantScale
            self.level = level
        }

        public static let low = Voice(pitch: 115, formantScale: 1.0, level: 0.35)
        public static let high = Voice(pitch: 205, formantScale: 1.15, level: 0.3)
    }

    /// Vowel formants (F1, F2, F3) in Hz.
    static let vowels: [(Double, Double, Double)] = [
        (730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240), (660, 1720, 2410),
    ]

    public let sampleRate: Int
    public let voice: Voice

    public init(sampleRate: Int, voice: Voice) {
        self.sampleRate = sampleRate
        self.voice = voice
    }

    /// `duration` seconds of audio, speaking only inside `spurts` (start, end seconds).
    public func render(duration: Double, spurts: [(Double, Double)], seed: UInt64) -> [Int16] {
        var rng = SeededRandom(seed: seed)
        let n = Int(duration * Double(sampleRate))
        var out = [Double](repeating: 0, count: n)
        for (start, end) in spurts {
            var t = start
            while t < end - 0.08 {
                let length = min(rng.uniform(0.12...0.30), end - t)
                renderSyllable(into: &out, at: t, length: length, rng: &rng)
                t += length + rng.uniform(0.02...0.09)
            }
        }
        return out.map { Int16(max(-32767, min(32767, $0 * 32767))) }
    }

    private func renderSyllable(into out: inout [Double], at start: Double, length: Double, rng: inout SeededRandom) {
        let fs = Double(sampleRate)
        let first = Int(start * fs)
        let count = Int(length * fs)
        guard first >= 0, first + count <= out.count, count > 8 else { return }
        let vowel = SpeechSynth.vowels[Int(rng.next() % UInt64(SpeechSynth.vowels.count))]
        let nextVowel = SpeechSynth.vowels[Int(rng.next() % UInt64(SpeechSynth.vowels.count))]
        let pitchStart = voice.pitch * rng.uniform(0.9...1.2)
        let pitchEnd = voice.pitch * rng.uniform(0.75...1.0)
        let fricative = rng.unit() < 0.35
        let gain = voice.level * rng.uniform(0.6...1.0)
        // Three resonators, coefficients updated per sample as the formants glide.
        var y1 = [0.0, 0.0, 0.0]
        var y2 = [0.0, 0.0, 0.0]
        let bandwidths = [80.0, 100.0, 140.0]
        var phase = 0.0
        var excitationState = 0.0
        for i in 0..<count {
            let progress = Double(i) / Double(count)
            let pitch = pitchStart + (pitchEnd - pitchStart) * progress
            phase += pitch / fs
            var excitation = 0.0
            if phase >= 1 {
                phase -= 1
                excitation = 1
            }
            // A softened pulse (glottal shape) plus a little aspiration.
            excitationState = 0.6 * excitationState + excitation
            var x = excitationState + 0.02 * (rng.unit() - 0.5)
            var sample = 0.0
            for k in 0..<3 {
                let f0 = [vowel.0, vowel.1, vowel.2][k]
                let f1 = [nextVowel.0, nextVowel.1, nextVowel.2][k]
                let f = min((f0 + (f1 - f0) * progress) * voice.formantScale, fs * 0.45)
                let r = exp(-Double.pi * bandwidths[k] / fs)
                let a1 = 2 * r * cos(2 * Double.pi * f / fs)
                let a2 = -r * r
                let y = x * (1 - r) + a1 * y1[k] + a2 * y2[k]
                y2[k] = y1[k]
                y1[k] = y
                sample += y / Double(k + 1)
                x = excitationState + 0.02 * (rng.unit() - 0.5)
            }
            // Raised-cosine envelope over the syllable.
            let envelope = 0.5 - 0.5 * cos(2 * Double.pi * min(1, progress * 1.15))
            var value = sample * envelope * gain * 2.5
            if fricative && progress < 0.25 {
                value += (rng.unit() - 0.5) * gain * 0.5 * (1 - progress * 4)
            }
            out[first + i] += value
        }
    }

    /// Alternating talk spurts for two speakers over `duration` seconds, with
    /// short pauses and an occasional brief overlap.
    public static func conversation(duration: Double, seed: UInt64) -> (caller: [(Double, Double)], callee: [(Double, Double)]) {
        var rng = SeededRandom(seed: seed)
        var caller: [(Double, Double)] = []
        var callee: [(Double, Double)] = []
        var t = rng.uniform(0.1...0.3)
        var turn = 0
        while t < duration - 0.4 {
            let length = min(rng.uniform(0.8...2.2), duration - 0.1 - t)
            if length < 0.3 { break }
            if turn % 2 == 0 { caller.append((t, t + length)) } else { callee.append((t, t + length)) }
            t += length + rng.uniform(0.15...0.6)
            turn += 1
        }
        return (caller, callee)
    }
}
