import Crypto
import CryptoExtras

/// A passphrase, for the scrypt recipient and identity. It does not print itself.
public struct Passphrase: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let bytes: [UInt8]

    /// The passphrase's UTF-8 bytes, as typed (no trimming: a trailing space is part of it).
    /// - Throws: `SealingError(.key)` when it is empty.
    public init(_ text: String) throws {
        guard !text.isEmpty else { throw SealingError(.key, "the passphrase is empty") }
        bytes = Array(text.utf8)
    }

    public var description: String { "Passphrase(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// age's scrypt recipient: the file key wrapped under a key derived from a
/// passphrase, what `age -p` writes. callrec uses it to keep each user's
/// personal key in the catalog, wrapped with that user's password.
///
/// The work factor is log2 of scrypt's N (r = 8, p = 1, so N × 1 KiB of
/// memory): `defaultWorkFactor` 18 is age's own default, 256 MiB and 1.06 s
/// of CPU per derivation on one core of the development machine (Benchmarks,
/// `SealedFiles`), which is what makes guessing a stolen catalog's passwords
/// slow. Tests pass a lower one explicitly.
public struct ScryptRecipient: AgeRecipient {
    /// The stanza type.
    static let stanzaType = "scrypt"
    /// The salt's prefix, so these keys are age's alone.
    static let label = Array("age-encryption.org/v1/scrypt".utf8)
    /// log2(N) when none is given: age's default.
    public static let defaultWorkFactor = 18

    let passphrase: Passphrase
    /// log2(N).
    public let workFactor: Int

    /// A recipient for `passphrase` at `workFactor` (1...30; default 18).
    public init(passphrase: Passphrase, workFactor: Int = ScryptRecipient.defaultWorkFactor) {
        precondition((1...30).contains(workFactor), "scrypt work factor \(workFactor) is outside 1...30")
        self.passphrase = passphrase
        self.workFactor = workFactor
    }

    public var mustBeAlone: Bool { true }

    /// C2SP age, "scrypt recipient stanza": `-> scrypt SALT LOG2N`, wrap key
    /// = scrypt(N, r = 8, p = 1, dkLen 32, S = label || salt, P = passphrase).
    public func wrap(_ fileKey: FileKey) throws -> [AgeStanza] {
        let salt = Array(SymmetricKey(size: SymmetricKeySize(bitCount: 128)).withUnsafeBytes { Array($0) })
        let wrapKey = try ScryptRecipient.wrapKey(passphrase, salt: salt, workFactor: workFactor)
        return [
            AgeStanza(
                type: ScryptRecipient.stanzaType, arguments: [AgeBase64.encode(salt), String(workFactor)],
                body: try StanzaWrap.seal(fileKey, with: wrapKey))
        ]
    }

    static func wrapKey(_ passphrase: Passphrase, salt: [UInt8], workFactor: Int) throws -> SymmetricKey {
        try KDF.Scrypt.deriveKey(
            from: passphrase.bytes, salt: label + salt, outputByteCount: 32, rounds: 1 << workFactor, blockSize: 8, parallelism: 1)
    }
}

/// Opens a file sealed to a passphrase (an scrypt stanza). Refuses a work
/// factor over `maximumWorkFactor` (default 22, as age: 4 GiB and many
/// seconds), so a hostile file cannot make a login spend minutes and gigabytes.
public struct ScryptIdentity: AgeIdentity, Sendable, CustomStringConvertible {
    let passphrase: Passphrase
    /// The highest log2(N) this identity will compute.
    public let maximumWorkFactor: Int

    /// An identity for `passphrase` accepting work factors up to `maximumWorkFactor`.
    public init(passphrase: Passphrase, maximumWorkFactor: Int = 22) {
        self.passphrase = passphrase
        self.maximumWorkFactor = maximumWorkFactor
    }

    public var description: String { "ScryptIdentity(redacted)" }

    public func unwrap(_ stanzas: [AgeStanza]) throws -> FileKey? {
        guard let stanza = stanzas.first(where: { $0.type == ScryptRecipient.stanzaType }) else { return nil }
        guard stanzas.count == 1 else {
            throw SealingError(.header, "malformed age header: an scrypt (passphrase) stanza must be the only stanza")
        }
        func malformed(_ why: String) -> SealingError { SealingError(.header, "malformed age header: the scrypt stanza's \(why)") }
        guard stanza.arguments.count == 2 else { throw malformed("arguments are not a salt and a work factor") }
        guard let salt = AgeBase64.decode(stanza.arguments[0].utf8), salt.count == 16 else {
            throw malformed("salt is not canonical base64 of 16 bytes")
        }
        // "^[1-9][0-9]*$": no sign, no leading zero, no hex; bounded before it is a number.
        let factor = Array(stanza.arguments[1].utf8)
        guard let first = factor.first, (0x31...0x39).contains(first), factor.allSatisfy({ (0x30...0x39).contains($0) }), factor.count <= 2,
            let workFactor = Int(stanza.arguments[1])
        else { throw malformed("work factor \"\(stanza.arguments[1].prefix(20))\" is not a decimal number from 1") }
        guard workFactor <= maximumWorkFactor else {
            throw malformed("work factor \(workFactor) is over the limit \(maximumWorkFactor) (it would take too long)")
        }
        guard stanza.body.count == 32 else {
            throw malformed("body is \(stanza.body.count) bytes, not 32 (a 16-byte file key and its tag)")
        }
        let wrapKey = try ScryptRecipient.wrapKey(passphrase, salt: salt, workFactor: workFactor)
        return try StanzaWrap.open(stanza.body, with: wrapKey, type: ScryptRecipient.stanzaType)
    }
}
