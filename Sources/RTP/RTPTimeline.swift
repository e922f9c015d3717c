import CallrecCore

/// Maps one leg's RTP timestamps to positions on the call timeline (samples
/// at the recording's rate from the call's time zero).
///
/// The sender's RTP clock is the truth for where audio goes; capture time
/// only anchors it:
///
/// - A run (a stretch of one SSRC whose timestamps keep time) is placed
///   rigidly by its timestamps from one anchor: a gap from loss or silence
///   suppression keeps its length, and however late packets arrive (jitter,
///   a queue building up under congestion) not one sample moves.
/// - The anchor is the lower envelope of the run's first arrivals (network
///   delay only ever adds): it follows earlier arrivals until the run's audio
///   starts to play (`settle()`), then stays.
/// - Clock drift is corrected only when `ClockSkewEstimator` finds it
///   significant (the lower envelope of arrivals over long windows climbs or
///   falls steadily, within ±`maxDrift`), or when the sender's RTCP reports
///   say it (`senderReport`). Then the run is mapped at the drift's rate
///   from its anchor, as if corrected from its start: the leg moves its
///   audio there gradually (`Leg`), never in a jump.
/// - A new run starts (re-anchored to capture time, a new `epoch`) when the
///   timestamps break their word: a packet's delay differs from the last
///   packet's by more than `maxStep` (a jump, a restarted sender), or by more
///   than `markerTolerance` at a talkspurt start (a sender that does not
///   count silence), or audio would sit more than `maxLag` from where it
///   arrived (bounded memory). Jumps and lags are counted in `jumps`.
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
    /// The largest change of delay between two packets that is still the same run, in seconds.
    public let maxStep: Double
    /// The largest change of delay tolerated at a talkspurt start (marker bit or silence), in seconds.
    public let markerTolerance: Double
    /// The furthest audio may sit from its arrival (either way) before the run re-anchors, in seconds.
    public let maxLag: Double
    /// Re-anchors because the timestamps disagreed with capture time.
    public private(set) var jumps = 0
    /// Counts hard re-anchors (jumps, resets, codec changes): positions of
    /// packets from an earlier epoch cannot be recomputed from the current mapping.
    public private(set) var epoch = 0

    /// A silence longer than this (seconds of media between packets) is a talkspurt start.
    public static let segmentGap = 0.25

    private var anchored = false
    /// Whether the run's audio has started to play: its anchor is final.
    private var settled = false
    private var lastTimestamp: Int64 = 0
    /// The delay (arrival - position, samples) of the last packet placed.
    private var lastDelay = 0.0
    /// The mapping: `position = anchorPosition + (timestamp - anchorTimestamp) * scale / (1 + applied)`.
    private var anchorTimestamp: Int64 = 0
    private var anchorPosition: Double = 0
    private var estimator: ClockSkewEstimator
    /// The drift taken out of the mapping (0 unless significant).
    public private(set) var applied = 0.0
    /// The sender's reports of this run: the first and the latest (NTP seconds, extended RTP timestamp).
    private var firstReport: (ntp: Double, timestamp: Int64)? = nil
    private var lastReport: (ntp: Double, timestamp: Int64)? = nil
    /// Where the drift comes from once applied.
    public private(set) var driftSource = DriftSource.none

    /// What a drift correction rests on.
    public enum DriftSource: String, Sendable {
        case none
        /// The lower envelope of arrivals.
        case arrivals
        /// RTCP sender reports (NTP/RTP timestamp pairs).
        case senderReports
    }

    /// RTCP sender reports must span this long (seconds) before their drift is taken.
    public static let reportSpan = 4.0
    /// Drift smaller than this is never corrected (a clock within 20 ppm is a good clock).
    public static let minimumDrift = 20e-6

    /// - Parameters:
    ///   - sampleRate: the call timeline's rate (the recording's).
    ///   - decodedRate: the leg's decoded rate.
    ///   - unitsPerTwoSamples: RTP timestamp units per two decoded samples.
    ///   - maxDrift: the largest drift corrected (0.02: a clock 2 % off).
    public init(
        sampleRate: Int, decodedRate: Int, unitsPerTwoSamples: Int, maxStep: Double = 1.0, markerTolerance: Double = 0.12,
        maxLag: Double = 10, maxDrift: Double = 0.02
    ) {
        self.sampleRate = sampleRate
        self.decodedRate = decodedRate
        self.unitsPerTwoSamples = unitsPerTwoSamples
        self.maxStep = maxStep
        self.markerTolerance = markerTolerance
        self.maxLag = maxLag
        // Believed once it has moved the envelope by 20 ms and by four times the jitter left in the minima.
        estimator = ClockSkewEstimator(windowSamples: Int64(sampleRate), maxDrift: maxDrift, minimumShift: 0.02 * Double(sampleRate))
    }

    /// The drift corrected (0.001 = the sender's clock runs 0.1 % fast); 0 when none is.
    public var drift: Double { applied }

    /// The envelope's slope as estimated so far, corrected or not (for tests and diagnostics).
    public var estimatedDrift: Double? { estimator.estimate }

    /// Timeline samples per RTP timestamp unit, without drift.
    private var scale: Double {
        2.0 / Double(unitsPerTwoSamples) * Double(sampleRate) / Double(decodedRate)
    }

    /// The position of extended timestamp `timestamp` under the current anchor and drift.
    public func position(of timestamp: Int64) -> Int64 {
        Int64(exactPosition(of: timestamp).rounded())
    }

    /// The same, unrounded.
    public func exactPosition(of timestamp: Int64) -> Double {
        anchorPosition + Double(timestamp - anchorTimestamp) * scale / (1 + applied)
    }

    /// The delay of the last packet placed (arrival minus position), in timeline samples:
    /// how far behind its arrival the leg's audio is placed.
    public var lag: Int64 { anchored ? Int64(lastDelay.rounded()) : 0 }

    /// The run's audio starts to play: its anchor is final from now on.
    public mutating func settle() {
        settled = true
    }

    /// Takes one packet's extended timestamp and its arrival (timeline
    /// samples since time zero) and returns its position.
    public mutating func place(timestamp: Int64, arrival: Int64, marker: Bool) -> Int64 {
        guard anchored else {
            anchor(timestamp: timestamp, at: Double(arrival))
            return arrival
        }
        let rate = Double(sampleRate)
        var predicted = exactPosition(of: timestamp)
        var delay = Double(arrival) - predicted
        let step = delay - lastDelay
        let talkspurt = marker || Double(timestamp - lastTimestamp) * scale > RTPTimeline.segmentGap * rate
        if abs(step) > maxStep * rate || abs(delay) > maxLag * rate {
            // The timestamps jumped (or the audio would sit too far from its arrival): a new run.
            jumps += 1
            epoch += 1
            anchor(timestamp: timestamp, at: Double(arrival))
            return arrival
        }
        if talkspurt && timestamp > lastTimestamp && abs(step) > markerTolerance * rate {
            // A talkspurt whose timestamps did not keep time across the silence (some senders
            // count silence loosely): it goes where it arrived, less the leg's usual delay.
            epoch += 1
            let keep = (applied, driftSource)
            anchor(timestamp: timestamp, at: Double(arrival) - max(0, lastDelay))
            (applied, driftSource) = keep
            lastTimestamp = timestamp
            return Int64(anchorPosition.rounded())
        }
        lastTimestamp = max(lastTimestamp, timestamp)
        if !settled && delay < 0 {
            // Lower envelope: an arrival earlier than predicted means the anchor was late.
            anchorPosition += delay
            predicted += delay
            delay = 0
        }
        lastDelay = delay
        let media = Double(timestamp - anchorTimestamp) * scale
        if driftSource != .senderReports, estimator.add(media: Int64(media.rounded()), delay: Double(arrival) - (anchorPosition + media)) {
            if estimator.significant, let estimate = estimator.estimate {
                apply(drift: estimate, source: .arrivals)
            } else if driftSource == .arrivals && estimator.span >= 30 * rate {
                // Half a minute more of evidence and no drift left to see: the correction ends.
                apply(drift: 0, source: .none)
            }
        }
        return Int64(exactPosition(of: timestamp).rounded())
    }

    /// Takes an RTCP sender report of this leg's current source: the NTP
    /// time (seconds) and the extended RTP timestamp of the same instant.
    /// Once two reports span `reportSpan`, their ratio is the sender's media
    /// clock against its wall clock, free of network jitter: it replaces the
    /// arrivals' estimate (when at least `minimumDrift`, within the range).
    public mutating func senderReport(ntp: Double, timestamp: Int64) {
        guard anchored else { return }
        if let first = firstReport, ntp <= first.ntp { return }
        if firstReport == nil {
            firstReport = (ntp, timestamp)
            return
        }
        lastReport = (ntp, timestamp)
        let first = firstReport!
        let elapsed = ntp - first.ntp
        guard elapsed >= RTPTimeline.reportSpan else { return }
        let media = Double(timestamp - first.timestamp) * 2 / Double(unitsPerTwoSamples) / Double(decodedRate)
        let drift = media / elapsed - 1
        guard abs(drift) <= estimator.maxDrift else { return }
        apply(drift: drift, source: .senderReports)
    }

    /// Runs the run's mapping at `drift` from its anchor.
    private mutating func apply(drift: Double, source: DriftSource) {
        applied = abs(drift) < RTPTimeline.minimumDrift ? 0 : drift
        driftSource = applied == 0 && source != .senderReports ? .none : source
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
        settled = false
        lastTimestamp = timestamp
        lastDelay = 0
        anchorTimestamp = timestamp
        anchorPosition = position
        applied = 0
        driftSource = .none
        firstReport = nil
        lastReport = nil
        estimator.reset()
    }

    /// Forgets the anchor (a new SSRC re-anchors on its first packet).
    public mutating func reset() {
        anchored = false
        epoch += 1
        estimator.reset()
        applied = 0
        driftSource = .none
        firstReport = nil
        lastReport = nil
    }
}
