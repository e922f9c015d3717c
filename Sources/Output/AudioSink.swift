import CallrecCore

/// The audio file formats callrec writes.
public enum AudioFileFormat: String, Sendable, CaseIterable {
    /// Ogg Opus (RFC 7845) through libopus + libogg: small, lossy, every player reads it.
    case opus
    /// RIFF WAVE, 16-bit PCM, through libsndfile: exact, large, universally read.
    case wav
    /// FLAC, 16-bit, through libsndfile: exact and about half the size of WAV.
    case flac

    /// The file name extension, without the dot.
    public var fileExtension: String { rawValue }
}

/// Where a recording's frames go: an encoder writing one file. Frames are
/// `frameSamples` per channel, interleaved, at `format`'s rate; `finish`
/// trims the padding of the last frame so the file holds exactly
/// `totalSamples` per channel.
public protocol AudioSink: AnyObject {
    /// The PCM the sink takes.
    var format: AudioFormat { get }
    /// Samples per channel in one frame.
    var frameSamples: Int { get }
    /// The file being written (under its temporary name until published).
    var file: AtomicFile { get }
    /// Takes one frame: exactly `frameSamples * format.channels` interleaved samples.
    func write(frame: UnsafeBufferPointer<Int16>) throws
    /// Ends the file so that it holds `totalSamples` samples per channel
    /// (the caller syncs and publishes `file`).
    func finish(totalSamples: Int64) throws
    /// The highest frequency `channel`'s source carries, in Hz, from now on:
    /// a lossy coder spends no bits above it; a lossless one ignores it.
    func setSourceBandwidth(channel: Int, hz: Int)
    /// Encodes the next frames with Opus complexity `complexity`; a lossless sink ignores it.
    func setComplexity(_ complexity: Int)
}

extension AudioSink {
    /// Lossless files keep whatever they are given.
    public func setSourceBandwidth(channel: Int, hz: Int) {}
    /// Lossless files have no complexity to set.
    public func setComplexity(_ complexity: Int) {}
}

extension OggOpusWriter: AudioSink {}
