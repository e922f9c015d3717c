import CCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 of files, through OpenSSL's libcrypto (the EVP digest
/// interface). The corresponding C functions are `EVP_DigestInit_ex`,
/// `EVP_DigestUpdate` and `EVP_DigestFinal_ex`.
public enum FileDigest {
    /// The SHA-256 of the file at `path`, as 64 lowercase hex digits. Reads
    /// the file in 64 KiB blocks, so memory does not grow with its size.
    public static func sha256(path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CatalogError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let context = EVP_MD_CTX_new() else { throw CatalogError(.io, "\(path): cannot start SHA-256") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else { throw CatalogError(.io, "\(path): cannot start SHA-256") }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CatalogError(.io, "\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            _ = buffer.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress!, n) }
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &digest, &length) == 1, length == 32 else {
            throw CatalogError(.io, "\(path): cannot finish SHA-256")
        }
        return hex(digest.prefix(Int(length)))
    }

    /// The SHA-256 of `bytes` (for tests and small buffers).
    public static func sha256(bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha256(), nil) }
        precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        return hex(digest.prefix(Int(length)))
    }

    static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
