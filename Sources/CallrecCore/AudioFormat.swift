/// The shape of PCM audio: sample rate and channel count. Samples are
/// always signed 16-bit, interleaved.
public struct AudioFormat: Hashable, Sendable, CustomStringConvertible {
    /// Samples per second per channel.
    public var sampleRate: Int
    /// Interleaved channels.
    public var channels: Int

    public init(sampleRate: Int, channels: Int) {
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Samples per channel in `milliseconds` of audio (`20 ms at 8 kHz` is 160).
    @inlinable
    public func samples(milliseconds: Int) -> Int { sampleRate * milliseconds / 1000 }

    public var description: String { "\(sampleRate) Hz, \(channels) ch" }
}
