import CallrecCore

/// Places one leg's RTP timestamps on the call timeline: a sample position
/// at the output rate, counted from the call's time zero.
///
/// The first packet anchors the leg to capture time; later packets follow
/// their RTP timestamps, so a gap from loss or silence suppression stays a
/// gap of the same length. A timestamp that disagrees with capture time by
/// more than `maxSkew` (a jump, a new SSRC, a broken sender) re-anchors the
/// leg to capture time, so a jump of hours can never write hours of audio.
public struct RTPTimeline: Sendable {
    /// RTP clock ticks per second, as the stream runs.
    public var clockRate: Int
    /// Decoded samples per second of this leg's audio on the call timeline.
    public var sampleRate: Int
    /// The largest disagreement with capture time tolerated, in seconds.
    public var maxSkew: Double
    /// Re-anchors so far (timestamp jumps).
    public private(set) var reanchors = 0

    private var anchored = false
    private var anchorTimestamp: Int64 = 0
    private var anchorPosition: Int64 = 0
    private var lastTimestamp: UInt32 = 0
    private var extendedTimestamp: Int64 = 0

    public init(clockRate: Int, sampleRate: Int, maxSkew: Double = 1.0) {
        self.clockRate = clockRate
        self.sampleRate = sampleRate
        self.maxSkew = maxSkew
    }

    /// The call-timeline sample position of a packet with RTP `timestamp`
    /// that arrived at `arrival`, for a call whose time zero is `origin`.
    public mutating func position(timestamp: UInt32, arrival: MediaTime, origin: MediaTime) -> Int64 {
        let expected = arrival.samples(since: origin, rate: sampleRate)
        if !anchored {
            anchor(timestamp: timestamp, at: expected)
            return expected
        }
        // Extend the 32-bit timestamp relative to the last one:
        // ts 0xFFFFFF00 -> 0x00000040 is a step of +0x140, not -0xFFFFFEC0.
        let step = Int64(Int32(bitPattern: timestamp &- lastTimestamp))
        extendedTimestamp += step
        lastTimestamp = timestamp
        let position = anchorPosition + (extendedTimestamp - anchorTimestamp) * Int64(sampleRate) / Int64(clockRate)
        let skew = Double(position - expected) / Double(sampleRate)
        if abs(skew) > maxSkew {
            reanchors += 1
            anchor(timestamp: timestamp, at: expected)
            return expected
        }
        return position
    }

    private mutating func anchor(timestamp: UInt32, at position: Int64) {
        anchored = true
        lastTimestamp = timestamp
        extendedTimestamp = 0
        anchorTimestamp = 0
        anchorPosition = position
    }

    /// Forgets the anchor (a new SSRC on the same leg re-anchors on its first packet).
    public mutating func reset() {
        anchored = false
    }
}
