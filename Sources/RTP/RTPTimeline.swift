import CallrecCore

/// Maps one leg's RTP timestamps to positions on the call timeline (samples
/// at the recording's rate from the call's time zero), anchored to capture
/// time.
///
/// - The anchor follows the lower envelope of arrivals: network delay only
///   ever adds, so the earliest arrivals trace when the audio was sent.
/// - Clock drift between the sender and the capture clock is estimated by
///   `ClockSkewEstimator` and taken out, so a phone whose clock runs 0.1 %
///   fast stays on capture time for an hour.
/// - A timestamp that disagrees with capture time by more than `maxSkew`
///   (a jump, a restarted sender), or by more than `markerTolerance` on a
///   packet with the marker bit (a new talkspurt), re-anchors to capture
///   time, so a jump of hours never writes hours of audio.
/// - The step (timestamp units per decoded sample) is a parameter the leg
///   learns from the stream: G.722 declares an 8 kHz clock for 16 kHz audio,
///   and some phones tick at 16 kHz anyway.
public struct RTPTimeline: Sendable {
    /// Positions are in samples at this rate.
    public let sampleRate: Int
    /// Decoded samples per second of the leg's codec.
    public private(set) var decodedRate: Int
    /// RTP timestamp units per two decoded samples (2 for G.711; 1 for G.722 with its 8 kHz clock).
    public private(set) var unitsPerTwoSamples: Int
    /// Largest disagreement with capture time tolerated, in seconds.
    public let maxSkew: Double
    /// Largest disagreement tolerated on a marker-bit packet, in seconds.
    public let markerTolerance: Double
    /// Re-anchors because the timestamps disagreed with capture time.
    public private(set) var jumps = 0
    /// Counts hard re-anchors (jumps, resets, codec changes): positions of
    /// packets from an earlier epoch cannot be recomputed from the current mapping.
    public private(set) var epoch = 0

    /// A silence longer than this (seconds of media between packets) starts a new segment.
    public static let segmentGap = 0.25

    private var anchored = false
    private var lastTimestamp: Int64 = 0
    private var anchorTimestamp: Int64 = 0
    private var anchorPosition: Double = 0
    /// Where the drift estimate's media axis starts.
    private var mediaOrigin: Int64 = 0
    private var estimator: ClockSkewEstimator

    /// - Parameters:
    ///   - sampleRate: the call timeline's rate (the recording's).
    ///   - decodedRate: the leg's decoded rate.
    ///   - unitsPerTwoSamples: RTP timestamp units per two decoded samples.
    public init(sampleRate: Int, decodedRate: Int, unitsPerTwoSamples: Int, maxSkew: Double = 1.0, markerTolerance: Double = 0.12) {
        self.sampleRate = sampleRate
        self.decodedRate = decodedRate
        self.unitsPerTwoSamples = unitsPerTwoSamples
        self.maxSkew = maxSkew
        self.markerTolerance = markerTolerance
        estimator = ClockSkewEstimator(windowSamples: Int64(sampleRate))
    }

    /// The current drift estimate (0.001 = the sender's clock runs 0.1 % fast).
    public var drift: Double { estimator.drift }

    /// Timeline samples per RTP timestamp unit, without drift.
    private var scale: Double {
        2.0 / Double(unitsPerTwoSamples) * Double(sampleRate) / Double(decodedRate)
    }

    /// The position of extended timestamp `timestamp` under the current anchor and drift.
    public func position(of timestamp: Int64) -> Int64 {
        Int64((exactPosition(of: timestamp)).rounded())
    }

    private func exactPosition(of timestamp: Int64) -> Double {
        anchorPosition + Double(timestamp - anchorTimestamp) * scale / (1 + estimator.drift)
    }

    /// Takes one packet's extended timestamp and its arrival (timeline
    /// samples since time zero) and returns its position.
    public mutating func place(timestamp: Int64, arrival: Int64, marker: Bool) -> Int64 {
        guard anchored else {
            anchor(timestamp: timestamp, at: Double(arrival))
            return arrival
        }
        defer { lastTimestamp = max(lastTimestamp, timestamp) }
        var predicted = exactPosition(of: timestamp)
        if Double(timestamp - lastTimestamp) * scale > RTPTimeline.segmentGap * Double(sampleRate) {
            // A new talkspurt after silence: its timestamps may not have kept time across the
            // silence, so it starts from capture time (the envelope then pulls it back to the
            // earliest arrivals). Packets still held from before keep their places (new epoch).
            epoch += 1
            estimator.newSegment()
            if Double(arrival) > predicted {
                anchorTimestamp = timestamp
                anchorPosition = Double(arrival)
                predicted = anchorPosition
            }
        }
        let skew = (predicted - Double(arrival)) / Double(sampleRate)
        if abs(skew) > maxSkew || (marker && (skew > markerTolerance || skew < -markerTolerance)) {
            jumps += 1
            epoch += 1
            anchor(timestamp: timestamp, at: Double(arrival))
            return arrival
        }
        // Lower envelope: an arrival earlier than predicted means the anchor was late.
        if Double(arrival) < predicted - 0.5 {
            anchorPosition -= predicted - Double(arrival)
            predicted = Double(arrival)
        }
        let media = Int64((Double(timestamp - mediaOrigin) * scale).rounded())
        if estimator.add(media: media, arrival: arrival), let offset = estimator.envelopeOffset(at: media) {
            // Re-anchor on the fitted envelope at this packet, then follow the new drift.
            anchorPosition = Double(media) + offset
            anchorTimestamp = timestamp
            predicted = anchorPosition
        }
        return Int64(predicted.rounded())
    }

    /// Changes the step (the leg learned it, or its codec changed) and re-anchors at `arrival`.
    public mutating func change(decodedRate: Int, unitsPerTwoSamples: Int, timestamp: Int64, arrival: Int64) {
        if decodedRate != self.decodedRate { epoch += 1 }
        self.decodedRate = decodedRate
        self.unitsPerTwoSamples = unitsPerTwoSamples
        anchor(timestamp: timestamp, at: Double(arrival))
    }

    private mutating func anchor(timestamp: Int64, at position: Double) {
        anchored = true
        lastTimestamp = timestamp
        anchorTimestamp = timestamp
        anchorPosition = position
        mediaOrigin = timestamp
        estimator.reset()
    }

    /// Forgets the anchor (a new SSRC re-anchors on its first packet).
    public mutating func reset() {
        anchored = false
        epoch += 1
        estimator.reset()
    }
}
