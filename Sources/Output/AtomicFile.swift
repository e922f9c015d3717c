import CallrecCore

/// A file written under a temporary name and renamed into place only when
/// complete, so a partial file never looks complete: `commit()` syncs the
/// data, renames `.<name>.partial` to `<name>` and syncs the folder. A file
/// dropped without `commit()` (an error, a crash) leaves only the temporary
/// name, which `discard()` or the next run's cleanup removes.
///
/// Every recording file is written through here. Given a
/// `ByteStreamTransform` (sealing: Sealing's `AgeWriter`), every byte passes
/// through it on its way to the disk, so what the writer produces (Ogg pages,
/// JSON, WAV) never reaches the disk in the clear: the transform writes its
/// header when the file is opened, takes each write, and writes its last
/// bytes when the file is synced. `size` then counts the bytes stored,
/// `contentSize` the bytes written.
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
    /// Bytes stored on disk so far (with a transform: what it stored, such as sealed chunks).
    public var size: Int64 { stored.size }
    /// Bytes written so far by the file's writer (without a transform, `size`).
    public private(set) var contentSize: Int64 = 0
    /// What every byte passes through on its way to the disk, if anything.
    public let transform: (any ByteStreamTransform)?

    private let stored: StoredFile
    /// A second descriptor of the temporary file, holding its `flock(2)`
    /// from creation until it is published, abandoned or discarded (after
    /// `sync()` closes the first): one writer per temporary name, so two
    /// processes writing the same recording at once never share a file.
    private var lockFD: Int32 = -1
    private var committed = false
    private var transformFinished = false
    /// What to do when the disk is full; nil: fail at once.
    private let space: DiskSpaceWait?

    /// The suffix of temporary files; anything ending in it is a leftover.
    public static let temporarySuffix = ".partial"

    /// Creates the folder `directory` (and its parents) and opens a
    /// temporary file for `name` in it.
    /// - Parameters:
    ///   - space: waits out a full disk; nil: a full disk fails at once.
    ///   - transform: what every byte passes through (sealing); its first
    ///     bytes (a sealed file's header) are written now. The caller names
    ///     the file, suffix included (`transform.fileNameSuffix`).
    public init(directory: String, name: String, space: DiskSpaceWait? = nil, transform: (any ByteStreamTransform)? = nil) throws {
        self.space = space
        self.transform = transform
        path = directory + "/" + name
        temporaryPath = directory + "/." + name + AtomicFile.temporarySuffix
        let temporaryPath = self.temporaryPath
        let fd = try AtomicFile.retrying(space, path: temporaryPath) { () throws -> Int32 in
            // The folder is made only when it is missing: a `mkdir` per path component
            // before every file cost more than creating the file.
            do throws(SystemError) {
                return try System.createLocked(temporaryPath)
            } catch where error.isNotFound {
                try AtomicFile.makeDirectories(directory)
            } catch where error.isLocked {
                throw AtomicFile.busy(temporaryPath)
            } catch {
                throw AtomicFile.error(error, path: temporaryPath, doing: "cannot create")
            }
            do throws(SystemError) {
                return try System.createLocked(temporaryPath)
            } catch where error.isLocked {
                throw AtomicFile.busy(temporaryPath)
            } catch {
                throw AtomicFile.error(error, path: temporaryPath, doing: "cannot create")
            }
        }
        do throws(SystemError) {
            lockFD = try System.duplicate(fd)
        } catch {
            System.close(fd)
            throw AtomicFile.error(error, path: temporaryPath, doing: "cannot lock")
        }
        stored = StoredFile(fd: fd, path: temporaryPath, space: space)
        if let transform {
            try transforming { try transform.begin(into: stored) }
        }
    }

    /// Takes over the temporary file of `name` in `directory` that an earlier
    /// writer left (a recording cut by a crash, closed by `OggOpusSalvage`):
    /// its bytes stay as they are, new writes go after them, and `commit()`
    /// publishes it like any other. Without a transform: a sealed file's
    /// transform state died with its writer.
    /// - Throws: `OutputError` when there is no such temporary file.
    public init(adopting name: String, in directory: String, space: DiskSpaceWait? = nil) throws {
        self.space = space
        transform = nil
        path = directory + "/" + name
        temporaryPath = directory + "/." + name + AtomicFile.temporarySuffix
        let fd: Int32
        do throws(SystemError) {
            fd = try System.openForUpdate(temporaryPath)
        } catch {
            throw AtomicFile.error(error, path: temporaryPath, doing: "cannot open")
        }
        do throws(SystemError) {
            try System.lockExclusive(fd)
            lockFD = try System.duplicate(fd)
        } catch {
            System.close(fd)
            if error.isLocked { throw AtomicFile.busy(temporaryPath) }
            throw AtomicFile.error(error, path: temporaryPath, doing: "cannot lock")
        }
        stored = StoredFile(fd: fd, path: temporaryPath, space: space, size: System.size(fd) ?? 0)
        contentSize = stored.size
    }

    /// Splits `path` at its last slash into folder and name (a bare name is
    /// in the current folder) and opens a temporary file for it.
    public convenience init(path: String, space: DiskSpaceWait? = nil, transform: (any ByteStreamTransform)? = nil) throws {
        let slash = path.lastIndex(of: "/")
        try self.init(
            directory: slash.map { String(path[..<$0]) } ?? ".",
            name: slash.map { String(path[path.index(after: $0)...]) } ?? path, space: space, transform: transform)
    }

    /// Runs `body` again while it fails for want of space and `space` says to wait.
    private static func retrying<T>(_ space: DiskSpaceWait?, path: String, _ body: () throws -> T) throws -> T {
        guard let space else { return try body() }
        return try space.retrying(path: path, isNoSpace: { ($0 as? OutputError)?.code == .noSpace }, body)
    }

    /// Runs a call into the transform: its own errors (a refused overwrite)
    /// become `OutputError.transform` naming the file; disk errors stay as they are.
    private func transforming(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as OutputError {
            throw error
        } catch {
            throw OutputError(code: .transform, path: temporaryPath, message: "\(error)")
        }
    }

    deinit {
        if !committed { discard() }
    }

    /// Appends `bytes`. On a full disk with a `DiskSpaceWait`, waits and
    /// goes on from the first byte not written.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let transform {
            try transforming { try transform.append(bytes, into: stored) }
        } else {
            try stored.append(bytes)
        }
        contentSize += Int64(bytes.count)
    }

    /// Overwrites bytes already written, at `offset` from the start (a header
    /// whose length is known only at the end). Through a transform that has
    /// already stored those bytes for good (a sealed chunk) it throws
    /// `OutputError.transform`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        precondition(offset + Int64(bytes.count) <= contentSize, "can only overwrite what was written")
        if let transform {
            try transforming { try transform.overwrite(bytes, at: offset, into: stored) }
        } else {
            try stored.write(bytes, at: offset)
        }
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Ends the transform (a sealed file's last chunk), syncs the data and
    /// closes the file, still under its temporary name. Call `publish()` to
    /// publish it; `commit()` does both.
    public func sync() throws {
        guard stored.fd >= 0 else { return }
        if let transform, !transformFinished {
            transformFinished = true
            try transforming { try transform.finish(into: stored) }
        }
        do {
            try System.sync(stored.fd)
        } catch {
            throw AtomicFile.error(error, path: temporaryPath, doing: "cannot sync")
        }
        stored.close()
    }

    /// Publishes the synced file under its final name and syncs the folder.
    /// With `replacing` false (a recording's files), a file already at the
    /// final name stays and the publish throws (`OutputError.exists`). With
    /// `syncingFolder` false the rename is not yet durable: the caller syncs
    /// the folder later (a later file's publish in the same folder does), and
    /// nothing may depend on the name until then.
    public func publish(replacing: Bool = true, syncingFolder: Bool = true) throws {
        try sync()
        let (from, to) = (temporaryPath, path)
        try AtomicFile.retrying(space, path: path) {
            do throws(SystemError) {
                if replacing {
                    try System.rename(from, to: to)
                } else {
                    try System.renameNoReplace(from, to: to)
                }
            } catch where error.isExisting {
                throw OutputError(code: .exists, path: to, message: "a file of that name exists; it was not replaced")
            } catch {
                throw AtomicFile.error(error, path: to, doing: "cannot rename into place")
            }
        }
        committed = true
        if syncingFolder { AtomicFile.syncDirectory(of: path) }
        releaseLock()
    }

    /// Ends the hold on the temporary name (the file is published, kept for recovery, or removed).
    private func releaseLock() {
        if lockFD >= 0 { System.close(lockFD) }
        lockFD = -1
    }

    static func busy(_ path: String) -> OutputError {
        OutputError(
            code: .busy, path: path,
            message: "another process is writing this file now (the same recording, from another converter or recorder); left as it is")
    }

    /// `sync()` then `publish()`.
    public func commit() throws {
        try publish()
    }

    /// Replaces the first `length` bytes stored with `prefix`, after `sync()`
    /// and before `publish()`: a sealed file's header written again for other
    /// recipients at commit (its payload stays as stored). A prefix of the
    /// same length is written in place; another length means the rest is
    /// copied after it into a second temporary file, synced and renamed over
    /// the first. Either way the file is synced again before this returns,
    /// and a crash leaves only temporary files.
    public func replaceStoredPrefix(length: Int, with prefix: [UInt8]) throws {
        precondition(stored.fd < 0 && !committed, "replaceStoredPrefix between sync() and publish()")
        precondition(Int64(length) <= size, "cannot replace more than is stored")
        if prefix.count == length {
            try AtomicFile.rewriting(temporaryPath) { fd in
                try System.writeAll(fd, prefix)  // at 0: the file was just opened
                try System.sync(fd)
            }
            return
        }
        let copyPath = temporaryPath + ".rehead" + AtomicFile.temporarySuffix
        var copyLock: Int32 = -1
        do {
            let source: Int32
            do throws(SystemError) {
                source = try System.openForReading(temporaryPath)
            } catch {
                throw AtomicFile.error(error, path: temporaryPath, doing: "cannot open")
            }
            defer { System.close(source) }
            // The copy is locked like the file it replaces; its lock takes over at the rename.
            try AtomicFile.rewriting(copyPath, create: true, keepingLock: &copyLock) { fd in
                try System.writeAll(fd, prefix)
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                var offset = Int64(length)
                while true {
                    let n = try buffer.withUnsafeMutableBytes { b in try System.read(source, at: offset, into: b) }
                    if n == 0 { break }
                    try buffer.withUnsafeBytes { b in try System.writeAll(fd, UnsafeRawBufferPointer(rebasing: b[..<n])) }
                    offset += Int64(n)
                }
                try System.sync(fd)
            }
            do throws(SystemError) {
                try System.rename(copyPath, to: temporaryPath)
            } catch {
                throw AtomicFile.error(error, path: temporaryPath, doing: "cannot rename into place")
            }
            releaseLock()
            lockFD = copyLock
        } catch {
            System.remove(copyPath)
            if copyLock >= 0 { System.close(copyLock) }
            throw error
        }
        stored.resize(to: size - Int64(length) + Int64(prefix.count))
    }

    /// Opens `path` for writing (created when `create`), runs `body` on it, closes it.
    private static func rewriting(_ path: String, create: Bool = false, _ body: (Int32) throws -> Void) throws {
        var unused: Int32 = -1
        try rewriting(path, create: create, keepingLock: &unused, body)
        if unused >= 0 { System.close(unused) }
    }

    /// `rewriting`; a created file is locked (`System.createLocked`), its lock
    /// left in `lock` (a second descriptor the caller closes).
    private static func rewriting(_ path: String, create: Bool, keepingLock lock: inout Int32, _ body: (Int32) throws -> Void) throws {
        let fd: Int32
        do throws(SystemError) {
            if create {
                let created = try System.createLocked(path)
                do throws(SystemError) {
                    lock = try System.duplicate(created)
                } catch {
                    System.close(created)
                    throw error
                }
                fd = created
            } else {
                fd = try System.openForUpdate(path)
            }
        } catch where error.isLocked {
            throw AtomicFile.busy(path)
        } catch {
            throw AtomicFile.error(error, path: path, doing: "cannot open")
        }
        defer { System.close(fd) }
        do {
            try body(fd)
        } catch let error as SystemError {
            throw AtomicFile.error(error, path: path, doing: "cannot rewrite")
        }
    }

    /// Publishes the synced file under its final name, replacing the file
    /// there: for `catalog reseal` only, whose new file holds the same
    /// payload as the one it replaces under a new header. (A recording is
    /// otherwise never written over.)
    public func replace() throws {
        try publish(replacing: true)
    }

    /// Closes the file and leaves its synced temporary copy where it is: for
    /// a change that is decided but could not be finished (a signed
    /// `catalog reseal` cut short), whose recovery (`catalog verify`) renames
    /// the copy into place. The one case a temporary file outlives its
    /// writer on purpose.
    public func abandon() {
        stored.close()
        committed = true
        releaseLock()
    }

    /// Closes and removes the temporary file.
    public func discard() {
        stored.close()
        if !committed { System.remove(temporaryPath) }
        committed = true
        releaseLock()
    }

    /// Syncs the folder holding `path`, so a rename survives power loss.
    public static func syncDirectory(of path: String) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        System.syncDirectory(directory)
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ directory: String) throws {
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            current += "/" + component
            do {
                try System.makeDirectory(current)
            } catch {
                throw AtomicFile.error(error, path: current, doing: "cannot create folder")
            }
        }
    }

    static func error(_ error: SystemError, path: String, doing: String) -> OutputError {
        OutputError(code: error.isNoSpace ? .noSpace : .io, path: path, message: "\(doing): \(error)")
    }
}

/// The temporary file's descriptor and what is stored in it: the bytes a
/// transform (or, without one, the file's writer) puts on disk. Every write
/// is positional, so an append lands after the last byte stored even when a
/// transform wrote further on (a sealed file's reserved first chunk).
private final class StoredFile: StoredBytesOutput {
    private(set) var fd: Int32
    let path: String
    let space: DiskSpaceWait?
    /// One past the last byte stored.
    private(set) var size: Int64 = 0

    init(fd: Int32, path: String, space: DiskSpaceWait?, size: Int64 = 0) {
        self.fd = fd
        self.path = path
        self.space = space
        self.size = size
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, at: size)
    }

    /// Writes at `offset`; on a full disk with a `DiskSpaceWait`, waits and
    /// goes on from the first byte not written.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        var done = 0
        var waited = false
        while done < bytes.count {
            do {
                done += try System.write(fd, UnsafeRawBufferPointer(rebasing: bytes[done...]), at: offset + Int64(done))
            } catch {
                if error.isNoSpace, let space, space.waitForSpace(path: path) {
                    waited = true
                    continue
                }
                throw AtomicFile.error(error, path: path, doing: "cannot write")
            }
        }
        if waited { space?.spaceReturned() }
        size = max(size, offset + Int64(bytes.count))
    }

    /// After the file was rewritten elsewhere (a new prefix): what is stored now.
    func resize(to bytes: Int64) { size = bytes }

    func close() {
        if fd >= 0 {
            System.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}
