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

    /// Total bit rate of the file, in bits per second, spread over its
    /// streams; nil (`auto`) chooses by rate, see `bitrate(sampleRate:channels:)`.
    public var bitrate: Int?
    /// Encoder complexity, 0 (fastest) to 10.
    public var complexity: Int
    public var layout: StreamLayout
    /// Frame duration in milliseconds (20 ms suits speech and VoIP packetisation).
    public var frameMilliseconds: Int
    /// The most audio, in seconds, an Ogg page holds before it is written
    /// out: what a recording in flight can lose when its writer dies (the
    /// file on disk ends at its last complete page, see `OggOpusSalvage`),
    /// and how long a reader of a file being written waits for more. At
    /// least one frame; 1 s by default, as opusenc pages.
    public var flushInterval: Double = 1.0

    /// Automatic bit rate, complexity 5, one stream per speaker, 20 ms frames:
    /// chosen by PESQ against the payload's own decode and by `callrec bench`
    /// (README, "Opus settings").
    public static let `default` = OpusSettings(bitrate: nil, complexity: 5, layout: .separate, frameMilliseconds: 20)

    /// The automatic rate per channel: 16 kbit/s for narrowband (8 kHz)
    /// speech, 24 kbit/s from 12 kHz up (wideband needs the extra bits: at
    /// 16 kbit/s a G.722 speaker loses about 0.5 PESQ).
    public static func automaticBitrate(perChannelAt sampleRate: Int) -> Int {
        sampleRate <= 8000 ? 16_000 : 24_000
    }

    /// The bit rate to code `channels` channels at `sampleRate` with: the set
    /// one, or the automatic rate per channel times the channels.
    public func bitrate(sampleRate: Int, channels: Int) -> Int {
        bitrate ?? OpusSettings.automaticBitrate(perChannelAt: sampleRate) * channels
    }

    public init(bitrate: Int?, complexity: Int, layout: StreamLayout, frameMilliseconds: Int) {
        self.bitrate = bitrate
        self.complexity = complexity
        self.layout = layout
        self.frameMilliseconds = frameMilliseconds
    }
}
