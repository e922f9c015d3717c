#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and creates key files with the permissions they need.
///
/// A private key file (an age identity, the recorder's signing key) must be
/// readable and writable by its owner only (mode 0600, as age-keygen and
/// `ssh-keygen` make them): one that its group or others may read or write is
/// refused with a message that says how to fix it, before a byte of it is
/// used. The mode is checked on the opened file (`fstat`), so it is the file
/// that is read.
///
/// New key files are written whole under a temporary name, synced, and
/// linked to their name only if that name is free: a key is never replaced
/// (a replaced compliance key would lose every recording sealed to it), and
/// a crash leaves no half-written key.
public enum KeyFile {
    /// Who may read a new key file.
    public enum Access: Sendable {
        /// The owner only (0600): private keys.
        case owner
        /// Everyone (0644): public keys.
        case everyone

        var mode: mode_t { self == .owner ? 0o600 : 0o644 }
    }

    /// The largest key file read (a key file is a few hundred bytes; this
    /// bounds what a wrong path, say a recording, makes callrec read).
    static let maximumSize = 1 << 20

    /// The text of the private key file at `path`.
    /// - Throws: `SealingError(.permissions)` when group or others have any
    ///   access to it; `.io` when it cannot be read.
    public static func readPrivate(_ path: String) throws -> String {
        try read(path, requireOwnerOnly: true)
    }

    /// The text of a public key file (no permission check).
    public static func readPublic(_ path: String) throws -> String {
        try read(path, requireOwnerOnly: false)
    }

    static func read(_ path: String, requireOwnerOnly: Bool) throws -> String {
        let file = try SealedFileDescriptor(path: path)
        var info = stat()
        guard fstat(file.fd, &info) == 0 else { throw SealedFileDescriptor.error(errno, path: path, doing: "cannot stat") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SealingError(.io, path: path, "not a regular file") }
        let mode = info.st_mode & 0o777
        if requireOwnerOnly, mode & 0o077 != 0 {
            let who = [(mode & 0o070 != 0, "its group"), (mode & 0o007 != 0, "others")].filter(\.0).map(\.1).joined(separator: " and ")
            throw SealingError(
                .permissions, path: path,
                "private key file has mode \(octal(mode)): \(who) can access it; a private key must be readable by its owner only (run: chmod 600 \(path))")
        }
        guard info.st_size <= maximumSize else { throw SealingError(.key, path: path, "is \(info.st_size) bytes, too large to be a key file") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let n = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return String(decoding: bytes[..<n], as: UTF8.self)
    }

    /// Creates `path` holding `text`, with `access`; never replaces a file.
    /// - Throws: `SealingError(.io)` when `path` exists or cannot be written.
    public static func create(_ path: String, text: String, access permissions: Access) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).partial"
        if access(path, F_OK) == 0 {
            throw SealingError(.io, path: path, "already exists: callrec never replaces a key file (move it away first if you mean to)")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions.mode)
        if fd < 0 { throw SealedFileDescriptor.error(errno, path: temporary, doing: "cannot create") }
        var linked = false
        defer { if !linked { unlink(temporary) } }
        do {
            defer { close(fd) }
            // The umask may have taken bits off 0644; 0600 stays 0600 whatever it is.
            fchmod(fd, permissions.mode)
            var bytes = Array(text.utf8)
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SealedFileDescriptor.error(errno, path: temporary, doing: "cannot write")
                }
                done += n
            }
            if fsync(fd) != 0 { throw SealedFileDescriptor.error(errno, path: temporary, doing: "cannot sync") }
        }
        // link() fails when the name is taken: the check above is not relied on.
        if link(temporary, path) != 0 {
            let code = errno
            if code == EEXIST {
                throw SealingError(.io, path: path, "already exists: callrec never replaces a key file (move it away first if you mean to)")
            }
            throw SealedFileDescriptor.error(code, path: path, doing: "cannot create")
        }
        unlink(temporary)
        linked = true
        let dirFD = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode & 0o777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
