import CSndFile
import CallrecCore

/// Writes 16-bit PCM as WAV or FLAC through libsndfile, into an `AtomicFile`
/// (through libsndfile's virtual I/O, so a sealing transform sees every
/// byte: give a sealed file the `.firstChunkLast` layout, since libsndfile
/// rewrites the header at the end).
///
/// The last frame is held back until the next one or `finish`, so the padding
/// the mixer adds to its final frame is trimmed and the file holds exactly the
/// call's length. One owner per handle: `sf_open_virtual` in `init`, `sf_close` in
/// `finish` (or `deinit`). The corresponding C function is `sf_writef_short`.
public final class SndFileWriter: AudioSink {
    /// The PCM the writer takes (and the file holds).
    public let format: AudioFormat
    /// Samples per channel in one frame.
    public let frameSamples: Int
    /// The file being written.
    public let file: AtomicFile
    /// The container written.
    public let container: AudioFileFormat

    private var handle: OpaquePointer?
    private let io: SndFileVirtualIO
    private var pending: [Int16]
    private var hasPending = false
    private var framesWritten: Int64 = 0

    /// - Parameters:
    ///   - container: `.wav` or `.flac`.
    ///   - tags: written as the file's metadata: `START` as the date, the others
    ///     as `KEY=value` pairs separated by "; " in the comment (WAV INFO chunk, FLAC Vorbis comments).
    public init(file: AtomicFile, format: AudioFormat, container: AudioFileFormat, frameMilliseconds: Int = 20, tags: [(String, String)]) throws {
        precondition(container != .opus, "Opus goes through OggOpusWriter")
        self.file = file
        self.format = format
        self.container = container
        frameSamples = format.sampleRate * frameMilliseconds / 1000
        pending = [Int16](repeating: 0, count: frameSamples * format.channels)
        var info = SF_INFO()
        info.samplerate = Int32(format.sampleRate)
        info.channels = Int32(format.channels)
        let major = container == .wav ? SF_FORMAT_WAV : SF_FORMAT_FLAC
        info.format = Int32(major | SF_FORMAT_PCM_16)
        guard sf_format_check(&info) != 0 else {
            throw OutputError(code: .encoder, path: file.path, message: "libsndfile cannot write \(container.rawValue) at \(format)")
        }
        io = SndFileVirtualIO(file: file)
        guard let handle = io.open(info: &info) else {
            throw io.failure(OutputError(code: .encoder, path: file.path, message: "sf_open_virtual: \(String(cString: sf_strerror(nil)))"))
        }
        self.handle = handle
        sf_set_string(handle, Int32(SF_STR_SOFTWARE), "callrec")
        if let start = tags.first(where: { $0.0 == "START" })?.1 {
            sf_set_string(handle, Int32(SF_STR_DATE), start)
        }
        let comment = tags.filter { $0.0 != "START" }.map { "\($0.0)=\($0.1)" }.joined(separator: "; ")
        if !comment.isEmpty { sf_set_string(handle, Int32(SF_STR_COMMENT), comment) }
    }

    deinit {
        if let handle { sf_close(handle) }
    }

    public func write(frame: UnsafeBufferPointer<Int16>) throws {
        precondition(frame.count == pending.count, "a frame is \(frameSamples) samples per channel")
        if hasPending { try writePending(frames: frameSamples) }
        _ = pending.withUnsafeMutableBufferPointer { $0.update(fromContentsOf: frame) }
        hasPending = true
    }

    public func finish(totalSamples: Int64) throws {
        guard let handle else { return }
        if hasPending {
            let remaining = Int(max(0, min(Int64(frameSamples), totalSamples - framesWritten)))
            try writePending(frames: remaining)
        }
        self.handle = nil
        let status = sf_close(handle)
        if let error = io.error { throw error }
        if status != 0 {
            throw OutputError(code: .io, path: file.path, message: "sf_close: \(String(cString: sf_error_number(status)))")
        }
    }

    private func writePending(frames: Int) throws {
        hasPending = false
        guard frames > 0, let handle else { return }
        let written = pending.withUnsafeBufferPointer { sf_writef_short(handle, $0.baseAddress!, sf_count_t(frames)) }
        guard written == frames else {
            throw io.failure(OutputError(code: .io, path: file.path, message: "sf_writef_short: \(String(cString: sf_strerror(handle)))"))
        }
        framesWritten += Int64(frames)
    }
}
