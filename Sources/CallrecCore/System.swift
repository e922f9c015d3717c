#if canImport(Glibc)
import Glibc
#else
#error("callrec is built and tested on Linux with glibc only (README, \"Platforms\")")
#endif

/// The system calls callrec makes on files and on its own process, in one
/// place. Beside it in CallrecCore, `Lock`, `WorkerThread`, `SignalWatcher`
/// and the clocks wrap threads, signals and time; nothing else in the
/// shipped modules calls the C library for these (math comes from libm
/// where it is used).
///
/// Each call retries on `EINTR` and reports failure as a `SystemError`
/// carrying `errno` and its text; what the caller does with it (a full disk
/// waited out, a missing file named) stays with the caller.
package enum System {
    // MARK: Files

    /// Opens `path` for reading.
    package static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(errno) }
        return fd
    }

    /// Opens the existing file `path` for reading and writing, its bytes kept
    /// (a file an earlier writer left, taken over or repaired in place).
    package static func openForUpdate(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(errno) }
        return fd
    }

    /// Cuts the file to `length` bytes (`ftruncate(2)`).
    package static func truncate(_ fd: Int32, to length: Int64) throws(SystemError) {
        while ftruncate(fd, off_t(length)) != 0 {
            if errno != EINTR { throw SystemError(errno) }
        }
    }

    /// Creates `path` for writing (emptied when it exists), mode 0644.
    package static func create(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError(errno) }
        return fd
    }

    /// Opens `path` for writing, empty, created when missing, holding an
    /// exclusive `flock(2)` on it — for a temporary file that only one writer
    /// may fill. The lock lasts as long as the returned descriptor or any
    /// `duplicate` of it is open, and ends with the process, so a file a
    /// dead writer left is taken over (emptied) while one a live writer holds
    /// is refused with `EWOULDBLOCK`, untouched. A writer that finished
    /// between the open and the lock (the name renamed to its final one) is
    /// noticed by the file's identity and the name opened again: a finished
    /// file is never emptied.
    package static func createLocked(_ path: String) throws(SystemError) -> Int32 {
        while true {
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SystemError(errno) }
            do throws(SystemError) {
                try lockExclusive(fd)
                var opened = stat(), named = stat()
                guard fstat(fd, &opened) == 0 else { throw SystemError(errno) }
                if stat(path, &named) != 0 || opened.st_ino != named.st_ino || opened.st_dev != named.st_dev {
                    _ = Glibc.close(fd)
                    continue
                }
                try truncate(fd, to: 0)
                return fd
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
        }
    }

    /// Takes an exclusive `flock(2)` on `fd` without waiting: `EWOULDBLOCK` when another holds it.
    package static func lockExclusive(_ fd: Int32) throws(SystemError) {
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EINTR { throw SystemError(errno) }
        }
    }

    /// A second descriptor of the same open file (`dup(2)`): it keeps the file's lock when the first is closed.
    package static func duplicate(_ fd: Int32) throws(SystemError) -> Int32 {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw SystemError(errno) }
        return copy
    }

    /// Closes `fd`; nothing is reported (the data was synced before, where it matters).
    package static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Writes as much of `bytes` as one `write(2)` takes; returns the count.
    package static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        while true {
            let n = Glibc.write(fd, base, bytes.count)
            if n >= 0 { return n }
            if errno != EINTR { throw SystemError(errno) }
        }
    }

    /// Writes all of `bytes`.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            offset += try write(fd, UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
    }

    /// Writes all of `bytes`.
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno)
            }
            offset += n
        }
    }

    /// Writes as much of `bytes` as one `pwrite(2)` takes at `offset` from the start of the file; returns the count.
    package static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(SystemError) -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        while true {
            let n = pwrite(fd, base, bytes.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw SystemError(errno) }
        }
    }

    /// Writes all of `bytes` at `offset` from the start of the file (`pwrite(2)`).
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno)
            }
            done += n
        }
    }

    /// Reads up to `count` bytes into `destination`; 0 at the end of the file.
    package static func read(_ fd: Int32, into destination: UnsafeMutableRawPointer, count: Int) throws(SystemError) -> Int {
        while true {
            let n = Glibc.read(fd, destination, count)
            if n >= 0 { return n }
            if errno != EINTR { throw SystemError(errno) }
        }
    }

    /// Reads up to `buffer.count` bytes at `offset` from the start of the file (`pread(2)`); 0 at its end.
    package static func read(_ fd: Int32, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw SystemError(errno) }
        }
    }

    /// The file's size, from its end (`lseek(2)`); nil when it cannot seek.
    package static func size(_ fd: Int32) -> Int64? {
        let end = lseek(fd, 0, SEEK_END)
        return end >= 0 ? Int64(end) : nil
    }

    /// Makes the file's data durable (`fsync(2)`).
    package static func sync(_ fd: Int32) throws(SystemError) {
        if fsync(fd) != 0 { throw SystemError(errno) }
    }

    /// Syncs the folder `path`, so a rename or an unlink in it survives power loss. Best effort.
    package static func syncDirectory(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = Glibc.close(fd)
    }

    /// Renames `from` to `to` unless something exists at `to` (then throws
    /// `EEXIST` and leaves both). A hard link then an unlink, so that no
    /// moment exists where `to` was replaced; on a file system without hard
    /// links, a check and a rename.
    package static func renameNoReplace(_ from: String, to: String) throws(SystemError) {
        if Glibc.link(from, to) == 0 {
            _ = Glibc.unlink(from)
            return
        }
        let error = errno
        guard error == EPERM || error == EOPNOTSUPP || error == EMLINK else { throw SystemError(error) }
        if access(to, F_OK) == 0 { throw SystemError(EEXIST) }
        try rename(from, to: to)
    }

    /// Renames `from` to `to`, replacing `to` (`rename(2)`: atomic on one file system).
    package static func rename(_ from: String, to: String) throws(SystemError) {
        if Glibc.rename(from, to) != 0 { throw SystemError(errno) }
    }

    /// Removes `path`; false when it could not (it may not exist).
    @discardableResult
    package static func remove(_ path: String) -> Bool {
        unlink(path) == 0
    }

    /// Creates the folder `path` (mode 0755); one that exists already is not an error.
    package static func makeDirectory(_ path: String) throws(SystemError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw SystemError(errno) }
    }

    /// What a path names (symbolic links followed).
    package enum FileKind: Sendable {
        case regular, directory, other
    }

    /// The kind of the file at `path` (`stat(2)`).
    package static func kind(of path: String) throws(SystemError) -> FileKind {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError(errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// Whether something exists at `path`.
    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    // MARK: The process

    /// This process's id.
    package static var processID: Int32 { getpid() }

    /// Whether descriptor `fd` is a terminal.
    package static func isTerminal(_ fd: Int32) -> Bool {
        isatty(fd) != 0
    }

    /// Ends the process with `status`, flushing nothing but what `exit(3)` flushes.
    package static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// Ends the process at once with `status`: no atexit handlers, no flushing (`_exit(2)`).
    package static func exitImmediately(_ status: Int32) -> Never {
        _exit(status)
    }

    /// Raises the soft limit on open files to the hard limit and returns the limit now in force.
    package static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Ends the process at once with SIGKILL, as a crash would (crash tests).
    package static func killSelf() -> Never {
        kill(getpid(), SIGKILL)
        fatalError("SIGKILL did not end the process")
    }
}

/// A system call that failed: `errno` and the C library's text for it.
package struct SystemError: Error, CustomStringConvertible, Equatable {
    /// The `errno` value.
    package var code: Int32

    package init(_ code: Int32) {
        self.code = code
    }

    /// `strerror(code)`: "No space left on device".
    package var description: String { String(cString: strerror(code)) }

    /// The disk is full: `ENOSPC`.
    package var isNoSpace: Bool { code == ENOSPC }
    /// Nothing exists at the path: `ENOENT`.
    package var isNotFound: Bool { code == ENOENT }
    /// Something exists at the path: `EEXIST`.
    package var isExisting: Bool { code == EEXIST }
    /// Another process holds the file's lock: `EWOULDBLOCK`.
    package var isLocked: Bool { code == EWOULDBLOCK }
}
