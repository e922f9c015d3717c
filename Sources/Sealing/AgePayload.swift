import Crypto

/// The payload of an age file (C2SP age, "Payload"): a 16-byte nonce, then
/// the content in chunks of 64 KiB, each sealed with ChaCha20-Poly1305 under
/// payload key = HKDF-SHA-256(file key, salt: nonce, info: "payload") and the
/// 12-byte nonce `counter (11 bytes, big-endian) || last`, where `last` is 1
/// for the final chunk and 0 before it. Only the final chunk may be short,
/// and it is empty only when the whole content is.
///
/// ```
/// | header ... "--- MAC\n" | nonce (16) | chunk 0: 65536 + 16 tag | chunk 1 | ... | final: 1...65536 + 16 |
/// ```
///
/// So chunk `i` starts at `payloadStart + i × 65552`: a reader seeks to any
/// byte by decrypting only the chunk that holds it.
public enum AgePayload {
    /// Content bytes per chunk.
    public static let chunkSize = 65_536
    /// Poly1305 tag bytes after each chunk.
    public static let tagSize = 16
    /// Stored bytes per full chunk.
    public static let sealedChunkSize = chunkSize + tagSize
    /// The payload nonce's length.
    public static let nonceSize = 16

    /// The payload key of a file.
    static func key(fileKey: FileKey, nonce: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey.key, salt: nonce, info: Array("payload".utf8), outputByteCount: 32)
    }

    /// The ChaCha20-Poly1305 nonce of chunk `index`.
    static func nonce(chunk index: Int64, last: Bool) -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        // The 88-bit counter's low 64 bits: enough for 2^64 chunks (a zettabyte).
        for b in 0..<8 { bytes[10 - b] = UInt8(truncatingIfNeeded: UInt64(index) >> UInt64(8 * b)) }
        bytes[11] = last ? 1 : 0
        return try! ChaChaPoly.Nonce(data: bytes)
    }

    /// Number of chunks for `contentSize` bytes (an empty content is one empty chunk).
    public static func chunkCount(contentSize: Int64) -> Int64 {
        max(1, (contentSize + Int64(chunkSize) - 1) / Int64(chunkSize))
    }

    /// The stored payload length (nonce and chunks) for `contentSize` bytes.
    public static func storedSize(contentSize: Int64) -> Int64 {
        Int64(nonceSize) + contentSize + Int64(tagSize) * chunkCount(contentSize: contentSize)
    }

    /// The content length of a payload of `sealedSize` bytes of chunks (after
    /// the nonce), or nil when no content has that length: the payload was cut
    /// inside a tag, or has bytes after its final chunk.
    static func contentSize(sealedSize: Int64) -> Int64? {
        guard sealedSize >= Int64(tagSize) else { return nil }
        let chunks = (sealedSize + Int64(sealedChunkSize) - 1) / Int64(sealedChunkSize)
        let content = sealedSize - chunks * Int64(tagSize)
        // Every chunk but the last is full, and the last holds 1...65536 bytes (0 only when it is the only one).
        guard content >= 0, chunkCount(contentSize: content) == chunks else { return nil }
        return content
    }

    /// Seals one chunk's content into `out` (ciphertext then tag).
    static func seal(_ content: UnsafeRawBufferPointer, chunk index: Int64, last: Bool, key: SymmetricKey, into out: inout [UInt8]) throws {
        let box = try ChaChaPoly.seal(content, using: key, nonce: nonce(chunk: index, last: last))
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
    }

    /// Opens one sealed chunk (ciphertext then tag), or nil when it does not authenticate as `index`/`last`.
    static func open(_ sealed: UnsafeRawBufferPointer, chunk index: Int64, last: Bool, key: SymmetricKey) -> [UInt8]? {
        guard sealed.count >= tagSize,
            let box = try? ChaChaPoly.SealedBox(
                nonce: nonce(chunk: index, last: last), ciphertext: sealed[..<(sealed.count - tagSize)], tag: sealed[(sealed.count - tagSize)...]),
            let content = try? ChaChaPoly.open(box, using: key)
        else { return nil }
        return Array(content)
    }
}
