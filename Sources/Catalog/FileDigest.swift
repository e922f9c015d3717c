import CallrecCore
import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 of files, through swift-crypto (`SHA256`, BoringSSL's
/// implementation on Linux), the one crypto library callrec uses.
public enum FileDigest {
    /// The SHA-256 of the file at `path`, as 64 lowercase hex digits. Reads
    /// the file in 64 KiB blocks, so memory does not grow with its size.
    public static func sha256(path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CatalogError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CatalogError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        return hex(hasher.finalize())
    }

    /// The SHA-256 of `bytes` (for tests and small buffers).
    public static func sha256(bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    static func hex<S: Sequence<UInt8>>(_ bytes: S) -> String { Hex.lowercase(bytes) }
}
