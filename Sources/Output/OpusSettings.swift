/// How callrec drives libopus.
public struct OpusSettings: Sendable, Equatable {
    /// How the channels are coded.
    public enum StreamLayout: String, Sendable, CaseIterable {
        /// One mono Opus stream per channel (mapping family 1, no coupling):
        /// each speaker coded on its own.
        case separate
        /// Channel pairs as coupled stereo streams.
        case coupled
    }

    /// Total bit rate of the file, in bits per second, spread over its streams.
    public var bitrate: Int
    /// Encoder complexity, 0 (fastest) to 10.
    public var complexity: Int
    public var layout: StreamLayout
    /// Frame duration in milliseconds (20 ms suits speech and VoIP packetisation).
    public var frameMilliseconds: Int

    /// 32 kbit/s per call, complexity 5, one stream per speaker, 20 ms frames.
    public static let `default` = OpusSettings(bitrate: 32_000, complexity: 5, layout: .separate, frameMilliseconds: 20)

    public init(bitrate: Int, complexity: Int, layout: StreamLayout, frameMilliseconds: Int) {
        self.bitrate = bitrate
        self.complexity = complexity
        self.layout = layout
        self.frameMilliseconds = frameMilliseconds
    }
}
