#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One open file, read with `read` or `pread`; closed in `deinit`.
final class SealedFileDescriptor {
    let path: String
    let fd: Int32
    private let owned: Bool

    /// Opens `path` for reading.
    init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        owned = true
        if fd < 0 { throw SealedFileDescriptor.error(errno, path: path, doing: "cannot open") }
    }

    /// Reads from a descriptor someone else owns (standard input).
    init(borrowing fd: Int32, name: String) {
        self.path = name
        self.fd = fd
        owned = false
    }

    deinit { if owned { close(fd) } }

    /// The file's size in bytes.
    func size() throws -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SealedFileDescriptor.error(errno, path: path, doing: "cannot stat") }
        return Int64(info.st_size)
    }

    /// Fills `buffer` from `offset`, short only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw SealedFileDescriptor.error(errno, path: path, doing: "cannot read")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Fills `buffer` from the current position, short only at the end of the input.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw SealedFileDescriptor.error(errno, path: path, doing: "cannot read")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func error(_ code: Int32, path: String, doing: String) -> SealingError {
        SealingError(.io, path: path, "\(doing): \(String(cString: strerror(code)))")
    }
}
