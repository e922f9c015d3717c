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
}
