import Foundation

/// Measures for comparing decoded audio with its source.
public enum SignalMetrics {
    /// Every `factor`-th sample (48 kHz -> 8 kHz for factor 6). Opus narrowband
    /// output has nothing above 4 kHz, so no filter is needed before it.
    public static func decimate(_ samples: [Int16], by factor: Int) -> [Int16] {
        stride(from: 0, to: samples.count, by: factor).map { samples[$0] }
    }

    /// The normalised cross-correlation of `a` against `b` shifted by `lag`
    /// samples (b[i + lag] against a[i]), over their overlap.
    public static func correlation(_ a: [Int16], _ b: [Int16], lag: Int = 0) -> Double {
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<a.count {
            let j = i + lag
            guard j >= 0, j < b.count else { continue }
            let x = Double(a[i]), y = Double(b[j])
            sab += x * y
            saa += x * x
            sbb += y * y
        }
        guard saa > 0, sbb > 0 else { return 0 }
        return sab / (saa * sbb).squareRoot()
    }

    /// The best correlation over lags in `-maxLag...maxLag`, and that lag.
    public static func bestCorrelation(_ a: [Int16], _ b: [Int16], maxLag: Int) -> (value: Double, lag: Int) {
        var best = (value: -2.0, lag: 0)
        for lag in -maxLag...maxLag {
            let c = correlation(a, b, lag: lag)
            if c > best.value { best = (c, lag) }
        }
        return best
    }

    /// The root-mean-square level of `samples`.
    public static func rms(_ samples: some Collection<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (sum / Double(samples.count)).squareRoot()
    }

    /// `signal` placed at `offset` samples on a timeline of `length` samples (zeros elsewhere).
    public static func placed(_ signal: [Int16], at offset: Int, length: Int) -> [Int16] {
        var out = [Int16](repeating: 0, count: length)
        for i in 0..<signal.count where offset + i >= 0 && offset + i < length {
            out[offset + i] = signal[i]
        }
        return out
    }

    /// The power of `samples` at `hz` (Goertzel), normalised by length:
    /// a full-scale sine gives about 0.25 * 32767^2.
    public static func power(_ samples: some Collection<Int16>, at hz: Double, rate: Int) -> Double {
        let w = 2 * Double.pi * hz / Double(rate)
        let coefficient = 2 * cos(w)
        var s1 = 0.0, s2 = 0.0
        Array(samples).withUnsafeBufferPointer { x in
            for i in 0..<x.count {
                let s0 = Double(x[i]) + coefficient * s1 - s2
                s2 = s1
                s1 = s0
            }
        }
        let n = Double(max(samples.count, 1))
        return (s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (n * n)
    }

    /// `samples` averaged in groups of `factor`: a crude low-pass and decimation
    /// (first null at the new rate), for finding low tones quickly.
    public static func averaged(_ samples: [Int16], by factor: Int) -> [Int16] {
        stride(from: 0, to: samples.count - factor + 1, by: factor).map { k in
            Int16(samples[k..<(k + factor)].reduce(0) { $0 + Int($1) } / factor)
        }
    }

    /// The frequency in `range` (stepped by `step` Hz) where `samples` have the most power.
    public static func peakFrequency(_ samples: [Int16], rate: Int, in range: ClosedRange<Double>, step: Double = 1) -> Double {
        var best = (hz: range.lowerBound, power: -1.0)
        for hz in stride(from: range.lowerBound, through: range.upperBound, by: step) {
            let p = power(samples, at: hz, rate: rate)
            if p > best.power { best = (hz, p) }
        }
        return best.hz
    }
}
