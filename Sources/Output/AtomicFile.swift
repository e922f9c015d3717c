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
public final class AtomicFile {
    /// The final path.
    public let path: String
    /// The temporary path written until commit.
    public let temporaryPath: String
    /// Bytes written so far.
    public private(set) var size: Int64 = 0

    private var fd: Int32
    private var committed = false

    /// The suffix of temporary files; anything ending in it is a leftover.
    public static let temporarySuffix = ".partial"

    /// Creates the folder `directory` (and its parents) and opens a
    /// temporary file for `name` in it.
    public init(directory: String, name: String) throws {
        try AtomicFile.makeDirectories(directory)
        path = directory + "/" + name
        temporaryPath = directory + "/." + name + AtomicFile.temporarySuffix
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw AtomicFile.error(errno, path: temporaryPath, doing: "cannot create")
        }
    }

    deinit {
        if !committed { discard() }
    }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw AtomicFile.error(errno, path: temporaryPath, doing: "cannot write")
            }
            offset += n
        }
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
        if rename(temporaryPath, path) != 0 {
            throw AtomicFile.error(errno, path: path, doing: "cannot rename into place")
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
