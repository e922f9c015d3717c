import Catalog
import CallrecCore
import Foundation
import Sealing

/// A recorder's identity (issue 15): the Ed25519 key pair one recorder — a
/// convert or a record writing into one output folder — signs its manifests
/// and checkpoints with, and the id the catalog knows it by.
///
/// The key lives in a PKCS#8 PEM file readable by its owner only (0600; a
/// file its group or others can read is refused), by default
/// `OUT/recorder.key`, made on first use with its public half beside it
/// (`OUT/recorder.pub.pem`); `callrec keys new --signing` makes one anywhere
/// else, for `--signing-key`. The recorder id is the first 16 hex digits of
/// the public key's fingerprint, so the id names the key and nothing else
/// can claim it.
public struct RecorderIdentity: Sendable {
    /// The private key (it does not print itself).
    public let key: SigningKey
    /// The file it was read from.
    public let keyPath: String
    /// Whether this run made the key.
    public let created: Bool

    /// The public half.
    public let publicKey: VerifyingKey
    /// The recorder id, worked out once: each commit names it twice, and a
    /// fingerprint (DER, SHA-256, hex) per use was most of what signing cost.
    public let id: String

    init(key: SigningKey, keyPath: String, created: Bool) {
        self.key = key
        self.keyPath = keyPath
        self.created = created
        publicKey = key.publicKey
        id = Self.id(of: publicKey)
    }

    /// The default key file of an output folder.
    public static func defaultKeyPath(outputDirectory: String) -> String {
        (outputDirectory.hasSuffix("/") ? outputDirectory : outputDirectory + "/") + "recorder.key"
    }

    /// The id of the recorder whose public key is `key`: the first 16 hex
    /// digits of its fingerprint (`SHA256:` hex of the DER encoding).
    public static func id(of key: VerifyingKey) -> String {
        String(key.fingerprint.dropFirst("SHA256:".count).prefix(16))
    }

    /// The identity in `keyPath`, or when that is nil the output folder's
    /// default key, made there if it does not exist yet.
    /// - Throws: `SealingError` (`.permissions` for a key file others can
    ///   read, `.key` for one that is not an Ed25519 key); a named key file that
    ///   does not exist is an error too (it is never made in its place).
    public static func open(keyPath: String?, outputDirectory: String) throws -> RecorderIdentity {
        if let keyPath {
            return RecorderIdentity(key: try SigningKey.load(path: keyPath), keyPath: keyPath, created: false)
        }
        let path = defaultKeyPath(outputDirectory: outputDirectory)
        if System.exists(path) {
            return RecorderIdentity(key: try SigningKey.load(path: path), keyPath: path, created: false)
        }
        let key = SigningKey()
        do {
            try key.save(to: path)
        } catch let error as SealingError where System.exists(path) {
            // Another process made it first (two converts starting at once): use theirs.
            _ = error
            return RecorderIdentity(key: try SigningKey.load(path: path), keyPath: path, created: false)
        }
        return RecorderIdentity(key: key, keyPath: path, created: true)
    }

    /// The catalog's record of this recorder.
    public func record(label: String, at now: Double) -> RecorderRecord {
        RecorderRecord(id: id, publicKeyPEM: publicKey.pem, fingerprint: publicKey.fingerprint, label: label, registeredEpoch: now)
    }

    /// Registers the recorder in `catalog` unless it is known (audited);
    /// returns whether it was new.
    /// - Throws: `CatalogError(.invalid)` when its id is registered with another key.
    @discardableResult
    public func register(in catalog: CatalogStore, label: String, by actor: CatalogActor, at now: Double) throws -> Bool {
        try catalog.registerRecorder(record(label: label, at: now), by: actor, at: now)
    }

    /// What a recorder says when it starts (standard error).
    public var startLine: String {
        "callrec: recorder \(id) signs its manifests with \(keyPath)" + (created ? " (made now; public key beside it)" : "")
            + " (public key \(publicKey.fingerprint))"
    }

    /// `host:/absolute/out`: where this recorder writes, for the catalog's list of recorders.
    public static func label(outputDirectory: String) -> String {
        let host = ProcessInfo.processInfo.hostName
        let absolute = outputDirectory.hasPrefix("/") ? outputDirectory : FileManager.default.currentDirectoryPath + "/" + outputDirectory
        return host + ":" + absolute
    }
}
