import COpusFile

/// Decodes an Ogg Opus file the way a player does, through libopusfile:
/// pre-skip applied, end trimming honoured, output at 48 kHz.
public struct OggOpusReader {
    /// The decoded audio, one array per channel, at 48 kHz.
    public var channels: [[Int16]]
    /// OpusHead fields.
    public var preSkip: Int
    public var inputSampleRate: Int
    public var mappingFamily: Int
    public var streamCount: Int
    public var coupledCount: Int
    /// OpusTags comments as `KEY=value`.
    public var comments: [String]

    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Samples per channel.
    public var length: Int { channels.first?.count ?? 0 }
    /// Duration in seconds.
    public var duration: Double { Double(length) / 48_000 }

    /// The value of a tag (`CALL_ID`), if present.
    public func tag(_ key: String) -> String? {
        comments.first { $0.uppercased().hasPrefix(key.uppercased() + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    public init(path: String) throws {
        var error: Int32 = 0
        guard let file = op_open_file(path, &error) else {
            throw ReadError(description: "op_open_file(\(path)) failed: \(error)")
        }
        defer { op_free(file) }
        guard let head = op_head(file, -1)?.pointee else { throw ReadError(description: "no OpusHead") }
        preSkip = Int(head.pre_skip)
        inputSampleRate = Int(head.input_sample_rate)
        mappingFamily = Int(head.mapping_family)
        streamCount = Int(head.stream_count)
        coupledCount = Int(head.coupled_count)
        comments = []
        if let tags = op_tags(file, -1)?.pointee {
            for k in 0..<Int(tags.comments) {
                if let entry = tags.user_comments[k] {
                    comments.append(String(cString: entry))
                }
            }
        }
        let channelCount = Int(head.channel_count)
        channels = Array(repeating: [], count: channelCount)
        var buffer = [Int16](repeating: 0, count: 5760 * channelCount)
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { op_read(file, $0.baseAddress, Int32($0.count), nil) }
            if n < 0 { throw ReadError(description: "op_read failed: \(n)") }
            if n == 0 { break }
            for i in 0..<Int(n) {
                for c in 0..<channelCount { channels[c].append(buffer[i * channelCount + c]) }
            }
        }
    }
}
