import CallrecCore
import Catalog
import Crypto
import Keyring

/// A signed-in user: who, the keys their password opened (held in memory for
/// this session only), the session's CSRF token, and when it started and was
/// last used.
package struct ServeSession: Sendable {
    /// 64 hex digits: 256 random bits (the cookie's value).
    package let id: String
    package let user: CatalogUser
    package let keys: RecordingKeys
    /// What every form of the session carries in its hidden `csrf` field.
    package let csrf: String
    package let created: Double
    package var lastSeen: Double
    /// Recordings whose files this session found intact (checked once per session).
    package var intact: Set<String> = []

    package var actor: CatalogActor { .user(user) }
}

/// The sessions of a running server, in memory only: a restart signs
/// everyone out and forgets every key. A session ends at logout, after
/// `idleTimeout` seconds without a request, or `absoluteTimeout` seconds
/// after login, whichever comes first; its keys go with it.
package final class SessionStore: @unchecked Sendable {
    package let idleTimeout: Double
    package let absoluteTimeout: Double
    /// At most this many sessions at once (the oldest goes first): memory stays bounded.
    package let capacity: Int
    private let lock = Lock()
    private var sessions: [String: ServeSession] = [:]

    package init(idleTimeout: Double, absoluteTimeout: Double, capacity: Int = 10_000) {
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.capacity = capacity
    }

    /// A new session for `user` (a new id every time: an id from before
    /// login never becomes a session, so a planted cookie gains nothing).
    package func create(user: CatalogUser, keys: RecordingKeys, at now: Double) -> ServeSession {
        let session = ServeSession(id: Self.randomToken(), user: user, keys: keys, csrf: Self.randomToken(), created: now, lastSeen: now)
        lock.withLock {
            removeExpired(at: now)
            if sessions.count >= capacity, let oldest = sessions.values.min(by: { $0.lastSeen < $1.lastSeen }) {
                sessions[oldest.id] = nil
            }
            sessions[session.id] = session
        }
        return session
    }

    /// The live session `id` (its idle clock restarted), or nil for an
    /// unknown, tampered or expired one (an expired one is forgotten).
    package func session(id: String, at now: Double) -> ServeSession? {
        guard Self.isWellFormed(id) else { return nil }
        return lock.withLock {
            guard var session = sessions[id] else { return nil }
            if isExpired(session, at: now) {
                sessions[id] = nil
                return nil
            }
            session.lastSeen = now
            sessions[id] = session
            return session
        }
    }

    /// Notes that `session` found `recording` intact.
    package func markIntact(_ recording: String, in session: String) {
        lock.withLock { _ = sessions[session]?.intact.insert(recording) }
    }

    /// Ends session `id` (logout): it and its keys are forgotten.
    package func end(id: String) {
        lock.withLock { sessions[id] = nil }
    }

    /// Ends every session of user `name` (disabled by an admin).
    package func end(user name: String) {
        lock.withLock { sessions = sessions.filter { $0.value.user.name != name } }
    }

    package var count: Int { lock.withLock { sessions.count } }

    private func isExpired(_ session: ServeSession, at now: Double) -> Bool {
        now - session.lastSeen > idleTimeout || now - session.created > absoluteTimeout
    }

    private func removeExpired(at now: Double) {
        for (id, session) in sessions where isExpired(session, at: now) { sessions[id] = nil }
    }

    /// 256 random bits from the system's generator (swift-crypto), as 64 lowercase hex digits.
    package static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Hex.lowercase($0) }
    }

    /// Whether `token` looks like one of ours (64 lowercase hex digits).
    package static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Compares two tokens in time that does not depend on where they
    /// differ (swift-crypto's digest comparison is constant-time).
    package static func same(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Array(a.utf8)) == SHA256.hash(data: Array(b.utf8))
    }
}

/// Failed logins, per user and address: after `freeAttempts` failures in a
/// row, each further attempt must wait twice as long as the one before (1 s,
/// 2 s, 4 s, … up to `maximumDelay`); an attempt within the wait is refused
/// without looking at the password. A success clears the count; an entry
/// quiet for an hour is forgotten.
package final class LoginThrottle: @unchecked Sendable {
    package let freeAttempts: Int
    package let maximumDelay: Double
    private let lock = Lock()
    private var failures: [String: (count: Int, last: Double)] = [:]
    private static let forgetAfter = 3600.0
    private static let capacity = 100_000

    package init(freeAttempts: Int = 3, maximumDelay: Double = 300) {
        self.freeAttempts = freeAttempts
        self.maximumDelay = maximumDelay
    }

    private static func key(_ user: String, _ address: String) -> String { user + "\u{0}" + address }

    /// Seconds `user` from `address` must still wait before the next attempt (0: now).
    package func wait(user: String, address: String, at now: Double) -> Double {
        lock.withLock {
            guard let entry = failures[Self.key(user, address)], entry.count >= freeAttempts else { return 0 }
            let delay = min(maximumDelay, Double(1 << min(30, entry.count - freeAttempts)))
            return max(0, entry.last + delay - now)
        }
    }

    package func failed(user: String, address: String, at now: Double) {
        lock.withLock {
            if failures.count >= Self.capacity {
                failures = failures.filter { now - $0.value.last < Self.forgetAfter }
                if failures.count >= Self.capacity { failures.removeAll() }
            }
            let key = Self.key(user, address)
            let count = (failures[key].map { now - $0.last < Self.forgetAfter ? $0.count : 0 } ?? 0) + 1
            failures[key] = (count, now)
        }
    }

    package func succeeded(user: String, address: String) {
        lock.withLock { failures[Self.key(user, address)] = nil }
    }
}
