/// Turns the mixer's interleaved frames into the layouts callrec writes:
/// one channel taken out of several, or all channels mixed down to one.
public enum ChannelMix {
    /// Mixes interleaved `frame` (`channels` per sample) down to `mono`.
    /// Samples are summed in 32 bits (headroom: no intermediate can wrap)
    /// and saturated to 16 bits, so two loud speakers at once clip rather
    /// than wrap around to the opposite sign.
    /// - Returns: the number of samples that had to be clipped.
    @inlinable
    @discardableResult
    public static func downmix(
        _ frame: UnsafeBufferPointer<Int16>, channels: Int, into mono: UnsafeMutableBufferPointer<Int16>
    ) -> Int {
        let count = min(frame.count / channels, mono.count)
        var clipped = 0
        // SAFETY: i * channels + c < count * channels <= frame.count; i < count <= mono.count.
        for i in 0..<count {
            var sum: Int32 = 0
            for c in 0..<channels { sum &+= Int32(frame[i * channels + c]) }
            let limited = min(max(sum, -32768), 32767)
            if limited != sum { clipped += 1 }
            mono[i] = Int16(limited)
        }
        return clipped
    }

    /// Copies channel `channel` of interleaved `frame` into `mono`.
    @inlinable
    public static func extract(
        channel: Int, of frame: UnsafeBufferPointer<Int16>, channels: Int, into mono: UnsafeMutableBufferPointer<Int16>
    ) {
        let count = min(frame.count / channels, mono.count)
        // SAFETY: i * channels + channel < frame.count for i < count and channel < channels.
        for i in 0..<count { mono[i] = frame[i * channels + channel] }
    }
}
