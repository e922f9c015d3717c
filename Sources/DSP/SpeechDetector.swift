#if canImport(Glibc)
import Glibc
#endif

/// Finds who speaks when in one channel, on 10 ms frames.
///
/// A frame is speech when its energy in the speech band (250-4000 Hz, so
/// mains hum and its lowest harmonics do not count) stands clear of an
/// adaptive noise floor, and its spectrum is not flat: line noise and RFC
/// 3389 comfort noise are flat, voiced speech is made of harmonics. The
/// noise floor is the minimum band energy over the last two seconds
/// (minimum statistics), so it follows a changing line without following
/// the speech. Two speech frames in a row start a segment (a click does not);
/// a hangover of 200 ms bridges the gaps between syllables and words.
///
/// The band energy comes from the samples through two biquad filters (high
/// pass at 250 Hz, and low pass at 4000 Hz above 8 kHz), for every frame, so
/// the floor and the frames are always measured the same way. The spectrum
/// comes from `SpectrumAnalyzer` (FFTW), computed only for frames that stand
/// above the floor. State is fixed at construction; nothing is allocated per
/// frame except when a segment is recorded.
public struct SpeechDetector {
    /// A stretch of speech, in frames from the start of the channel.
    public struct Segment: Sendable, Equatable {
        public var start: Int
        public var end: Int
    }

    /// Samples per second of the channel.
    public let sampleRate: Int
    /// Samples per decision frame (10 ms).
    public let frameLength: Int

    /// Band energy above the noise floor that can be speech, in dB.
    public static let threshold = 9.0
    /// Band energy above the floor that is speech whatever the spectrum, in dB.
    public static let loud = 22.0
    /// Spectral flatness at or above which a frame is noise, not voice.
    public static let flatnessLimit: Float = 0.45
    /// The flatness a loud frame may have and still be speech (fricatives), but not white noise.
    public static let loudFlatnessLimit: Float = 0.75
    /// Quieter than this (dB full scale) is digital silence: it does not move the noise floor.
    public static let digitalSilence = -90.0
    /// Quieter than this (dB full scale) is never speech.
    public static let absoluteFloor = -62.0
    /// Frames a segment lasts past its last speech frame.
    public static let hangoverFrames = 20

    /// The segments found so far (a segment in progress is added by `finish`).
    public private(set) var segments: [Segment] = []
    /// Frames seen.
    public private(set) var frames = 0

    private let analyzer: SpectrumAnalyzer
    private var history: [Float]
    private var lowBin = 0
    private var highBin = 0
    private var pending: [Float]
    private var pendingCount = 0
    private var highPass: Biquad
    private var lowPass: Biquad?
    /// Energy of the band-filtered samples of the frame in progress.
    private var bandEnergy: Float = 0
    // Minimum statistics: minima of 8 sub-windows of 250 ms.
    private var subMinima: [Double]
    private var subIndex = 0
    private var subFrames = 0
    private var currentMin = Double.infinity
    /// The noise floor in dB full scale; a quiet line until the channel says otherwise.
    private var floor = -75.0
    // Decision state.
    private var speechRun = 0
    private var inSegment = false
    private var segmentStart = 0
    private var lastSpeech = 0

    public init(sampleRate: Int) {
        self.sampleRate = sampleRate
        frameLength = sampleRate / 100
        // Two frames (20 ms) of history in the transform, zero-padded to a power of two.
        var size = 8
        while size < 2 * frameLength { size *= 2 }
        analyzer = SpectrumAnalyzer(size: size)
        history = [Float](repeating: 0, count: 2 * frameLength)
        pending = [Float](repeating: 0, count: frameLength)
        let binWidth = Double(sampleRate) / Double(size)
        lowBin = max(1, Int((250 / binWidth).rounded(.up)))
        highBin = min(size / 2, Int(4000 / binWidth))
        subMinima = [Double](repeating: .infinity, count: 8)
        highPass = Biquad(highPassAt: 250, sampleRate: sampleRate)
        lowPass = sampleRate > 8000 ? Biquad(lowPassAt: 4000, sampleRate: sampleRate) : nil
    }

    /// Takes samples of this channel: `count` samples from `samples`, every
    /// `stride`-th starting at `offset` (one channel of interleaved frames).
    public mutating func process(_ samples: UnsafeBufferPointer<Int16>, offset: Int, stride: Int, count: Int) {
        var i = offset
        var left = count
        while left > 0 {
            // Fill the frame in progress in one pass, with the filters' state in locals.
            let n = min(left, frameLength - pendingCount)
            var high = highPass
            var low = lowPass
            var band = bandEnergy
            let filled = pendingCount
            pending.withUnsafeMutableBufferPointer { p in
                // SAFETY: filled + n <= frameLength == p.count; i + (n - 1) * stride < samples.count
                // because the caller gives `count` samples of this channel.
                for k in 0..<n {
                    let x = Float(samples[i]) * (1 / 32768)
                    p[filled + k] = x
                    var y = high.process(x)
                    if low != nil { y = low!.process(y) }
                    band += y * y
                    i += stride
                }
            }
            highPass = high
            lowPass = low
            bandEnergy = band
            pendingCount += n
            left -= n
            if pendingCount == frameLength {
                decide()
                pendingCount = 0
            }
        }
    }

    /// Ends a segment in progress.
    public mutating func finish() {
        if inSegment {
            segments.append(Segment(start: segmentStart, end: min(frames, lastSpeech + 1 + SpeechDetector.hangoverFrames)))
            inSegment = false
        }
    }

    private mutating func decide() {
        // Slide the 20 ms history and measure the new frame's energy.
        var energy: Float = 0
        history.withUnsafeMutableBufferPointer { h in
            pending.withUnsafeBufferPointer { p in
                // SAFETY: h has 2 * frameLength samples; p has frameLength.
                for k in 0..<frameLength { h[k] = h[k + frameLength] }
                for k in 0..<frameLength {
                    h[frameLength + k] = p[k]
                    energy += p[k] * p[k]
                }
            }
        }
        let frameDB = 10 * log10(Double(energy) / Double(frameLength) + 1e-12)
        let bandDB = 10 * log10(Double(bandEnergy) / Double(frameLength) + 1e-12)
        bandEnergy = 0
        var isSpeech = false
        let snr = bandDB - floor
        if bandDB > SpeechDetector.absoluteFloor && snr > SpeechDetector.threshold {
            // Loud enough in the band: is it voice, or flat noise?
            history.withUnsafeBufferPointer { analyzer.analyze($0) }
            var band: Float = 0
            var logSum: Float = 0
            let bins = highBin - lowBin + 1
            analyzer.power.withUnsafeBufferPointer { p in
                for k in lowBin...highBin {
                    band += p[k]
                    logSum += fastLog2(p[k] + 1e-20)
                }
            }
            let mean = band / Float(bins)
            // Spectral flatness: geometric over arithmetic mean of the band's power.
            let flatness = exp2f(logSum / Float(bins)) / (mean + 1e-20)
            isSpeech = (snr > SpeechDetector.loud && flatness < SpeechDetector.loudFlatnessLimit)
                || flatness < SpeechDetector.flatnessLimit
        }
        // Digital silence (a leg not started, a suppressed gap) says nothing about the line's noise.
        if frameDB > SpeechDetector.digitalSilence { trackFloor(bandDB) }
        if isSpeech {
            speechRun += 1
            lastSpeech = frames
            if !inSegment && speechRun >= 2 {
                inSegment = true
                segmentStart = frames - 1
            }
        } else {
            speechRun = 0
            if inSegment && frames - lastSpeech > SpeechDetector.hangoverFrames {
                segments.append(Segment(start: segmentStart, end: lastSpeech + 1 + SpeechDetector.hangoverFrames))
                inSegment = false
            }
        }
        frames += 1
    }

    /// Minimum statistics over two seconds: the floor is the lowest band
    /// energy of the last eight 250 ms sub-windows, plus a small bias. Speech
    /// frames count too: within two seconds of talk there are pauses, and the
    /// minimum finds them. With no frames in the window the floor stays.
    private mutating func trackFloor(_ value: Double) {
        currentMin = min(currentMin, value)
        subFrames += 1
        if subFrames == 25 {
            subMinima[subIndex] = currentMin
            subIndex = (subIndex + 1) % subMinima.count
            currentMin = .infinity
            subFrames = 0
        }
        var lowest = currentMin
        for m in subMinima { lowest = min(lowest, m) }
        if lowest.isFinite { floor = max(lowest, -100) + 1.5 }
    }
}

/// A second-order IIR filter (RBJ's audio EQ cookbook), transposed direct
/// form II; the coefficients are normalised by a0.
struct Biquad {
    private var b0: Float, b1: Float, b2: Float, a1: Float, a2: Float
    private var z1: Float = 0, z2: Float = 0

    /// A Butterworth high pass (Q = 1/sqrt(2)) at `frequency`.
    init(highPassAt frequency: Double, sampleRate: Int) {
        let w = 2 * Double.pi * frequency / Double(sampleRate)
        let alpha = sin(w) / (2 * 0.7071067811865476)
        let a0 = 1 + alpha
        b0 = Float((1 + cos(w)) / 2 / a0)
        b1 = Float(-(1 + cos(w)) / a0)
        b2 = b0
        a1 = Float(-2 * cos(w) / a0)
        a2 = Float((1 - alpha) / a0)
    }

    /// A Butterworth low pass (Q = 1/sqrt(2)) at `frequency`.
    init(lowPassAt frequency: Double, sampleRate: Int) {
        let w = 2 * Double.pi * frequency / Double(sampleRate)
        let alpha = sin(w) / (2 * 0.7071067811865476)
        let a0 = 1 + alpha
        b0 = Float((1 - cos(w)) / 2 / a0)
        b1 = Float((1 - cos(w)) / a0)
        b2 = b0
        a1 = Float(-2 * cos(w) / a0)
        a2 = Float((1 - alpha) / a0)
    }

    /// Filters one sample.
    @inline(__always)
    mutating func process(_ x: Float) -> Float {
        let y = b0 * x + z1
        z1 = b1 * x - a1 * y + z2
        z2 = b2 * x - a2 * y
        // After digital silence the state decays into denormal floats, which
        // x86 computes a hundred times slower: flush it to zero well before.
        if abs(z1) < 1e-20 { z1 = 0 }
        if abs(z2) < 1e-20 { z2 = 0 }
        return y
    }
}

/// log2(x) for positive normal floats to about 0.005: the exponent from the
/// bits, and a quadratic for the mantissa. Enough for spectral flatness, at a
/// fraction of `log2f`'s cost in the per-bin loop.
@inline(__always)
func fastLog2(_ x: Float) -> Float {
    let bits = x.bitPattern
    let exponent = Float(Int32(bitPattern: (bits >> 23) & 0xFF) - 127)
    let m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F80_0000) - 1  // mantissa - 1, in [0, 1)
    return exponent + m * (1.3465557 - 0.34655574 * m)
}
