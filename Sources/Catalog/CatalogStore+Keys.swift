/// The keys of sealed recordings as the catalog keeps them (docs/FORMATS.md,
/// "Keys in the catalog"): public keys, and private keys only wrapped — a
/// user's personal key sealed to the user's password, each generation of a
/// team's key sealed to each supervisor's personal key. The catalog does no
/// cryptography: Keyring makes and opens the keys, and hands the catalog a
/// `TeamKeyMaker` so that a change of a team's supervisors and the team's
/// new key are one transaction.

/// A user's personal key: its public half (`age1…`), which recordings are
/// sealed to, and its private half as an age file sealed to the user's
/// password (one scrypt stanza; the content is the key in age-keygen's
/// format). It does not print the wrapped bytes.
public struct StoredUserKey: Sendable, Equatable, CustomStringConvertible {
    /// `age1…`.
    public var recipient: String
    /// The private key, sealed to the user's password.
    public var wrapped: [UInt8]

    /// A key of `recipient` whose private half is `wrapped`.
    public init(recipient: String, wrapped: [UInt8]) {
        self.recipient = recipient
        self.wrapped = wrapped
    }

    public var description: String { "StoredUserKey(\(recipient))" }
}

/// One generation of a team's key. A team gets a new generation whenever
/// the set of its supervisors (or one of their keys) changes; recordings are
/// sealed to the current one, and each generation stays wrapped for the
/// supervisors it was made for while they remain.
public struct TeamKeyGeneration: Sendable, Equatable {
    public var team: String
    /// 1, 2, ... per team.
    public var generation: Int64
    /// `age1…`.
    public var recipient: String
    public var createdEpoch: Double
    /// When a newer generation replaced it (nil: the current one).
    public var retiredEpoch: Double?

    /// Whether recordings are sealed to it now.
    public var isCurrent: Bool { retiredEpoch == nil }
    /// `team sales #2`.
    public var display: String { "team \(team) #\(generation)" }
}

/// A team key generation's private key, sealed to one supervisor's personal key.
public struct TeamKeyWrap: Sendable, Equatable {
    public var team: String
    public var generation: Int64
    /// The supervisor.
    public var user: String
    /// The supervisor's personal key the wrap was made for.
    public var recipient: String
    /// An age file sealed to `recipient`, holding the team key.
    public var wrapped: [UInt8]
}

/// A new team key: its public half and its private half sealed to each
/// supervisor (by user name).
public struct NewTeamKey: Sendable {
    /// `age1…`.
    public var recipient: String
    /// User name -> the private key sealed to that supervisor's personal key.
    public var wraps: [String: [UInt8]]

    public init(recipient: String, wraps: [String: [UInt8]]) {
        self.recipient = recipient
        self.wraps = wraps
    }
}

/// Makes team keys (Keyring's, with Sealing). The catalog calls it inside
/// the transaction that changes a team's supervisors: on PostgreSQL that
/// transaction may run again, so it must only compute.
public protocol TeamKeyMaker: Sendable {
    /// A fresh key for `team`, wrapped for each of `supervisors` (their personal `age1…` keys).
    func makeTeamKey(team: String, supervisors: [(name: String, recipient: String)]) throws -> NewTeamKey
}

/// What happened to a team's key when its supervisors changed.
public struct TeamKeyChange: Sendable, Equatable, CustomStringConvertible {
    public var team: String
    /// The new current generation; nil when no supervisor with a key is left
    /// (the team's calls are then sealed to no team key).
    public var generation: Int64?
    /// The supervisors who hold it.
    public var supervisors: [String]

    public var description: String {
        guard let generation else {
            return "team \(team): no supervisor with a key is left; its calls are sealed to no team key until one is added"
        }
        return "team \(team): key #\(generation) for \(supervisors.joined(separator: ", "))"
    }
}

extension CatalogStore {
    /// Adds or replaces a user (admin only; audited) and, when given, sets
    /// their personal key. When the user's change changes who supervises a
    /// team (a supervisor added, moved, demoted, or given a new key), the
    /// team gets a new key generation wrapped for its supervisors now, made by
    /// `teamKeys`, in the same transaction; supervisors who left lose their
    /// wraps of every generation.
    /// - Returns: the teams whose keys changed.
    @discardableResult
    public func putUser(
        _ user: CatalogUser, key: StoredUserKey?, teamKeys: (any TeamKeyMaker)?, by actor: CatalogActor, at now: Double
    ) throws -> [TeamKeyChange] {
        try require(.admin, actor, action: "users add", target: "user \(user.name)", reason: nil, at: now)
        guard !user.name.isEmpty, user.name.utf8.count <= 100 else { throw CatalogError(.invalid, "a user name is 1 to 100 bytes") }
        return try write { db in
            let before = try Self.user(db, user.name)
            try db.upsert(
                into: "users", values: [("name", .text(user.name)), ("role", .text(user.role.rawValue)), ("team", user.team.sqlValue)],
                conflict: ["name"])
            if let key {
                try db.execute(
                    sql: "UPDATE users SET key_recipient = ?, key_wrapped = ? WHERE name = ?", arguments: [key.recipient, key.wrapped, user.name])
            }
            try db.execute(sql: #"DELETE FROM user_numbers WHERE "user" = ?"#, arguments: [user.name])
            for number in Set(user.numbers).sorted(by: { $0.text < $1.text }) {
                try db.execute(sql: #"INSERT INTO user_numbers ("user", pattern) VALUES (?, ?)"#, arguments: [user.name, number.text])
            }
            let teams = Set([before?.team, user.team].compactMap { $0 })
            let changes = try Self.settleTeamKeys(db, teams: teams, maker: teamKeys, at: now)
            var detail = "role \(user.role.rawValue)" + (user.team.map { ", team \($0)" } ?? "")
                + ", numbers " + (user.numbers.isEmpty ? "none" : user.numbers.map(\.text).joined(separator: " "))
            if let key { detail += ", personal key \(key.recipient)" }
            for change in changes { detail += "; \(change)" }
            try Self.appendAudit(db, at: now, actor: actor, action: "users add", target: "user \(user.name)", outcome: .done, detail: detail)
            return changes
        }
    }

    /// Gives `name` a personal key (a password change, or a new key when the
    /// old password is lost). The caller has checked who may (the user by
    /// their old password, or an admin). When the public key changes, the
    /// teams the user supervises get a new key generation. Audited.
    @discardableResult
    public func setUserKey(
        _ name: String, key: StoredUserKey, teamKeys: (any TeamKeyMaker)?, by actor: CatalogActor, at now: Double, detail: String
    ) throws -> [TeamKeyChange] {
        try write { db in
            guard let user = try Self.user(db, name) else { throw CatalogError(.notFound, "no user '\(name)' in the catalog") }
            try db.execute(sql: "UPDATE users SET key_recipient = ?, key_wrapped = ? WHERE name = ?", arguments: [key.recipient, key.wrapped, name])
            let changes = try Self.settleTeamKeys(db, teams: Set([user.team].compactMap { $0 }), maker: teamKeys, at: now)
            let text = ([detail] + changes.map(\.description)).joined(separator: "; ")
            try Self.appendAudit(db, at: now, actor: actor, action: "users passwd", target: "user \(name)", outcome: .done, detail: text)
            return changes
        }
    }

    /// Removes a user (admin only; audited): their key goes with them, and a
    /// team they supervised gets a new key generation for the supervisors left.
    @discardableResult
    public func removeUser(named name: String, teamKeys: (any TeamKeyMaker)?, by actor: CatalogActor, at now: Double) throws -> [TeamKeyChange] {
        try require(.admin, actor, action: "users remove", target: "user \(name)", reason: nil, at: now)
        return try write { db in
            let before = try Self.user(db, name)
            let teams = Set([before?.team].compactMap { $0 })
            // Who holds each team's current key before the user's wraps go with them (ON DELETE CASCADE).
            var held: [String: Set<String>] = [:]
            for team in teams { held[team] = try Self.currentHolders(db, team: team) }
            guard try db.execute(sql: "DELETE FROM users WHERE name = ?", arguments: [name]) > 0 else {
                throw CatalogError(.notFound, "no user '\(name)' in the catalog")
            }
            let changes = try Self.settleTeamKeys(db, teams: teams, maker: teamKeys, at: now, heldBefore: held)
            try Self.appendAudit(
                db, at: now, actor: actor, action: "users remove", target: "user \(name)", outcome: .done,
                detail: changes.isEmpty ? nil : changes.map(\.description).joined(separator: "; "))
            return changes
        }
    }

    /// Brings each of `teams`' keys in line with its supervisors: wraps held
    /// by users who are no longer its supervisors (or whose personal key
    /// changed) are deleted from every generation; when the holders of the
    /// current generation are not exactly the supervisors with keys, the
    /// current generation is retired and, if any supervisor is left and
    /// `maker` is given, a new one made for them. So a supervisor who leaves
    /// (or whose key changes) held the current generation, and it is
    /// replaced: they do not open the calls after. `heldBefore`: the current generation's holders per team, when their
    /// wraps are already gone (a user removed).
    static func settleTeamKeys(
        _ db: any SQLConnection, teams: Set<String>, maker: (any TeamKeyMaker)?, at now: Double, heldBefore: [String: Set<String>] = [:]
    ) throws -> [TeamKeyChange] {
        var changes: [TeamKeyChange] = []
        for team in teams.sorted() {
            let holders = try heldBefore[team] ?? Self.currentHolders(db, team: team)
            let supervisors = try db.query(
                sql: "SELECT name, key_recipient FROM users WHERE role = 'supervisor' AND team = ? AND key_recipient IS NOT NULL ORDER BY name",
                arguments: [team]
            ).map { (name: try $0["name"] as String, recipient: try $0["key_recipient"] as String) }
            let keep = Set(supervisors.map { $0.name + " " + $0.recipient })
            for wrap in try db.query(sql: #"SELECT generation, "user", recipient FROM team_key_wraps WHERE team = ?"#, arguments: [team]) {
                let user: String = try wrap["user"]
                let recipient: String = try wrap["recipient"]
                if !keep.contains(user + " " + recipient) {
                    try db.execute(
                        sql: #"DELETE FROM team_key_wraps WHERE team = ? AND generation = ? AND "user" = ?"#,
                        arguments: [team, try wrap["generation"] as Int64, user])
                }
            }
            let current: Int64? = try db.scalar(
                sql: "SELECT generation FROM team_keys WHERE team = ? AND retired_epoch IS NULL", arguments: [team])
            if current != nil {
                if holders == keep && !keep.isEmpty { continue }
            } else if supervisors.isEmpty {
                continue
            }
            // The supervisors changed. Without a maker (a catalog-only change) the current key stays.
            guard let maker else { continue }
            if let current {
                try db.execute(sql: "UPDATE team_keys SET retired_epoch = ? WHERE team = ? AND generation = ?", arguments: [now, team, current])
            }
            guard !supervisors.isEmpty else {
                changes.append(TeamKeyChange(team: team, generation: nil, supervisors: []))
                continue
            }
            let key = try maker.makeTeamKey(team: team, supervisors: supervisors)
            let generation = (try db.scalar(Int64.self, sql: "SELECT coalesce(max(generation), 0) FROM team_keys WHERE team = ?", arguments: [team]) ?? 0) + 1
            try db.execute(
                sql: "INSERT INTO team_keys (team, generation, recipient, created_epoch) VALUES (?, ?, ?, ?)",
                arguments: [team, generation, key.recipient, now])
            for supervisor in supervisors {
                guard let wrapped = key.wraps[supervisor.name] else {
                    throw CatalogError(.invalid, "the new key of team \(team) was not wrapped for its supervisor \(supervisor.name)")
                }
                try db.execute(
                    sql: #"INSERT INTO team_key_wraps (team, generation, "user", recipient, wrapped) VALUES (?, ?, ?, ?, ?)"#,
                    arguments: [team, generation, supervisor.name, supervisor.recipient, wrapped])
            }
            changes.append(TeamKeyChange(team: team, generation: generation, supervisors: supervisors.map(\.name)))
        }
        return changes
    }

    /// `user recipient` of each holder of `team`'s current key generation.
    static func currentHolders(_ db: any SQLConnection, team: String) throws -> Set<String> {
        Set(
            try db.query(
                sql: #"""
                    SELECT w."user", w.recipient FROM team_key_wraps w JOIN team_keys k ON k.team = w.team AND k.generation = w.generation
                    WHERE w.team = ? AND k.retired_epoch IS NULL
                    """#,
                arguments: [team]
            ).map { (try $0["user"] as String) + " " + (try $0["recipient"] as String) })
    }

    /// `name`'s personal key, or nil (no such user, or one made before keys).
    public func userKey(of name: String) throws -> StoredUserKey? {
        try read { db in
            guard let row = try db.queryOne(sql: "SELECT key_recipient, key_wrapped FROM users WHERE name = ?", arguments: [name]) else {
                return nil
            }
            let recipient: String? = try row["key_recipient"]
            let wrapped: [UInt8]? = try row["key_wrapped"]
            guard let recipient, let wrapped else { return nil }
            return StoredUserKey(recipient: recipient, wrapped: wrapped)
        }
    }

    /// The team keys wrapped for `name`, oldest first.
    public func teamKeyWraps(of name: String) throws -> [TeamKeyWrap] {
        try read { db in
            try db.query(
                sql: #"SELECT team, generation, "user", recipient, wrapped FROM team_key_wraps WHERE "user" = ? ORDER BY team, generation"#,
                arguments: [name]
            ).map {
                TeamKeyWrap(
                    team: try $0["team"], generation: try $0["generation"], user: try $0["user"], recipient: try $0["recipient"],
                    wrapped: try $0["wrapped"])
            }
        }
    }

    /// Every generation of every team's key, by team and generation.
    public func teamKeys() throws -> [TeamKeyGeneration] {
        try read { db in try Self.teamKeys(db) }
    }

    static func teamKeys(_ db: any SQLConnection) throws -> [TeamKeyGeneration] {
        try db.query(sql: "SELECT team, generation, recipient, created_epoch, retired_epoch FROM team_keys ORDER BY team, generation").map {
            TeamKeyGeneration(
                team: try $0["team"], generation: try $0["generation"], recipient: try $0["recipient"],
                createdEpoch: try $0["created_epoch"], retiredEpoch: try $0["retired_epoch"])
        }
    }

    /// Who holds which public key, as the catalog stands now: what a
    /// recording's recipients are decided from (`KeyDirectory.holders`).
    public func keyDirectory() throws -> KeyDirectory {
        try read { db in
            var users: [KeyDirectory.UserEntry] = []
            var patterns: [String: [NumberPattern]] = [:]
            for row in try db.query(sql: #"SELECT "user", pattern FROM user_numbers ORDER BY "user", pattern"#) {
                if let pattern = NumberPattern(try row["pattern"] as String) { patterns[try row["user"], default: []].append(pattern) }
            }
            for row in try db.query(sql: "SELECT name, team, key_recipient FROM users WHERE key_recipient IS NOT NULL ORDER BY name") {
                let name: String = try row["name"]
                users.append(
                    KeyDirectory.UserEntry(name: name, team: try row["team"], recipient: try row["key_recipient"], numbers: patterns[name] ?? []))
            }
            return KeyDirectory(users: users, teamKeys: try Self.teamKeys(db))
        }
    }
}

/// Who holds which public key: users' personal keys with their numbers and
/// teams, and every generation of every team key. A recording is sealed to
/// `holders(caller:callee:)` and to the compliance recipients.
public struct KeyDirectory: Sendable, Equatable {
    /// A user with a personal key.
    public struct UserEntry: Sendable, Equatable {
        public var name: String
        public var team: String?
        /// `age1…`.
        public var recipient: String
        public var numbers: [NumberPattern]
    }

    /// Someone a recording is sealed to, by name.
    public struct Holder: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable {
            case user, team
        }
        public var kind: Kind
        /// The user's or the team's name.
        public var name: String
        /// A team key's generation.
        public var generation: Int64?
        /// `age1…`.
        public var recipient: String

        /// `alice`, `team sales #2`.
        public var description: String { kind == .user ? name : "team \(name) #\(generation ?? 0)" }
    }

    public var users: [UserEntry]
    public var teamKeys: [TeamKeyGeneration]

    public init(users: [UserEntry], teamKeys: [TeamKeyGeneration]) {
        self.users = users
        self.teamKeys = teamKeys
    }

    /// Whom a call between `caller` and `callee` is sealed to besides the
    /// compliance recipients: every user one of whose numbers matches a party
    /// (by name), then the current key of each of those users' teams (by team).
    public func holders(caller: String?, callee: String?) -> [Holder] {
        let parties = [caller, callee].compactMap { $0 }
        let matched = users.filter { user in user.numbers.contains { pattern in parties.contains { pattern.matches($0) } } }
        var holders = matched.map { Holder(kind: .user, name: $0.name, generation: nil, recipient: $0.recipient) }
        for team in Set(matched.compactMap(\.team)).sorted() {
            if let key = teamKeys.first(where: { $0.team == team && $0.isCurrent }) {
                holders.append(Holder(kind: .team, name: team, generation: key.generation, recipient: key.recipient))
            }
        }
        return holders
    }

    /// Who holds `recipient` (a user's personal key or a team key generation), or nil.
    public func holder(of recipient: String) -> Holder? {
        if let user = users.first(where: { $0.recipient == recipient }) {
            return Holder(kind: .user, name: user.name, generation: nil, recipient: recipient)
        }
        if let key = teamKeys.first(where: { $0.recipient == recipient }) {
            return Holder(kind: .team, name: key.team, generation: key.generation, recipient: recipient)
        }
        return nil
    }

    /// `alice, team sales #2, 1 other key (compliance)` for a file's recipients.
    public func describe(_ recipients: [String]) -> String {
        var names: [String] = []
        var others = 0
        for recipient in recipients {
            if let holder = holder(of: recipient) { names.append(holder.description) } else { others += 1 }
        }
        if others > 0 { names.append("\(others) other key\(others == 1 ? "" : "s") (compliance)") }
        return names.joined(separator: ", ")
    }
}
