#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name and renamed into place only when
/// complete, so a partial file never looks complete: `commit()` syncs the
/// data, renames `.<name>.partial` to `<name>` and syncs the folder. A file
/// dropped without `commit()` (an error, a crash) leaves only the temporary
/// name, which `discard()` or the next run's cleanup removes.
///
/// One owner per file descriptor: opened in `init`, closed in `commit`,
/// `discard` or `deinit`.
///
/// Given a `DiskSpaceWait`, a full disk (`ENOSPC`) while creating, writing
/// or renaming waits for space and tries again from the byte where the write
/// stopped, so the file is the same as if the disk had never been full;
/// without one (or once the wait gives up) it throws `OutputError.noSpace`.
/// A sync that fails is never retried: the kernel may have dropped the data.
public final class AtomicFile {
    /// The final path.
    public let path: String
    /// The temporary path written until commit.
    public let temporaryPath: String
    /// Bytes written so far.
    public private(set) var size: Int64 = 0

    private var fd: Int32
    private var committed = false
    /// What to do when the disk is full; nil: fail at once.
    private let space: DiskSpaceWait?

    /// The suffix of temporary files; anything ending in it is a leftover.
    public static let temporarySuffix = ".partial"

    /// Creates the folder `directory` (and its parents) and opens a
    /// temporary file for `name` in it.
    /// - Parameter space: waits out a full disk; nil: a full disk fails at once.
    public init(directory: String, name: String, space: DiskSpaceWait? = nil) throws {
        self.space = space
        path = directory + "/" + name
        temporaryPath = directory + "/." + name + AtomicFile.temporarySuffix
        let temporaryPath = self.temporaryPath
        fd = try AtomicFile.retrying(space, path: temporaryPath) {
            try AtomicFile.makeDirectories(directory)
            let opened = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if opened < 0 {
                throw AtomicFile.error(errno, path: temporaryPath, doing: "cannot create")
            }
            return opened
        }
    }

    /// Splits `path` at its last slash into folder and name (a bare name is
    /// in the current folder) and opens a temporary file for it.
    public convenience init(path: String, space: DiskSpaceWait? = nil) throws {
        let slash = path.lastIndex(of: "/")
        try self.init(
            directory: slash.map { String(path[..<$0]) } ?? ".",
            name: slash.map { String(path[path.index(after: $0)...]) } ?? path, space: space)
    }

    /// Runs `body` again while it fails for want of space and `space` says to wait.
    private static func retrying<T>(_ space: DiskSpaceWait?, path: String, _ body: () throws -> T) throws -> T {
        guard let space else { return try body() }
        return try space.retrying(path: path, isNoSpace: { ($0 as? OutputError)?.code == .noSpace }, body)
    }

    deinit {
        if !committed { discard() }
    }

    /// Appends `bytes`. On a full disk with a `DiskSpaceWait`, waits and
    /// goes on from the first byte not written.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        var waited = false
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == ENOSPC, let space, space.waitForSpace(path: temporaryPath) {
                    waited = true
                    continue
                }
                throw AtomicFile.error(code, path: temporaryPath, doing: "cannot write")
            }
            offset += n
        }
        if waited { space?.spaceReturned() }
        size += Int64(bytes.count)
    }

    /// The open descriptor of the temporary file, for a library that writes
    /// (and seeks) on its own, such as libsndfile. Call `adoptExternalWrites()`
    /// when it is done.
    public var fileDescriptor: Int32 { fd }

    /// Takes the file's size from the disk after a library wrote through `fileDescriptor`.
    public func adoptExternalWrites() {
        guard fd >= 0 else { return }
        let end = lseek(fd, 0, SEEK_END)
        if end >= 0 { size = Int64(end) }
    }

    /// Overwrites bytes already written, at `offset` from the start (a header
    /// whose length is known only at the end).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        precondition(offset + Int64(bytes.count) <= size, "can only overwrite what was written")
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw AtomicFile.error(errno, path: temporaryPath, doing: "cannot write")
            }
            done += n
        }
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Syncs the data and closes the file, still under its temporary name.
    /// Call `rename()` to publish it; `commit()` does both.
    public func sync() throws {
        guard fd >= 0 else { return }
        if fsync(fd) != 0 {
            throw AtomicFile.error(errno, path: temporaryPath, doing: "cannot sync")
        }
        close(fd)
        fd = -1
    }

    /// Publishes the synced file under its final name and syncs the folder.
    public func publish() throws {
        try sync()
        let (from, to) = (temporaryPath, path)
        try AtomicFile.retrying(space, path: path) {
            if rename(from, to) != 0 {
                throw AtomicFile.error(errno, path: to, doing: "cannot rename into place")
            }
        }
        committed = true
        AtomicFile.syncDirectory(of: path)
    }

    /// `sync()` then `publish()`.
    public func commit() throws {
        try publish()
    }

    /// Closes and removes the temporary file.
    public func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !committed { unlink(temporaryPath) }
        committed = true
    }

    /// Syncs the folder holding `path`, so a rename survives power loss.
    public static func syncDirectory(of path: String) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ directory: String) throws {
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw error(errno, path: current, doing: "cannot create folder")
            }
        }
    }

    static func error(_ code: Int32, path: String, doing: String) -> OutputError {
        let reason = String(cString: strerror(code))
        return OutputError(code: code == ENOSPC ? .noSpace : .io, path: path, message: "\(doing): \(reason)")
    }
}
