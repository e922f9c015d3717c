/// Adds recipients to a sealed file without touching its payload: what
/// `catalog reseal` needs to let a user added later hear an older recording.
///
/// The file key is unwrapped with an identity that opens the file (the
/// compliance key), wrapped again for each new recipient, and a new header
/// written: the old stanzas as they were, the new ones after them, a new MAC.
/// The payload (nonce and chunks) is copied byte for byte, since it depends
/// only on the file key and the nonce, which stay. Every chunk is
/// authenticated on the way, so a damaged file is never given a fresh
/// header (and a fresh catalog hash); the copy fails naming the chunk.
///
/// The result goes to `output`, never over the source: give it an
/// `AtomicFile` for a new name (`{ try file.write($0) }`, then `commit()`), so
/// the resealed file appears only complete and the original stays until
/// the caller replaces it.
public enum AgeRewrap {
    /// Writes the file at `sourcePath` to `output` with `recipients` added.
    /// - Parameters:
    ///   - identities: keys, one of which opens the file.
    /// - Returns: the length of what was written.
    /// - Throws: `SealingError` naming the source file: it does not open
    ///   (`.noMatch`, `.header`, `.headerMAC`), it is damaged (`.payload`,
    ///   with the chunk), or it is sealed to a passphrase, which admits no
    ///   other recipient (`.usage`).
    @discardableResult
    public static func addingRecipients(
        _ recipients: [any AgeRecipient], toFileAt sourcePath: String, identities: [any AgeIdentity],
        into output: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int64 {
        do {
            let file = try SealedFileDescriptor(path: sourcePath)
            let input = BufferedSource(file)
            let (header, length) = try AgeHeader.read { Array(try input.peek($0)) }
            let fileKey = try header.unwrap(with: identities)
            if header.stanzas.contains(where: { $0.type == ScryptRecipient.stanzaType }) || recipients.contains(where: \.mustBeAlone) {
                throw SealingError(.usage, "a file sealed with a passphrase cannot have other recipients (age's rule for scrypt stanzas)")
            }
            var stanzas = header.stanzas
            for recipient in recipients { stanzas += try recipient.wrap(fileKey) }
            let newHeader = AgeHeader(stanzas: stanzas, fileKey: fileKey).encoded()
            try newHeader.withUnsafeBytes { try output($0) }

            // Skip the old header, then copy the nonce and every chunk as they are read and authenticated.
            var skipped = [UInt8](repeating: 0, count: length)
            _ = try skipped.withUnsafeMutableBytes { try input.read(into: $0) }
            let content = try withoutActuallyEscaping(output) { output in
                let copy = BufferedSource(CopyingSource(input, to: output))
                var nonce = [UInt8](repeating: 0, count: AgePayload.nonceSize)
                guard try nonce.withUnsafeMutableBytes({ try copy.read(into: $0) }) == AgePayload.nonceSize else {
                    throw SealingError(.header, offset: Int64(length), "the file ends inside the payload nonce, after the header (\(length) bytes)")
                }
                return try AgeDecryptor.decryptChunks(
                    copy, key: AgePayload.key(fileKey: fileKey, nonce: nonce), payloadStart: Int64(length + AgePayload.nonceSize), emit: { _ in })
            }
            return Int64(newHeader.count) + AgePayload.storedSize(contentSize: content)
        } catch let error as SealingError {
            throw error.about(sourcePath)
        }
    }
}

/// Passes on what it reads, and hands every byte read to `output` as well.
final class CopyingSource: AgeByteSource {
    private let inner: any AgeByteSource
    private let output: (UnsafeRawBufferPointer) throws -> Void

    init(_ inner: any AgeByteSource, to output: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.inner = inner
        self.output = output
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 { try output(UnsafeRawBufferPointer(rebasing: buffer[..<n])) }
        return n
    }
}
