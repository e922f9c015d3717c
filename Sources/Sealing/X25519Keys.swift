import Crypto

/// An age X25519 recipient: a Curve25519 public key, written `age1…`
/// (Bech32, human-readable part `age`). What convert and record are given
/// (`--recipient`): it seals, it cannot open.
public struct X25519Recipient: AgeRecipient, Hashable, CustomStringConvertible {
    /// The 32-byte public key.
    public let publicKey: Curve25519.KeyAgreement.PublicKey

    /// The stanza type.
    static let stanzaType = "X25519"
    /// HKDF's info for the wrap key.
    static let label = Array("age-encryption.org/v1/X25519".utf8)

    /// The recipient `age1…`.
    /// - Throws: `SealingError(.key)` for anything else (another kind of key, a typo).
    public init(_ text: String) throws {
        let trimmed = text.trimmingWhitespace()
        let (hrp, data) = try Bech32.decode(trimmed)
        guard hrp == "age" else {
            throw SealingError(.key, "not an age X25519 recipient: it starts \"\(hrp)1\", not \"age1\"")
        }
        guard data.count == 32, let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: data) else {
            throw SealingError(.key, "not an age X25519 recipient: it holds \(data.count) bytes, not 32")
        }
        publicKey = key
    }

    /// The recipient of a public key.
    public init(publicKey: Curve25519.KeyAgreement.PublicKey) { self.publicKey = publicKey }

    /// `age1…`.
    public var description: String { try! Bech32.encode(hrp: "age", data: Array(publicKey.rawRepresentation)) }

    public static func == (a: X25519Recipient, b: X25519Recipient) -> Bool { a.publicKey.rawRepresentation == b.publicKey.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(publicKey.rawRepresentation) }

    public var mustBeAlone: Bool { false }

    /// C2SP age, "X25519 recipient stanza": a fresh ephemeral key per stanza;
    /// wrap key = HKDF-SHA-256(X25519(ephemeral, recipient), salt: share ||
    /// recipient, info: label); body = ChaCha20-Poly1305(wrap key, file key).
    public func wrap(_ fileKey: FileKey) throws -> [AgeStanza] {
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let share = Array(ephemeral.publicKey.rawRepresentation)
        let secret = try ephemeral.sharedSecretFromKeyAgreement(with: publicKey)
        let wrapKey = secret.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: share + Array(publicKey.rawRepresentation), sharedInfo: X25519Recipient.label, outputByteCount: 32)
        return [AgeStanza(type: X25519Recipient.stanzaType, arguments: [AgeBase64.encode(share)], body: try StanzaWrap.seal(fileKey, with: wrapKey))]
    }
}

/// An age X25519 identity: a Curve25519 private key, written
/// `AGE-SECRET-KEY-1…`, as age-keygen makes it. It opens what was sealed to
/// its recipient. It does not print itself (`description` shows only the
/// recipient); `secretKeyText` spells it out for a key file.
public struct X25519Identity: AgeIdentity, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let privateKey: Curve25519.KeyAgreement.PrivateKey

    /// A new identity from the system's CSPRNG.
    public init() { privateKey = Curve25519.KeyAgreement.PrivateKey() }

    /// The identity `AGE-SECRET-KEY-1…`.
    /// - Throws: `SealingError(.key)`; the message never repeats the text.
    public init(_ text: String) throws {
        let (hrp, data) = try Bech32.decode(text.trimmingWhitespace())
        guard hrp == "AGE-SECRET-KEY-" else {
            throw SealingError(.key, "not an age X25519 identity: it does not start with \"AGE-SECRET-KEY-1\"")
        }
        guard data.count == 32, let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: data) else {
            throw SealingError(.key, "not an age X25519 identity: it holds \(data.count) bytes, not 32")
        }
        privateKey = key
    }

    /// Whom this identity opens files for.
    public var recipient: X25519Recipient { X25519Recipient(publicKey: privateKey.publicKey) }

    /// `AGE-SECRET-KEY-1…`, for a key file. Handle it as the secret it is.
    public var secretKeyText: String { try! Bech32.encode(hrp: "AGE-SECRET-KEY-", data: Array(privateKey.rawRepresentation)) }

    public var description: String { "X25519Identity(\(recipient))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["recipient": recipient.description]) }

    public func unwrap(_ stanzas: [AgeStanza]) throws -> FileKey? {
        let ours = Array(privateKey.publicKey.rawRepresentation)
        for stanza in stanzas where stanza.type == X25519Recipient.stanzaType {
            guard stanza.arguments.count == 1, let share = AgeBase64.decode(stanza.arguments[0].utf8), share.count == 32,
                let shareKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: share)
            else {
                throw SealingError(.header, "malformed age header: an X25519 stanza's argument is not one canonical base64 32-byte share")
            }
            let secret = try privateKey.sharedSecretFromKeyAgreement(with: shareKey)
            // The spec: "If the shared secret is all 0x00 bytes, the identity
            // implementation MUST abort" (a low-order share). swift-crypto leaves the check to us.
            let allZero = secret.withUnsafeBytes { $0.reduce(UInt8(0)) { $0 | $1 } } == 0
            guard !allZero else {
                throw SealingError(.header, "malformed age header: an X25519 stanza's share is a low-order point (all-zero shared secret)")
            }
            let wrapKey = secret.hkdfDerivedSymmetricKey(
                using: SHA256.self, salt: share + ours, sharedInfo: X25519Recipient.label, outputByteCount: 32)
            if let fileKey = try StanzaWrap.open(stanza.body, with: wrapKey, type: X25519Recipient.stanzaType) { return fileKey }
        }
        return nil
    }
}

extension String {
    /// Without leading and trailing spaces, tabs, CR and LF.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
