import Crypto

/// Decrypts a whole age file front to back, in constant memory: from a file,
/// a pipe (standard input) or bytes in memory, binary or ASCII-armored.
///
/// Each chunk is handed on only once it has authenticated, and the
/// decryption ends with an error, never quietly, when anything is wrong: a
/// chunk that does not authenticate (altered, reordered), a file that ends
/// without a final chunk (cut at a chunk boundary) or inside one, data after
/// the final chunk, an empty final chunk after others. So a caller may
/// stream what it is given (as `age -d` does) but must treat the output as
/// incomplete when an error ends it; to publish a file only when complete,
/// write it under a temporary name (`AtomicFile`) and commit after `decrypt` returns.
public enum AgeDecryptor {
    /// Whether the input is ASCII-armored.
    public enum Armor: Sendable {
        /// Armored when it starts (after whitespace) with `-----`.
        case detect
        /// Must be armored.
        case required
        /// Binary only.
        case refused
    }

    /// Decrypts the age file at `path` (`-` reads standard input), handing
    /// each authenticated chunk's content to `emit`.
    /// - Returns: the content's length.
    /// - Throws: `SealingError` naming the file (and the chunk and its byte offset).
    @discardableResult
    public static func decrypt(
        path: String, identities: [any AgeIdentity], armor: Armor = .detect, emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        let file = path == "-" ? SealedFileDescriptor(borrowing: 0, name: "standard input") : try SealedFileDescriptor(path: path)
        return try decrypt(source: file, name: file.path, identities: identities, armor: armor, emit: emit)
    }

    /// Decrypts an age file held in memory (a wrapped key, a small index).
    public static func decrypt(_ bytes: [UInt8], identities: [any AgeIdentity], armor: Armor = .detect, name: String? = nil) throws -> [UInt8] {
        var out: [UInt8] = []
        _ = try decrypt(source: ByteArraySource(bytes), name: name, identities: identities, armor: armor) { out.append(contentsOf: $0) }
        return out
    }

    static func decrypt(
        source: any AgeByteSource, name: String?, identities: [any AgeIdentity], armor: Armor, emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        var input = BufferedSource(source)
        let armored: Bool
        switch armor {
        case .detect: armored = ArmoredSource.looksArmored(try input.peek(64))
        case .required: armored = true
        case .refused: armored = false
        }
        if armored { input = BufferedSource(ArmoredSource(input, name: name ?? "input")) }

        do {
            let (header, headerLength) = try AgeHeader.read { Array(try input.peek($0)) }
            var consumed = [UInt8](repeating: 0, count: headerLength)
            _ = try consumed.withUnsafeMutableBytes { try input.read(into: $0) }
            let fileKey = try header.unwrap(with: identities)
            var nonce = [UInt8](repeating: 0, count: AgePayload.nonceSize)
            guard try nonce.withUnsafeMutableBytes({ try input.read(into: $0) }) == AgePayload.nonceSize else {
                throw SealingError(.header, offset: Int64(headerLength), "the file ends inside the payload nonce, after the header (\(headerLength) bytes)")
            }
            let key = AgePayload.key(fileKey: fileKey, nonce: nonce)
            return try decryptChunks(input, key: key, payloadStart: Int64(headerLength + AgePayload.nonceSize), emit: emit)
        } catch let error as SealingError {
            throw error.about(name)
        }
    }

    /// STREAM, front to back. A full-length chunk that does not open as a
    /// middle chunk is tried as the final one (a content of a whole number
    /// of chunks ends with a full final chunk), which must then be followed
    /// by the end of the input.
    static func decryptChunks(
        _ input: BufferedSource, key: SymmetricKey, payloadStart: Int64, emit: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        var buffer = [UInt8](repeating: 0, count: AgePayload.sealedChunkSize)
        var index: Int64 = 0
        var content: Int64 = 0
        while true {
            let offset = payloadStart + index * Int64(AgePayload.sealedChunkSize)
            let n = try buffer.withUnsafeMutableBytes { try input.read(into: $0) }
            func damaged(_ why: String) -> SealingError {
                SealingError(.payload, chunk: index, offset: offset, "chunk \(index) at byte offset \(offset) \(why)")
            }
            if n == 0 {
                if index == 0 { throw SealingError(.payload, chunk: 0, offset: offset, "the payload has no chunk: the file was cut short after its header") }
                throw SealingError(
                    .payload, chunk: index, offset: offset,
                    "the file ends after chunk \(index - 1), before byte offset \(offset), without a final chunk: it was cut short")
            }
            let opened: (content: [UInt8], last: Bool)? = buffer.withUnsafeBytes { all in
                let sealed = UnsafeRawBufferPointer(rebasing: all[..<n])
                if n == AgePayload.sealedChunkSize, let middle = AgePayload.open(sealed, chunk: index, last: false, key: key) {
                    return (middle, false)
                }
                return AgePayload.open(sealed, chunk: index, last: true, key: key).map { ($0, true) }
            }
            guard let (plain, last) = opened else {
                if n < AgePayload.tagSize { throw damaged("is \(n) bytes, shorter than its tag: the file was cut short") }
                if n < AgePayload.sealedChunkSize {
                    throw damaged("(the last \(n) bytes of the file) does not authenticate: the file was cut inside this chunk, or altered")
                }
                throw damaged("does not authenticate: the file was altered, or its chunks reordered")
            }
            if last, plain.isEmpty, index > 0 { throw damaged("is an empty final chunk, which only an empty file may have") }
            try plain.withUnsafeBytes { try emit($0) }
            content += Int64(plain.count)
            if last {
                var extra: UInt8 = 0
                if try withUnsafeMutableBytes(of: &extra, { try input.read(into: $0) }) > 0 {
                    let end = offset + Int64(n)
                    throw SealingError(.payload, chunk: index, offset: end, "data follows the final chunk \(index), from byte offset \(end)")
                }
                return content
            }
            index += 1
        }
    }
}
