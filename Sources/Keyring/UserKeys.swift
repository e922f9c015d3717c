import Catalog
import Sealing

/// Keys that open recordings, unlocked and held in memory: a catalog user's
/// personal key and the team keys wrapped for them (what a password opens),
/// or identities from key files (the compliance key). `serve` keeps one per
/// session; the catalog commands make one per command. It does not print
/// the keys.
public struct RecordingKeys: Sendable, CustomStringConvertible {
    /// The catalog user they belong to (nil: key files).
    public let user: CatalogUser?
    /// The identities, the personal key first, then the team keys oldest first.
    public let identities: [X25519Identity]
    /// What each identity is, in the same order: `alice`, `team sales #2`, or the key file's path.
    public let names: [String]

    /// Keys read from identity files (age-keygen's format, mode 0600).
    /// - Throws: `SealingError` (a file others may read is refused).
    public static func keyFiles(_ paths: [String]) throws -> RecordingKeys {
        var identities: [X25519Identity] = []
        var names: [String] = []
        for path in paths {
            for identity in try X25519Identity.load(path: path) {
                identities.append(identity)
                names.append(path)
            }
        }
        return RecordingKeys(user: nil, identities: identities, names: names)
    }

    /// No keys: what opens recordings in the clear.
    public static let none = RecordingKeys(user: nil, identities: [], names: [])

    init(user: CatalogUser?, identities: [X25519Identity], names: [String]) {
        self.user = user
        self.identities = identities
        self.names = names
    }

    /// Who holds them, for messages: `alice's keys` or `the key in compliance.key`.
    public var owner: String {
        if let user { return "\(user.name)'s keys" }
        let files = Array(Set(names)).sorted()
        if files.isEmpty { return "no key" }
        return (identities.count == 1 ? "the key in " : "the keys in ") + files.joined(separator: ", ")
    }

    /// Whether `owner` names more than one key (for the verb after it).
    public var isPlural: Bool { user != nil || identities.count != 1 }

    public var description: String { "RecordingKeys(\(owner): \(names.joined(separator: ", ")))" }
}

/// Users' personal keys and passwords (docs/FORMATS.md, "Keys in the
/// catalog"). A user's key is made when the user is added and kept in the
/// catalog sealed to their password with age's scrypt recipient; opening it
/// is how the password is checked.
///
/// Why no separate password hash: `serve` must open the user's key at
/// login anyway (to hold it for the session), and opening it *is* a check
/// of the password — the scrypt stanza's ChaCha20-Poly1305 tag verifies only
/// under the key the right password derives. A second, separate hash would
/// double the cost of every login and give a thief of the catalog a second
/// thing to guess against, for nothing the key does not already prove. One
/// password, one salted slow derivation (scrypt, N = 2^18, r = 8, p = 1: 256
/// MiB and about a second per guess), one secret.
public enum UserKeys {
    /// log2 of scrypt's N for new keys: age's default (`ScryptRecipient.defaultWorkFactor`).
    public static let defaultWorkFactor = ScryptRecipient.defaultWorkFactor
    /// The shortest password accepted for a new key.
    public static let minimumPasswordLength = 8

    /// Checks a new password: at least `minimumPasswordLength` characters.
    /// - Throws: `CatalogError(.invalid)`.
    public static func checkNewPassword(_ password: String) throws -> Passphrase {
        guard password.count >= minimumPasswordLength else {
            throw CatalogError(.invalid, "a password must be at least \(minimumPasswordLength) characters long")
        }
        return try Passphrase(password)
    }

    /// A new personal key, sealed to `password`.
    public static func newKey(password: Passphrase, workFactor: Int = defaultWorkFactor) throws -> StoredUserKey {
        let identity = X25519Identity()
        return try stored(identity, password: password, workFactor: workFactor)
    }

    /// `identity` as the catalog keeps it, sealed to `password`.
    static func stored(_ identity: X25519Identity, password: Passphrase, workFactor: Int) throws -> StoredUserKey {
        let wrapped = try identity.sealed(to: [ScryptRecipient(passphrase: password, workFactor: workFactor)])
        return StoredUserKey(recipient: identity.recipient.description, wrapped: wrapped)
    }

    /// Opens `name`'s keys with their password: the personal key, and every
    /// team key wrapped for it. A wrong password is refused, and the refusal
    /// audited as `action` on `target` (the command the password was asked for).
    /// - Throws: `CatalogError(.refused)` for a wrong password or a disabled user (audited);
    ///   `.notFound` for no such user; `.invalid` for a user without a key.
    public static func unlock(
        _ name: String, password: Passphrase, catalog: CatalogStore, action: String, target: String?, reason: String? = nil, at now: Double
    ) throws -> RecordingKeys {
        guard let user = try catalog.user(named: name) else {
            throw CatalogError(.notFound, "no user '\(name)' in the catalog (callrec catalog users list)")
        }
        guard let stored = try catalog.userKey(of: name) else {
            throw CatalogError(
                .invalid, "user \(name) has no key and no password yet (callrec catalog users passwd \(name) --reset gives them both)")
        }
        let personal: X25519Identity
        do {
            personal = try X25519Identity(unsealing: stored.wrapped, with: [ScryptIdentity(passphrase: password)])
        } catch let error as SealingError where error.code == .noMatch {
            try catalog.refuse(.user(user), action: action, target: target, reason: reason, at: now, because: "wrong password")
        }
        // Checked once the password is known right, so the answer's time does not tell a disabled user from a wrong password.
        if user.disabled {
            try catalog.refuse(.user(user), action: action, target: target, reason: reason, at: now, because: "the user is disabled")
        }
        var identities = [personal]
        var names = [name]
        for wrap in try catalog.teamKeyWraps(of: name) where wrap.recipient == stored.recipient {
            // A wrap that does not open (written for a key the user no longer has) is skipped.
            if let team = try? X25519Identity(unsealing: wrap.wrapped, with: [personal]) {
                identities.append(team)
                names.append("team \(wrap.team) #\(wrap.generation)")
            }
        }
        return RecordingKeys(user: user, identities: identities, names: names)
    }

    /// Seals `name`'s personal key to a new password: the old one opens it,
    /// so the key (and every recording and team key sealed to it) stays the
    /// same. A wrong old password is refused and audited.
    public static func changePassword(
        _ name: String, from old: Passphrase, to new: Passphrase, workFactor: Int = defaultWorkFactor, catalog: CatalogStore,
        by actor: CatalogActor, at now: Double
    ) throws {
        let keys = try unlock(name, password: old, catalog: catalog, action: "users passwd", target: "user \(name)", at: now)
        let stored = try stored(keys.identities[0], password: new, workFactor: workFactor)
        try catalog.setUserKey(name, key: stored, teamKeys: TeamKeys(), by: actor, at: now, detail: "password changed (same key)")
    }

    /// Gives `name` a new personal key sealed to `password`, for a user who
    /// has none or has lost their password (an admin's act): recordings
    /// sealed to the old key no longer open for them until `catalog reseal`
    /// adds the new one; the teams they supervise get a new key generation.
    @discardableResult
    public static func resetKey(
        _ name: String, password: Passphrase, workFactor: Int = defaultWorkFactor, catalog: CatalogStore, by actor: CatalogActor,
        at now: Double
    ) throws -> (StoredUserKey, [TeamKeyChange]) {
        guard actor.role == .admin else {
            try catalog.refuse(actor, action: "users passwd", target: "user \(name)", reason: nil, at: now, because: "a new key needs the admin role")
        }
        let stored = try newKey(password: password, workFactor: workFactor)
        let changes = try catalog.setUserKey(
            name, key: stored, teamKeys: TeamKeys(), by: actor, at: now, detail: "new personal key \(stored.recipient) (the old password was not given)")
        return (stored, changes)
    }
}

/// Makes team keys for the catalog: a fresh X25519 identity, sealed to each
/// supervisor's personal key (an age file whose content is the key file).
public struct TeamKeys: TeamKeyMaker {
    public init() {}

    public func makeTeamKey(team: String, supervisors: [(name: String, recipient: String)]) throws -> NewTeamKey {
        let key = X25519Identity()
        var wraps: [String: [UInt8]] = [:]
        for supervisor in supervisors {
            wraps[supervisor.name] = try key.sealed(to: [try X25519Recipient(supervisor.recipient)])
        }
        return NewTeamKey(recipient: key.recipient.description, wraps: wraps)
    }
}
