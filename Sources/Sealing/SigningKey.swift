import CallrecCore
import Crypto
import CryptoExtras
import Foundation

/// An Ed25519 private key: the recorder's identity (issue 15), which signs
/// each recording's manifest. Stored as PKCS#8 PEM (`-----BEGIN PRIVATE
/// KEY-----`, what `openssl genpkey -algorithm ed25519` writes) in a 0600
/// file; its public half as SubjectPublicKeyInfo PEM, so anyone can check a
/// signature with OpenSSL alone:
///
/// ```
/// openssl pkeyutl -verify -pubin -inkey recorder.pub.pem -rawin -in FILE -sigfile FILE.sig
/// ```
///
/// It does not print itself.
public struct SigningKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let key: Curve25519.Signing.PrivateKey

    /// A new key from the system's CSPRNG.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// The key in a PKCS#8 PEM document.
    /// - Throws: `SealingError(.key)`.
    public init(pem: String) throws {
        do {
            key = try Curve25519.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw SealingError(.key, "not an Ed25519 private key in PKCS#8 PEM (\"-----BEGIN PRIVATE KEY-----\")")
        }
    }

    /// The key as PKCS#8 PEM. Handle it as the secret it is.
    public var privateKeyPEM: String { key.pemRepresentation + "\n" }

    /// The public half.
    public var publicKey: VerifyingKey { VerifyingKey(key: key.publicKey) }

    /// The 64-byte Ed25519 signature of `message` (RFC 8032, pure Ed25519:
    /// what `openssl pkeyutl -sign -rawin` makes and `-verify -rawin` checks).
    public func signature(for message: [UInt8]) throws -> [UInt8] {
        Array(try key.signature(for: message))
    }

    public var description: String { "SigningKey(\(publicKey.fingerprint))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["fingerprint": publicKey.fingerprint]) }

    /// The key in the PKCS#8 PEM file at `path`, refused when others may read it.
    public static func load(path: String) throws -> SigningKey {
        let text = try KeyFile.readPrivate(path)
        do { return try SigningKey(pem: text) } catch let error as SealingError { throw error.about(path) }
    }

    /// Where the public key of a private key file goes: `recorder.key`,
    /// `recorder.pem` and `recorder` all give `recorder.pub.pem`.
    public static func publicKeyPath(forPrivateKeyAt path: String) -> String {
        for suffix in [".key", ".pem"] where path.hasSuffix(suffix) && path.count > suffix.count {
            return String(path.dropLast(suffix.count)) + ".pub.pem"
        }
        return path + ".pub.pem"
    }

    /// Writes the private key to `path` (0600) and the public key to
    /// `publicKeyPath(forPrivateKeyAt: path)` (0644); neither may exist.
    /// - Returns: the public key file's path.
    @discardableResult
    public func save(to path: String) throws -> String {
        let publicPath = SigningKey.publicKeyPath(forPrivateKeyAt: path)
        if FileManager.default.fileExists(atPath: publicPath) {
            throw SealingError(.io, path: publicPath, "already exists: callrec never replaces a key file (move it away first if you mean to)")
        }
        try KeyFile.create(path, text: privateKeyPEM, access: .owner)
        try KeyFile.create(publicPath, text: publicKey.pem, access: .everyone)
        return publicPath
    }
}

/// An Ed25519 public key: checks what a `SigningKey` signed.
public struct VerifyingKey: Sendable, Hashable, CustomStringConvertible {
    /// The key.
    public let key: Curve25519.Signing.PublicKey

    init(key: Curve25519.Signing.PublicKey) { self.key = key }

    /// The key in a SubjectPublicKeyInfo PEM document (`-----BEGIN PUBLIC KEY-----`).
    /// - Throws: `SealingError(.key)`.
    public init(pem: String) throws {
        do {
            key = try Curve25519.Signing.PublicKey(pemRepresentation: pem)
        } catch {
            throw SealingError(.key, "not an Ed25519 public key in SubjectPublicKeyInfo PEM (\"-----BEGIN PUBLIC KEY-----\")")
        }
    }

    /// The key in the PEM file at `path`.
    public static func load(path: String) throws -> VerifyingKey {
        let text = try KeyFile.readPublic(path)
        do { return try VerifyingKey(pem: text) } catch let error as SealingError { throw error.about(path) }
    }

    /// SubjectPublicKeyInfo PEM, what `openssl pkeyutl -pubin -inkey` reads.
    public var pem: String { key.pemRepresentation + "\n" }

    /// The 32 raw bytes.
    public var rawBytes: [UInt8] { Array(key.rawRepresentation) }

    /// `SHA256:` and the hex SHA-256 of the key's DER encoding: a short name to compare keys by.
    public var fingerprint: String {
        Hex.lowercase(SHA256.hash(data: key.derRepresentation), prefix: "SHA256:")
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        key.isValidSignature(signature, for: message)
    }

    public var description: String { "VerifyingKey(\(fingerprint))" }

    public static func == (a: VerifyingKey, b: VerifyingKey) -> Bool { a.key.rawRepresentation == b.key.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(key.rawRepresentation) }
}
