import CSndFile

/// libsndfile writing into an `AtomicFile` through its virtual I/O
/// callbacks, so every byte goes through `AtomicFile.write` (and through the
/// file's transform when it seals) rather than to a descriptor libsndfile
/// would write plaintext to. libsndfile writes its header, the samples in
/// order, and at close seeks back to rewrite the header with the final
/// lengths (WAV's RIFF and data sizes, FLAC's STREAMINFO): a write at the end
/// appends, a write before it overwrites content already written (for a
/// sealed file, only within what its transform still holds: the
/// `.firstChunkLast` layout keeps the first 64 KiB for that).
///
/// An error in a callback (a full disk that does not clear, a refused
/// overwrite) is kept and thrown by the writer once libsndfile returns.
/// The corresponding C function is `sf_open_virtual`.
final class SndFileVirtualIO {
    let file: AtomicFile
    /// libsndfile's file position, in content bytes.
    private var position: Int64 = 0
    /// The first error a callback met.
    private(set) var error: (any Error)? = nil

    init(file: AtomicFile) { self.file = file }

    /// Opens a libsndfile handle writing into `file`. The handle must be
    /// closed while this object lives (the owner keeps both).
    func open(info: inout SF_INFO) -> OpaquePointer? {
        var io = SndFileVirtualIO.callbacks
        return sf_open_virtual(&io, Int32(SFM_WRITE), &info, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The error a callback met, or `fallback` when libsndfile failed on its own.
    func failure(_ fallback: @autoclosure () -> OutputError) -> any Error { error ?? fallback() }

    private static func this(_ user: UnsafeMutableRawPointer?) -> SndFileVirtualIO {
        Unmanaged<SndFileVirtualIO>.fromOpaque(user!).takeUnretainedValue()
    }

    private static let callbacks = SF_VIRTUAL_IO(
        get_filelen: { user in sf_count_t(SndFileVirtualIO.this(user).file.contentSize) },
        seek: { offset, whence, user in
            let io = SndFileVirtualIO.this(user)
            let base: Int64 =
                switch whence {
                case SEEK_CUR: io.position
                case SEEK_END: io.file.contentSize
                default: 0
                }
            let target = base + Int64(offset)
            guard target >= 0 else { return -1 }
            io.position = target
            return sf_count_t(target)
        },
        // Written files are never read back (a sealed one could not be).
        read: { _, _, _ in 0 },
        write: { pointer, count, user in
            let io = SndFileVirtualIO.this(user)
            guard io.error == nil, let pointer else { return 0 }
            do {
                try io.write(UnsafeRawBufferPointer(start: pointer, count: Int(count)))
                return count
            } catch {
                io.error = error
                return 0
            }
        },
        tell: { user in sf_count_t(SndFileVirtualIO.this(user).position) }
    )

    /// Writes at the current position: overwriting what is before the end, appending the rest.
    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        let end = file.contentSize
        if position < end {
            let n = min(bytes.count, Int(end - position))
            try file.write(UnsafeRawBufferPointer(rebasing: bytes[..<n]), at: position)
            done = n
        } else if position > end {
            // A seek past the end: the gap reads as zeros, as in a file.
            try file.write([UInt8](repeating: 0, count: Int(position - end)))
        }
        if done < bytes.count { try file.write(UnsafeRawBufferPointer(rebasing: bytes[done...])) }
        position += Int64(bytes.count)
    }
}
