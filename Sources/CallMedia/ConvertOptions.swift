import DSP
import Output

/// How a call's two channels are laid out in files.
public enum ChannelLayout: String, Sendable, CaseIterable {
    /// One file, two channels: 0 = caller, 1 = callee.
    case stereo
    /// One file, one channel: both parties mixed (summed with saturation).
    case mono
    /// One mono file per party: `<id>-caller.<ext>` and `<id>-callee.<ext>`.
    case split
}

/// How a leg whose sender clock drifts is kept on capture time (README, "Timeline").
public enum DriftCorrection: String, Sendable, CaseIterable {
    /// Resampled (libsamplerate's variable ratio) at the drift's rate: no sample dropped or repeated.
    case resample
    /// Samples dropped or repeated in silent packets only; speech untouched.
    case silence
}

/// Everything a conversion needs to know, fixed before the first packet.
public struct ConvertOptions: Sendable {
    /// Where recordings go (`OUT/YYYY/MM/DD/<id>.opus`).
    public var outputDirectory: String
    /// How Opus is coded.
    public var opus: OpusSettings
    /// A call with no packets (RTP or SIP) for this long, in capture time, ends.
    public var idleTimeout: Double
    /// A call on hold (its SDP says sendonly, recvonly, inactive or 0.0.0.0)
    /// sends no RTP: it ends after this long without packets instead, in seconds.
    public var holdTimeout: Double
    /// A call that rings without early media sends no RTP either: it ends
    /// after this long without packets (RFC 3261 Timer C is above 3 minutes).
    public var ringTimeout: Double
    /// How long the mixer waits for late packets before a frame is final, in seconds.
    public var jitterWindow: Double
    /// The furthest a leg's audio may be placed from its arrival (a queue
    /// building up under congestion, a sender clock far off), in seconds:
    /// beyond it the leg re-anchors to capture time. The recording holds the
    /// other leg back by as much, so this bounds a call's memory.
    public var maxTimestampSkew: Double
    /// How a leg whose sender clock drifts significantly is brought back to capture time.
    public var driftCorrection: DriftCorrection = .resample
    /// Calls in flight at most; more are counted and dropped.
    public var maxCalls: Int
    /// The file format of recordings.
    public var format: AudioFileFormat = .opus
    /// Stereo, mono or one file per party.
    public var channelLayout: ChannelLayout = .stereo
    /// The recording's sample rate; nil (`auto`): the highest rate among the
    /// codecs the call may carry, fixed at its first audio (every codec either
    /// side's SDP names: 8000 for G.711, 16000 with G.722).
    public var outputRate: Int? = nil
    /// The libsamplerate converter for legs whose rate differs from the recording's.
    public var resampler: Resampler.Converter = Resampler.defaultConverter
    /// The site's own numbers, number prefixes and SIP domains: they decide
    /// each call's direction (see `LocalParties` in the SIP module).
    public var localNumbers: [String]
    public var localPrefixes: [String]
    public var localDomains: [String]
    /// Which waveform peaks files to write beside each recording.
    public var peaks: PeaksOptions = .default
    /// What writing does when the disk is full: nil fails the recording at
    /// once (convert); the live recorder waits for space (`DiskSpaceWait`).
    public var diskSpace: DiskSpaceWait? = nil
    /// Where recording ids are claimed, so that no two calls share one (the
    /// committer releases them); nil: ids straight from start and Call-ID.
    public var recordingIDs: RecordingIDs? = nil
    /// The recorder's Ed25519 signing key file (`--signing-key`); nil: the
    /// output folder's `recorder.key`, made on first use.
    public var signingKeyPath: String? = nil
    /// The compliance recipients (`age1…`, checked by whoever set them):
    /// with one or more, sealing is on, and every recording is sealed to
    /// them, to the users whose numbers are its parties and to their teams.
    public var complianceRecipients: [String] = []
    /// What seals the recordings: installed by the driver (Converter,
    /// Recorder) once the catalog is open, when `complianceRecipients` is not
    /// empty; nil writes everything in the clear.
    public var sealer: (any RecordingSealer)? = nil
    /// The complexity Opus encodes each next frame with, when it may change
    /// during a call (the live recorder under overload); nil: always
    /// `opus.complexity` (convert).
    public var opusComplexity: OpusComplexityLevel? = nil

    public init(
        outputDirectory: String = "recordings", opus: OpusSettings = .default, idleTimeout: Double = 120,
        holdTimeout: Double = 7200, ringTimeout: Double = 300, jitterWindow: Double = 0.4, maxTimestampSkew: Double = 10, maxCalls: Int = 10_000,
        localNumbers: [String] = [], localPrefixes: [String] = [], localDomains: [String] = []
    ) {
        self.outputDirectory = outputDirectory
        self.opus = opus
        self.idleTimeout = idleTimeout
        self.holdTimeout = holdTimeout
        self.ringTimeout = ringTimeout
        self.jitterWindow = jitterWindow
        self.maxTimestampSkew = maxTimestampSkew
        self.maxCalls = maxCalls
        self.localNumbers = localNumbers
        self.localPrefixes = localPrefixes
        self.localDomains = localDomains
    }
}
