import CallrecCore
import COpusFile
import CSndFile

/// Decodes an Ogg Opus recording and writes it as a 16-bit PCM WAV file, for
/// `catalog export --format wav`: libopusfile decodes (at 48 kHz, the rate
/// every Opus decoder yields), libsndfile writes. The channels are kept as
/// they are (0 = caller, 1 = callee). Streams in blocks: memory does not
/// grow with the recording's length. The WAV is an `AtomicFile`: written
/// under a temporary name and renamed into place when complete.
///
/// The corresponding C functions are `op_open_file`, `op_read`, `sf_open_virtual`
/// and `sf_writef_short`.
public enum OpusToWAV {
    /// What was written.
    public struct Result: Sendable {
        /// Samples per second of the WAV (48000).
        public var sampleRate: Int
        /// Channels, as in the recording.
        public var channels: Int
        /// Samples per channel.
        public var frames: Int64
    }

    /// Decodes `opusPath` into the WAV file `wavPath`.
    public static func convert(opusPath: String, wavPath: String) throws -> Result {
        var error: Int32 = 0
        guard let opus = op_open_file(opusPath, &error) else {
            throw OutputError(code: .io, path: opusPath, message: "cannot decode as Ogg Opus (libopusfile error \(error))")
        }
        defer { op_free(opus) }
        return try convert(opus, name: opusPath, wavPath: wavPath, failure: { nil })
    }

    /// Decodes the Ogg Opus content of `source` (a sealed recording opened
    /// with Sealing's `AgeFileReader`) into the WAV file `wavPath`, reading
    /// `source` where libopusfile seeks: the Ogg Opus bytes are never
    /// written anywhere. `name` names the recording in errors. An error of
    /// `source` (a chunk that does not authenticate) is thrown as it is.
    /// The corresponding C function is `op_open_callbacks`.
    public static func convert(source: any RandomAccessByteSource, name: String, wavPath: String) throws -> Result {
        let stream = OpusSourceStream(source)
        var callbacks = OpusSourceStream.callbacks
        var error: Int32 = 0
        guard let opus = op_open_callbacks(Unmanaged.passUnretained(stream).toOpaque(), &callbacks, nil, 0, &error) else {
            if let failure = stream.error { throw failure }
            throw OutputError(code: .io, path: name, message: "cannot decode as Ogg Opus (libopusfile error \(error))")
        }
        defer { op_free(opus) }
        return try withExtendedLifetime(stream) { try convert(opus, name: name, wavPath: wavPath, failure: { stream.error }) }
    }

    /// Decodes an open libopusfile handle into `wavPath`; `failure` gives the
    /// error behind a failed read of the input, when it has one of its own.
    private static func convert(_ opus: OpaquePointer, name opusPath: String, wavPath: String, failure: () -> (any Error)?) throws -> Result {
        let channels = Int(op_channel_count(opus, -1))
        let rate = 48_000
        var info = SF_INFO()
        info.samplerate = Int32(rate)
        info.channels = Int32(channels)
        info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        let file = try AtomicFile(path: wavPath)
        let io = SndFileVirtualIO(file: file)
        guard let wav = io.open(info: &info) else {
            throw io.failure(OutputError(code: .io, path: wavPath, message: "cannot create: \(String(cString: sf_strerror(nil)))"))
        }
        var closed = false
        defer { if !closed { sf_close(wav) } }
        // 120 ms at 48 kHz: the largest Opus packet, the most op_read returns at once.
        var buffer = [Int16](repeating: 0, count: 5760 * channels)
        var frames: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { op_read(opus, $0.baseAddress, Int32($0.count), nil) }
            if n < 0 { throw failure() ?? OutputError(code: .io, path: opusPath, message: "cannot decode (libopusfile error \(n))") }
            if n == 0 { break }
            let written = buffer.withUnsafeBufferPointer { sf_writef_short(wav, $0.baseAddress, sf_count_t(n)) }
            guard written == sf_count_t(n) else {
                throw io.failure(OutputError(code: .io, path: wavPath, message: "cannot write: \(String(cString: sf_strerror(wav)))"))
            }
            frames += Int64(n)
        }
        closed = true
        let status = sf_close(wav)
        if let error = io.error { throw error }
        guard status == 0 else {
            throw OutputError(code: .io, path: wavPath, message: "cannot finish the file")
        }
        try file.commit()
        return Result(sampleRate: rate, channels: channels, frames: frames)
    }
}

/// A `RandomAccessByteSource` as libopusfile's stream: its position, and the
/// first error a read met (libopusfile only sees a failed read).
private final class OpusSourceStream {
    let source: any RandomAccessByteSource
    var position: Int64 = 0
    var error: (any Error)? = nil

    init(_ source: any RandomAccessByteSource) { self.source = source }

    static func this(_ stream: UnsafeMutableRawPointer?) -> OpusSourceStream {
        Unmanaged<OpusSourceStream>.fromOpaque(stream!).takeUnretainedValue()
    }

    static let callbacks = OpusFileCallbacks(
        read: { stream, pointer, count in
            let me = OpusSourceStream.this(stream)
            guard me.error == nil, let pointer, count > 0 else { return me.error == nil ? 0 : -1 }
            do {
                let n = try me.source.read(into: UnsafeMutableRawBufferPointer(start: pointer, count: Int(count)), at: me.position)
                me.position += Int64(n)
                return Int32(n)
            } catch {
                me.error = error
                return -1
            }
        },
        seek: { stream, offset, whence in
            let me = OpusSourceStream.this(stream)
            let base: Int64 =
                switch whence {
                case SEEK_CUR: me.position
                case SEEK_END: me.source.contentSize
                default: 0
                }
            guard base + offset >= 0 else { return -1 }
            me.position = base + offset
            return 0
        },
        tell: { stream in OpusSourceStream.this(stream).position },
        close: nil
    )
}
