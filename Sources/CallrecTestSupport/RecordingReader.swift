import CSndFile

/// Reads a WAV or FLAC file the way a player does, through libsndfile.
public struct SoundFileReader {
    /// The decoded audio, one array per channel.
    public var channels: [[Int16]]
    public var sampleRate: Int

    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Samples per channel.
    public var length: Int { channels.first?.count ?? 0 }
    /// Duration in seconds.
    public var duration: Double { Double(length) / Double(sampleRate) }

    public init(path: String) throws {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw ReadError(description: "sf_open(\(path)): \(String(cString: sf_strerror(nil)))")
        }
        defer { sf_close(file) }
        sampleRate = Int(info.samplerate)
        let count = Int(info.channels)
        var interleaved = [Int16](repeating: 0, count: Int(info.frames) * count)
        let read = interleaved.withUnsafeMutableBufferPointer { sf_readf_short(file, $0.baseAddress, info.frames) }
        guard read == info.frames else { throw ReadError(description: "\(path): read \(read) of \(info.frames) frames") }
        channels = (0..<count).map { c in stride(from: c, to: interleaved.count, by: count).map { interleaved[$0] } }
    }

    /// The file's metadata string of `type` (`SF_STR_COMMENT` ...), if any.
    public static func string(_ type: Int32, path: String) -> String? {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else { return nil }
        defer { sf_close(file) }
        return sf_get_string(file, type).map { String(cString: $0) }
    }
}

/// A recording decoded from any format callrec writes: Opus through
/// libopusfile (at 48 kHz, as players decode it), WAV and FLAC through
/// libsndfile (at the file's own rate).
public struct DecodedRecording {
    /// The decoded audio, one array per channel.
    public var channels: [[Int16]]
    /// 48000 for Opus, the file's rate otherwise.
    public var sampleRate: Int

    public init(path: String) throws {
        if path.hasSuffix(".opus") {
            let reader = try OggOpusReader(path: path)
            channels = reader.channels
            sampleRate = 48_000
        } else {
            let reader = try SoundFileReader(path: path)
            channels = reader.channels
            sampleRate = reader.sampleRate
        }
    }

    /// Duration in seconds.
    public var duration: Double { Double(channels.first?.count ?? 0) / Double(sampleRate) }

    /// Channel `c` at `rate` (an integer divisor of the file's rate), by keeping
    /// every n-th sample: enough for comparing band-limited speech.
    public func channel(_ c: Int, at rate: Int) -> [Int16] {
        precondition(sampleRate % rate == 0, "\(rate) does not divide \(sampleRate)")
        return SignalMetrics.decimate(channels[c], by: sampleRate / rate)
    }
}
