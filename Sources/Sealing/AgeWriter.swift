import CallrecCore
import Crypto

/// Seals a stream of content into an age v1 file as it is written, in
/// constant memory: a `ByteStreamTransform` for Output's `AtomicFile`, so no
/// plaintext reaches the disk.
///
/// The header (every recipient's stanza and the MAC) and the payload nonce
/// are written when the file opens; each 64 KiB chunk is sealed and written
/// as soon as the next byte after it arrives (only then is it known not to
/// be the final chunk), and the final chunk at `finish`. With the
/// `.streaming` layout a file cut short by a crash is a valid header and
/// whole chunks: `age -d` gives everything up to the last complete chunk and
/// then reports the file truncated.
///
/// A sealed chunk cannot be written again (sealing other bytes under the
/// same nonce would break ChaCha20-Poly1305), so `overwrite` works only on
/// content not yet sealed. Files whose writer rewrites a header at the end
/// (libsndfile's WAV and FLAC, the peaks `.dat`) use the
/// `.firstChunkLast` layout: the first 64 KiB of content stay in memory and
/// are sealed last, into the place reserved for them after the header, so
/// their header may be rewritten until `finish`. Such a file is complete
/// only once finished (a crash leaves an unreadable temporary file, which
/// `catalog verify` removes as it does any). Memory: at most two chunks.
public final class AgeWriter: ByteStreamTransform {
    /// Where the first chunk is sealed.
    public enum Layout: Sendable {
        /// Every chunk in order, as it fills: the file is readable up to its
        /// last complete chunk at any moment. Overwrites only in the unsealed tail.
        case streaming
        /// The first chunk sealed at `finish`, so the first 64 KiB of content
        /// can be overwritten until then.
        case firstChunkLast
    }

    /// `.age`.
    public let fileNameSuffix = ".age"
    /// The layout chosen.
    public let layout: Layout
    /// The header as written (version line through the MAC line); see `rewrapHeader(for:)`.
    public private(set) var header: [UInt8]
    /// Content bytes taken so far.
    public private(set) var contentSize: Int64 = 0

    private let payloadKey: SymmetricKey
    /// Kept while the writer lives, so the header can be made again for
    /// other recipients before the file is committed (`rewrapHeader`).
    private let fileKey: FileKey
    private let nonce: [UInt8]
    /// The content of the chunk being filled (chunk `tailIndex`).
    private var tail: [UInt8]
    private var tailIndex: Int64 = 0
    /// `.firstChunkLast`: chunk 0's content, once a second chunk has begun.
    private var head: [UInt8]? = nil
    /// Reused for each sealed chunk.
    private var sealed: [UInt8]
    private var begun = false
    private var finished = false

    /// A writer sealing to `recipients`.
    /// - Throws: `SealingError(.usage)` when there is no recipient, or a
    ///   passphrase recipient is not alone (the spec forbids mixing).
    public init(recipients: [any AgeRecipient], layout: Layout = .streaming) throws {
        guard !recipients.isEmpty else { throw SealingError(.usage, "a sealed file needs at least one recipient") }
        if recipients.contains(where: \.mustBeAlone), recipients.count > 1 {
            throw SealingError(.usage, "a passphrase (scrypt) recipient must be the file's only recipient")
        }
        let fileKey = FileKey()
        self.fileKey = fileKey
        header = try AgeWriter.header(wrapping: fileKey, for: recipients)
        nonce = SymmetricKey(size: SymmetricKeySize(bitCount: AgePayload.nonceSize * 8)).withUnsafeBytes { Array($0) }
        payloadKey = AgePayload.key(fileKey: fileKey, nonce: nonce)
        self.layout = layout
        tail = []
        tail.reserveCapacity(AgePayload.chunkSize)
        sealed = []
        sealed.reserveCapacity(AgePayload.sealedChunkSize)
    }

    private static func header(wrapping fileKey: FileKey, for recipients: [any AgeRecipient]) throws -> [UInt8] {
        var stanzas: [AgeStanza] = []
        for recipient in recipients { stanzas += try recipient.wrap(fileKey) }
        return AgeHeader(stanzas: stanzas, fileKey: fileKey).encoded()
    }

    /// A new header for `recipients` instead of those given at `init`: the
    /// same file key wrapped for each of them, and a new MAC. The payload
    /// depends only on the file key and the nonce, so it stays valid as it
    /// is stored; the caller puts the new header in place of the old one
    /// (Output's `AtomicFile.replaceStoredPrefix`) before the file is
    /// committed. What a recording's seal does at commit when the catalog's
    /// users changed during the call. Only after `finish`.
    /// - Returns: the old header's length and the new header (which `header` now is).
    /// - Throws: `SealingError(.usage)` as `init` does for the recipients.
    public func rewrapHeader(for recipients: [any AgeRecipient]) throws -> (oldLength: Int, header: [UInt8]) {
        precondition(finished, "AgeWriter.rewrapHeader before finish (the stored offsets depend on the header's length)")
        guard !recipients.isEmpty else { throw SealingError(.usage, "a sealed file needs at least one recipient") }
        if recipients.contains(where: \.mustBeAlone), recipients.count > 1 {
            throw SealingError(.usage, "a passphrase (scrypt) recipient must be the file's only recipient")
        }
        let old = header.count
        header = try AgeWriter.header(wrapping: fileKey, for: recipients)
        return (old, header)
    }

    /// Where chunk `index` starts in the stored file.
    private func storedOffset(chunk index: Int64) -> Int64 {
        Int64(header.count + AgePayload.nonceSize) + index * Int64(AgePayload.sealedChunkSize)
    }

    /// Stored bytes for the content taken so far, once finished.
    public var storedSize: Int64 { Int64(header.count) + AgePayload.storedSize(contentSize: contentSize) }

    public func begin(into output: any StoredBytesOutput) throws {
        precondition(!begun, "AgeWriter.begin called twice")
        begun = true
        try (header + nonce).withUnsafeBytes { try output.append($0) }
    }

    public func append(_ content: UnsafeRawBufferPointer, into output: any StoredBytesOutput) throws {
        precondition(begun && !finished, "AgeWriter.append outside begin...finish")
        var offset = 0
        while offset < content.count {
            if tail.count == AgePayload.chunkSize {
                // More content follows a full chunk: it is not the final one.
                try sealTail(last: false, into: output)
            }
            let n = min(AgePayload.chunkSize - tail.count, content.count - offset)
            tail.append(contentsOf: UnsafeRawBufferPointer(rebasing: content[offset..<(offset + n)]))
            offset += n
        }
        contentSize += Int64(content.count)
    }

    public func overwrite(_ content: UnsafeRawBufferPointer, at offset: Int64, into output: any StoredBytesOutput) throws {
        precondition(begun && !finished, "AgeWriter.overwrite outside begin...finish")
        guard offset >= 0, offset + Int64(content.count) <= contentSize else {
            throw SealingError(.usage, "cannot overwrite content bytes \(offset)..<\(offset + Int64(content.count)): only \(contentSize) were written")
        }
        let tailStart = tailIndex * Int64(AgePayload.chunkSize)
        for (i, byte) in content.enumerated() {
            let at = offset + Int64(i)
            if at >= tailStart {
                tail[Int(at - tailStart)] = byte
            } else if head != nil, at < Int64(AgePayload.chunkSize) {
                head![Int(at)] = byte
            } else {
                let chunk = at / Int64(AgePayload.chunkSize)
                throw SealingError(
                    .usage, chunk: chunk, offset: storedOffset(chunk: chunk),
                    "cannot overwrite content byte \(at): chunk \(chunk) is already sealed (a sealed file is rewritten only in its unsealed tail\(layout == .firstChunkLast ? " and its first 64 KiB" : "; use the .firstChunkLast layout to rewrite a header"))"
                )
            }
        }
    }

    public func finish(into output: any StoredBytesOutput) throws {
        precondition(begun && !finished, "AgeWriter.finish called twice or before begin")
        try sealTail(last: true, into: output)
        if let head {
            try head.withUnsafeBytes { try AgePayload.seal($0, chunk: 0, last: false, key: payloadKey, into: &sealed) }
            try sealed.withUnsafeBytes { try output.write($0, at: storedOffset(chunk: 0)) }
            self.head = nil
        }
        finished = true
    }

    /// Seals the chunk being filled and starts the next one.
    private func sealTail(last: Bool, into output: any StoredBytesOutput) throws {
        if layout == .firstChunkLast, tailIndex == 0, !last {
            // Keep chunk 0 for the end; later chunks go to their places after the space kept for it.
            head = tail
        } else {
            try tail.withUnsafeBytes { try AgePayload.seal($0, chunk: tailIndex, last: last, key: payloadKey, into: &sealed) }
            try sealed.withUnsafeBytes { bytes in
                switch layout {
                case .streaming: try output.append(bytes)
                case .firstChunkLast: try output.write(bytes, at: storedOffset(chunk: tailIndex))
                }
            }
        }
        tail.removeAll(keepingCapacity: true)
        tailIndex += 1
    }
}

/// A `StoredBytesOutput` over an array in memory, for sealing small things
/// (a wrapped key) and for tests.
public final class StoredBytesBuffer: StoredBytesOutput {
    /// What was stored.
    public private(set) var bytes: [UInt8] = []

    /// An empty buffer.
    public init() {}

    public func append(_ data: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: data) }

    public func write(_ data: UnsafeRawBufferPointer, at offset: Int64) throws {
        let end = Int(offset) + data.count
        if end > bytes.count { bytes.append(contentsOf: repeatElement(0, count: end - bytes.count)) }
        bytes.replaceSubrange(Int(offset)..<end, with: data)
    }
}
