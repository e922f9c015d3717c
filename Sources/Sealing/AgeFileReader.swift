import CallrecCore
import Crypto

/// Opens a sealed (binary age v1) file for random access: any byte range of
/// its content is decrypted by reading only the chunks it spans, what `serve`
/// needs to answer an HTTP Range request in a one-hour call without
/// decrypting the hour.
///
/// Opening parses the header, unwraps the file key with the given
/// identities, checks the header MAC, and decrypts the final chunk: the
/// content's length comes from the file's length, so the final chunk must be
/// shown to be the real end before that length is believed (the spec:
/// "Seeking relatively to the end of file MUST first decrypt and verify that
/// the last chunk is a valid final chunk"). A file cut at a chunk boundary or
/// inside a chunk fails here, naming the chunk.
///
/// Each read authenticates every chunk it touches, so no byte is returned
/// that is not as written; a damaged chunk fails the read that touches it,
/// naming the chunk and its byte offset, while reads elsewhere still work.
/// The last chunk decrypted is kept, so small reads in a row cost one
/// decryption per chunk. Memory: two chunks.
///
/// Not for concurrent use: open one reader per request or thread (opening
/// costs one X25519 agreement and one chunk).
public final class AgeFileReader {
    /// The file's path.
    public let path: String
    /// Its header.
    public let header: AgeHeader
    /// The content's length in bytes.
    public let contentSize: Int64
    /// The number of chunks (at least one).
    public let chunkCount: Int64
    /// Where chunk 0 starts in the file (after the header and the nonce).
    public let payloadStart: Int64
    /// Chunks decrypted since opening (the final one included): what a read cost.
    public private(set) var chunksDecrypted = 0

    private let file: SealedFileDescriptor
    private let key: SymmetricKey
    private var sealed: [UInt8]
    private var cached: (index: Int64, content: [UInt8])? = nil

    /// Opens `path` with the first of `identities` that unwraps its file key.
    /// - Throws: `SealingError` naming the file: `.header`, `.noMatch`,
    ///   `.headerMAC`, or `.payload` with the chunk when the file is cut or its
    ///   final chunk altered.
    public init(path: String, identities: [any AgeIdentity]) throws {
        self.path = path
        do {
            let file = try SealedFileDescriptor(path: path)
            self.file = file
            let size = try file.size()
            let (header, headerLength) = try AgeHeader.read { count in
                var start = [UInt8](repeating: 0, count: count)
                let n = try start.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
                return Array(start[..<n])
            }
            self.header = header
            let fileKey = try header.unwrap(with: identities)
            var nonce = [UInt8](repeating: 0, count: AgePayload.nonceSize)
            guard try nonce.withUnsafeMutableBytes({ try file.read(into: $0, at: Int64(headerLength)) }) == AgePayload.nonceSize else {
                throw SealingError(.header, offset: Int64(headerLength), "the file ends inside the payload nonce, after the header (\(headerLength) bytes)")
            }
            key = AgePayload.key(fileKey: fileKey, nonce: nonce)
            payloadStart = Int64(headerLength + AgePayload.nonceSize)
            sealed = [UInt8](repeating: 0, count: AgePayload.sealedChunkSize)

            let sealedSize = size - payloadStart
            guard sealedSize > 0 else {
                throw SealingError(.payload, chunk: 0, offset: payloadStart, "the payload has no chunk: the file was cut short after its header")
            }
            let chunks = (sealedSize + Int64(AgePayload.sealedChunkSize) - 1) / Int64(AgePayload.sealedChunkSize)
            chunkCount = chunks
            guard let content = AgePayload.contentSize(sealedSize: sealedSize) else {
                let last = chunks - 1
                let offset = payloadStart + last * Int64(AgePayload.sealedChunkSize)
                throw SealingError(
                    .payload, chunk: last, offset: offset,
                    "chunk \(last) at byte offset \(offset) is \(size - offset) bytes, too short to be a chunk: the file was cut short or has bytes appended")
            }
            contentSize = content
            try verifyFinalChunk()
        } catch let error as SealingError {
            throw error.about(path)
        }
    }

    /// Decrypts the last chunk as a final chunk; when it opens only as a
    /// middle chunk, the file was cut at a chunk boundary.
    private func verifyFinalChunk() throws {
        let last = chunkCount - 1
        let offset = payloadStart + last * Int64(AgePayload.sealedChunkSize)
        let length = try readSealed(chunk: last)
        if let content = sealed.withUnsafeBytes({ AgePayload.open(UnsafeRawBufferPointer(rebasing: $0[..<length]), chunk: last, last: true, key: key) }) {
            chunksDecrypted += 1
            cached = (last, content)
            return
        }
        if length == AgePayload.sealedChunkSize,
            sealed.withUnsafeBytes({ AgePayload.open(UnsafeRawBufferPointer(rebasing: $0[..<length]), chunk: last, last: false, key: key) }) != nil
        {
            throw SealingError(
                .payload, chunk: last + 1, offset: offset + Int64(length),
                "the file ends after chunk \(last), at byte offset \(offset + Int64(length)), without a final chunk: it was cut short")
        }
        throw SealingError(
            .payload, chunk: last, offset: offset,
            "chunk \(last) at byte offset \(offset), the final chunk, does not authenticate: the file was cut inside it, or altered")
    }

    /// Reads chunk `index`'s sealed bytes into `sealed`; returns their count.
    private func readSealed(chunk index: Int64) throws -> Int {
        let offset = payloadStart + index * Int64(AgePayload.sealedChunkSize)
        let want = index == chunkCount - 1 ? Int(contentSize - index * Int64(AgePayload.chunkSize)) + AgePayload.tagSize : AgePayload.sealedChunkSize
        let n = try sealed.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<want]), at: offset) }
        guard n == want else {
            throw SealingError(.payload, path: path, chunk: index, offset: offset, "chunk \(index) at byte offset \(offset) is cut short: the file shrank while open")
        }
        return n
    }

    /// The content of chunk `index`, authenticated.
    /// - Throws: `SealingError(.payload)` naming the chunk when it does not authenticate.
    public func chunk(_ index: Int64) throws -> [UInt8] {
        precondition(index >= 0 && index < chunkCount, "chunk \(index) is outside 0..<\(chunkCount)")
        if let cached, cached.index == index { return cached.content }
        let length = try readSealed(chunk: index)
        let last = index == chunkCount - 1
        guard let content = sealed.withUnsafeBytes({ AgePayload.open(UnsafeRawBufferPointer(rebasing: $0[..<length]), chunk: index, last: last, key: key) }) else {
            let offset = payloadStart + index * Int64(AgePayload.sealedChunkSize)
            throw SealingError(
                .payload, path: path, chunk: index, offset: offset,
                "chunk \(index) at byte offset \(offset) does not authenticate: the file was altered, or its chunks reordered")
        }
        chunksDecrypted += 1
        cached = (index, content)
        return content
    }

    /// Copies content from `offset` into `buffer`, decrypting only the
    /// chunks the range spans; short only at the end of the content (as `pread`).
    /// - Returns: the bytes copied (0 at or past the end).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        guard offset >= 0 else { throw SealingError(.usage, path: path, "cannot read at negative offset \(offset)") }
        let end = min(contentSize, offset + Int64(buffer.count))
        var position = offset
        var copied = 0
        while position < end {
            let index = position / Int64(AgePayload.chunkSize)
            let content = try chunk(index)
            let from = Int(position - index * Int64(AgePayload.chunkSize))
            let n = min(content.count - from, Int(end - position))
            content.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[copied..<(copied + n)]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: $0[from..<(from + n)]))
            }
            copied += n
            position += Int64(n)
        }
        return copied
    }

    /// The content bytes in `range`.
    /// - Throws: `SealingError(.usage)` when the range reaches past the end.
    public func read(_ range: Range<Int64>) throws -> [UInt8] {
        guard range.lowerBound >= 0, range.upperBound <= contentSize else {
            throw SealingError(.usage, path: path, "cannot read bytes \(range.lowerBound)..<\(range.upperBound): the content is \(contentSize) bytes")
        }
        var out = [UInt8](repeating: 0, count: range.count)
        _ = try out.withUnsafeMutableBytes { try read(into: $0, at: range.lowerBound) }
        return out
    }
}

extension AgeFileReader: RandomAccessByteSource {}
