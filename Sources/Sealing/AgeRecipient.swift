import Crypto
import Foundation

/// The 128-bit key an age file's payload is sealed under, fresh for every
/// file: each recipient stanza wraps it. It never leaves this module
/// unwrapped, and does not print itself.
public struct FileKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let key: SymmetricKey

    /// 16 bytes from the system's CSPRNG (the spec: "MUST NOT be reused across multiple files").
    init() { key = SymmetricKey(size: SymmetricKeySize(bitCount: 128)) }

    /// A file key from its 16 bytes (an unwrapped stanza body).
    init(bytes: some ContiguousBytes) { key = SymmetricKey(data: bytes) }

    public var description: String { "FileKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// Who a file is sealed to: wraps a file key into one or more stanzas.
/// `X25519Recipient` (a public key, `age1…`) and `ScryptRecipient` (a
/// passphrase) are the two kinds callrec writes.
public protocol AgeRecipient: Sendable {
    /// Stanzas that wrap `fileKey` for this recipient.
    func wrap(_ fileKey: FileKey) throws -> [AgeStanza]
    /// Whether the file may hold no other stanza (scrypt: a passphrase file
    /// must prove it was written by whoever knows the passphrase).
    var mustBeAlone: Bool { get }
}

/// What opens a file: finds the stanza meant for it and unwraps the file
/// key. `X25519Identity` (a private key, `AGE-SECRET-KEY-1…`) and
/// `ScryptIdentity` (a passphrase).
public protocol AgeIdentity {
    /// The file key from the first of `stanzas` meant for this identity, or
    /// nil when none is.
    /// - Throws: `SealingError(.header)` when a stanza of this identity's type
    ///   is malformed (the spec says to reject the file, not to skip it).
    func unwrap(_ stanzas: [AgeStanza]) throws -> FileKey?
}

/// ChaCha20-Poly1305 with the all-zero nonce, as every native stanza wraps
/// its 16-byte file key (each wrap key is used once: it is derived from fresh
/// randomness). Body: 16 bytes of ciphertext, 16 of tag.
enum StanzaWrap {
    static func seal(_ fileKey: FileKey, with wrapKey: SymmetricKey) throws -> [UInt8] {
        let box = try fileKey.key.withUnsafeBytes { try ChaChaPoly.seal($0, using: wrapKey, nonce: zeroNonce) }
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// The file key in `body`, or nil when the tag does not verify (not this
    /// identity's stanza). The body's length is checked before anything is
    /// decrypted, as the spec asks (partitioning oracles).
    static func open(_ body: [UInt8], with wrapKey: SymmetricKey, type: String) throws -> FileKey? {
        guard body.count == 32 else {
            throw SealingError(.header, "malformed age header: an \(type) stanza's body is \(body.count) bytes, not 32 (a 16-byte file key and its tag)")
        }
        guard let box = try? ChaChaPoly.SealedBox(nonce: zeroNonce, ciphertext: body[..<16], tag: body[16...]),
            let opened = try? ChaChaPoly.open(box, using: wrapKey)
        else { return nil }
        return FileKey(bytes: Array(opened))
    }

    static let zeroNonce = try! ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12))
}
