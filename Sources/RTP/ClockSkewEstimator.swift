/// Estimates how a sender's media clock runs against capture time from the
/// lower envelope of arrival delays, and says whether the drift it finds is
/// real: evidence that survives jitter and congestion, because network
/// delay only ever adds to the time a packet takes.
///
/// Each `windowSamples` of media, the smallest delay (`arrival - position`)
/// of that window is kept. The drift is the slope of the line that lies
/// below every kept minimum and closest to them on average (Moon, Skelly and
/// Towsley's linear program for clock skew, 1999): its optimum is the edge
/// of the minima's lower convex hull that spans their mean media time, so
/// the estimator keeps only that hull (a bounded stack, thinned when full)
/// and running sums. No allocation per packet.
///
/// The slope is believed (`significant`) only when the drift it describes
/// has moved the envelope by more than `minimumShift` across the evidence
/// and by several times the minima's mean distance above the line (jitter
/// left in the minima, or a queue that built up and drained), and when it is
/// within `maxDrift`: a steady climb of arrivals steeper than any clock
/// drifts is congestion, and the timestamps keep their word.
public struct ClockSkewEstimator: Sendable {
    /// Media samples per window.
    public let windowSamples: Int64
    /// The largest drift believed (a slope beyond it is congestion or a broken sender, not a clock).
    public let maxDrift: Double
    /// How far the drift must have moved the envelope across the evidence, in samples.
    public let minimumShift: Double

    private struct Point {
        var media: Double
        var delay: Double
    }

    /// The lower convex hull of the window minima, in media order.
    private var hull: [Point]
    private var hullCount = 0
    private var count = 0
    private var sumMedia = 0.0
    private var sumDelay = 0.0
    private var firstMedia = 0.0
    private var lastMedia = 0.0
    private var windowStart: Int64? = nil
    private var windowMin: Point? = nil

    /// The slope of the envelope (0.001: the sender's clock runs 0.1 % fast), nil before two windows.
    public private(set) var estimate: Double? = nil
    /// The minima's mean distance above the envelope, in samples.
    public private(set) var spread = 0.0
    /// Whether `estimate` is drift to correct (see the type's description).
    public private(set) var significant = false

    /// - Parameters:
    ///   - windowSamples: media samples per window (one second at the timeline's rate).
    ///   - maxDrift: the largest drift corrected.
    ///   - minimumShift: how far (in samples) the drift must have moved the envelope before it is believed.
    ///   - hullCapacity: hull points kept (thinned to half when full).
    public init(windowSamples: Int64, maxDrift: Double = 0.02, minimumShift: Double, hullCapacity: Int = 64) {
        self.windowSamples = windowSamples
        self.maxDrift = maxDrift
        self.minimumShift = minimumShift
        hull = Array(repeating: Point(media: 0, delay: 0), count: max(4, hullCapacity))
    }

    /// Media seconds of evidence (first to last window minimum), in samples.
    public var span: Double { count > 1 ? lastMedia - firstMedia : 0 }

    /// Takes one packet: its position in media samples (from the run's
    /// anchor, without drift) and its delay (`arrival - position`) in samples.
    /// - Returns: true when a window closed and the estimate was refitted.
    public mutating func add(media: Int64, delay: Double) -> Bool {
        if windowStart == nil { windowStart = media }
        if windowMin == nil || delay < windowMin!.delay { windowMin = Point(media: Double(media), delay: delay) }
        guard media - windowStart! >= windowSamples, let m = windowMin else { return false }
        windowStart = media
        windowMin = nil
        push(m)
        refit()
        return true
    }

    private mutating func push(_ p: Point) {
        if count == 0 { firstMedia = p.media }
        count += 1
        sumMedia += p.media
        sumDelay += p.delay
        lastMedia = max(lastMedia, p.media)
        // Andrew's monotone chain, lower hull: drop points the new one sees below.
        while hullCount >= 2, cross(hull[hullCount - 2], hull[hullCount - 1], p) <= 0 { hullCount -= 1 }
        if hullCount > 0, p.media <= hull[hullCount - 1].media {
            // Not later than the last point (a reordered window): keep the lower of the two.
            if p.delay < hull[hullCount - 1].delay { hull[hullCount - 1] = p }
            return
        }
        if hullCount == hull.count {
            // Full: keep every other interior point (the hull stays below all minima, a little looser).
            var k = 1
            var i = 2
            while i < hullCount - 1 {
                hull[k] = hull[i]
                k += 1
                i += 2
            }
            hull[k] = hull[hullCount - 1]
            hullCount = k + 1
        }
        hull[hullCount] = p
        hullCount += 1
    }

    /// > 0 when o, a, b turn counter-clockwise (b lies above the line o-a extended).
    private func cross(_ o: Point, _ a: Point, _ b: Point) -> Double {
        (a.media - o.media) * (b.delay - o.delay) - (a.delay - o.delay) * (b.media - o.media)
    }

    private mutating func refit() {
        guard hullCount >= 2 else { return }
        let meanMedia = sumMedia / Double(count)
        var k = 0
        while k < hullCount - 2, hull[k + 1].media < meanMedia { k += 1 }
        let a = hull[k], b = hull[k + 1]
        let slope = (b.delay - a.delay) / (b.media - a.media)
        // delay = c + slope * media; a fast sender's media outruns capture time: delay falls.
        let drift = -slope
        let line = a.delay + slope * (meanMedia - a.media)
        spread = max(0, sumDelay / Double(count) - line)
        estimate = drift
        let shift = abs(drift) * span
        significant = abs(drift) <= maxDrift && shift >= minimumShift && shift >= 4 * spread
    }

    /// Forgets everything (a new SSRC, a re-anchor).
    public mutating func reset() {
        hullCount = 0
        count = 0
        sumMedia = 0
        sumDelay = 0
        firstMedia = 0
        lastMedia = 0
        windowStart = nil
        windowMin = nil
        estimate = nil
        spread = 0
        significant = false
    }
}
