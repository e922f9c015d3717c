import Output

/// Everything a conversion needs to know, fixed before the first packet.
public struct ConvertOptions: Sendable {
    /// Where recordings go (`OUT/YYYY/MM/DD/<id>.opus`).
    public var outputDirectory: String
    /// How Opus is coded.
    public var opus: OpusSettings
    /// A call with no packets (RTP or SIP) for this long, in capture time, ends.
    public var idleTimeout: Double
    /// How long the mixer waits for late packets before a frame is final, in seconds.
    public var jitterWindow: Double
    /// A leg whose RTP timestamps disagree with capture time by more than this re-anchors, in seconds.
    public var maxTimestampSkew: Double
    /// Calls in flight at most; more are counted and dropped.
    public var maxCalls: Int
    /// Which waveform peaks files to write beside each recording.
    public var peaks: PeaksOptions = .default

    public init(
        outputDirectory: String = "recordings", opus: OpusSettings = .default, idleTimeout: Double = 120,
        jitterWindow: Double = 0.4, maxTimestampSkew: Double = 1.0, maxCalls: Int = 10_000
    ) {
        self.outputDirectory = outputDirectory
        self.opus = opus
        self.idleTimeout = idleTimeout
        self.jitterWindow = jitterWindow
        self.maxTimestampSkew = maxTimestampSkew
        self.maxCalls = maxCalls
    }
}
