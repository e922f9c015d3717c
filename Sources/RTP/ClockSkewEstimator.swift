/// Estimates how a sender's media clock runs against capture time, from
/// the lower envelope of arrival offsets (network delay only ever adds, so
/// the earliest arrivals trace the sender's clock).
///
/// Every `windowSamples` of media, the smallest offset
/// `arrival - mediaPosition` seen in that window is kept. The drift is the
/// slope of a least-squares fit through the last `windows` minima with one
/// intercept per segment: a segment is a run of audio without a silence gap,
/// because across a gap a sender's timestamps may not match the time that
/// passed (some senders count silence loosely), while within a run they
/// follow its clock. Fixed storage; no allocation per packet.
public struct ClockSkewEstimator: Sendable {
    /// Media samples per window.
    public let windowSamples: Int64
    /// Windows kept for the fit.
    public let windows: Int
    /// The largest drift believed (a clock off by more is a broken sender, not drift).
    public let maxDrift: Double
    /// Windows (in runs of two or more) needed before the drift is estimated.
    public let minimumWindows: Int

    private struct Minimum {
        var media: Double
        var offset: Double
        var segment: Int
    }

    private var minima: [Minimum]
    private var head = 0
    private var filled = 0
    private var segment = 0
    private var windowStart: Int64? = nil
    private var windowMin: Minimum? = nil
    /// The current segment's centre in the last fit.
    private var centre: (media: Double, offset: Double)? = nil

    /// The current drift estimate: how much faster the sender's clock runs
    /// than capture time (0.001 = 0.1 % fast). Zero until the fit has
    /// `minimumWindows` windows in runs of at least two.
    public private(set) var drift = 0.0

    public init(windowSamples: Int64, windows: Int = 120, maxDrift: Double = 0.005, minimumWindows: Int = 20) {
        self.windowSamples = windowSamples
        self.windows = windows
        self.maxDrift = maxDrift
        self.minimumWindows = minimumWindows
        minima = Array(repeating: Minimum(media: 0, offset: 0, segment: -1), count: windows)
    }

    /// Takes one packet: its position in media samples, and its arrival in
    /// samples on the same scale.
    /// - Returns: true when the drift estimate changed.
    public mutating func add(media: Int64, arrival: Int64) -> Bool {
        let offset = Double(arrival - media)
        if windowStart == nil { windowStart = media }
        if windowMin == nil || offset < windowMin!.offset {
            windowMin = Minimum(media: Double(media), offset: offset, segment: segment)
        }
        guard media - windowStart! >= windowSamples, let m = windowMin else { return false }
        minima[head] = m
        head = (head + 1) % windows
        filled = min(filled + 1, windows)
        windowStart = media
        windowMin = nil
        return refit()
    }

    /// Starts a new segment (the sender was silent; its next timestamps may
    /// be offset from the last ones). The window in progress is dropped.
    public mutating func newSegment() {
        segment += 1
        windowStart = nil
        windowMin = nil
        centre = nil
    }

    private mutating func refit() -> Bool {
        // Pooled within-segment slope: the sum over segments of co-variation over variation.
        // Minima are in time order in the ring and segment numbers only grow, so each
        // segment is one run of consecutive entries.
        var sxx = 0.0, sxy = 0.0, points = 0
        var current: (media: Double, offset: Double)? = nil
        let oldest = (head - filled + windows) % windows
        var k = 0
        while k < filled {
            let s = minima[(oldest + k) % windows].segment
            var end = k
            var mx = 0.0, my = 0.0
            while end < filled, minima[(oldest + end) % windows].segment == s {
                mx += minima[(oldest + end) % windows].media
                my += minima[(oldest + end) % windows].offset
                end += 1
            }
            let n = Double(end - k)
            mx /= n
            my /= n
            if s == segment { current = (mx, my) }
            if end - k >= 2 {
                for i in k..<end {
                    let p = minima[(oldest + i) % windows]
                    sxx += (p.media - mx) * (p.media - mx)
                    sxy += (p.media - mx) * (p.offset - my)
                }
                points += end - k
            }
            k = end
        }
        centre = current
        // Twenty windows (20 s at the timeline's default) before a slope is trusted: with a
        // few milliseconds of jitter left in the minima, that bounds the error near 0.01 %.
        guard points >= minimumWindows, sxx > 0 else { return false }
        // offset = c - drift * media (a fast sender's media outruns capture time).
        let estimate = max(-maxDrift, min(maxDrift, -sxy / sxx))
        guard abs(estimate - drift) > 1e-6 else { return false }
        drift = estimate
        return true
    }

    /// The lower envelope's offset (`arrival - media`) at media position
    /// `media` in the current segment, from the fit; nil until there is one.
    public func envelopeOffset(at media: Int64) -> Double? {
        guard let centre else { return nil }
        return centre.offset - drift * (Double(media) - centre.media)
    }

    /// Forgets everything (a new SSRC, a re-anchor).
    public mutating func reset() {
        head = 0
        filled = 0
        segment += 1
        windowStart = nil
        windowMin = nil
        centre = nil
        drift = 0
    }
}
