import Foundation

/// What a catalog user may do.
public enum Role: String, Sendable, CaseIterable, Codable {
    /// Sees and exports the calls of their own numbers; changes nothing.
    case agent
    /// Sees, exports and deletes the calls of their team's numbers (or of
    /// everyone when they have no team).
    case supervisor
    /// Everything: rules, users, holds, erasure, purge, verify, the audit log.
    case admin
}

/// A person who uses the catalog through `--as NAME`.
public struct CatalogUser: Sendable, Equatable {
    /// What `--as` takes.
    public var name: String
    /// What the user may do.
    public var role: Role
    /// A supervisor's team (nil: all calls); an agent's team (lets their supervisor see their calls).
    public var team: String?
    /// The numbers that are the user's own (exact, or patterns such as `+46812*`).
    public var numbers: [NumberPattern]
    /// The public half of the user's personal key (`age1…`), nil for a user
    /// made before keys; set through `putUser(_:key:teamKeys:by:at:)`.
    public var recipient: String?
    /// Disabled by an admin (`setDisabled`): may not sign in or act (`--as`) until enabled.
    public var disabled: Bool

    /// A user with `role`, an optional team and their own numbers.
    public init(name: String, role: Role, team: String? = nil, numbers: [NumberPattern] = [], recipient: String? = nil, disabled: Bool = false) {
        self.name = name
        self.role = role
        self.team = team
        self.numbers = numbers
        self.recipient = recipient
        self.disabled = disabled
    }
}

/// Who runs a catalog command: a catalog user (`--as NAME`), or the
/// operator who owns the catalog file and runs callrec without `--as` (and
/// could read the SQLite file anyway), who may do everything.
public enum CatalogActor: Sendable, Equatable {
    case `operator`(String)
    case user(CatalogUser)

    /// The name written to the audit log: the user's, or `operator:<login>`.
    public var auditName: String {
        switch self {
        case .operator(let login): "operator:" + login
        case .user(let user): user.name
        }
    }

    /// `alice (agent)`, for refusals.
    public var display: String {
        switch self {
        case .operator(let login): "operator \(login)"
        case .user(let user): "\(user.name) (\(user.role.rawValue))"
        }
    }

    /// The actor's role; the operator counts as admin.
    public var role: Role {
        switch self {
        case .operator: .admin
        case .user(let user): user.role
        }
    }
}

/// The recordings an actor may see: all, or those in which one party's
/// number matches one of a set of patterns.
public enum AccessScope: Sendable, Equatable {
    case all
    case numbers([NumberPattern])

    /// Whether `recording` is within the scope.
    public func allows(_ recording: CatalogRecording) -> Bool {
        switch self {
        case .all: true
        case .numbers(let patterns): patterns.contains { $0.matches(recording.caller) || $0.matches(recording.callee) }
        }
    }

    /// An SQL condition on `recordings` (nil for all), with its bound arguments.
    func sqlCondition(_ dialect: SQLDialect) -> (sql: String, arguments: SQLArguments)? {
        guard case .numbers(let patterns) = self else { return nil }
        if patterns.isEmpty { return ("1 = 0", []) }
        var terms: [String] = []
        var arguments: SQLArguments = []
        for pattern in patterns {
            for column in ["caller", "callee"] {
                let (sql, args) = pattern.sqlCondition(column: column, dialect: dialect)
                terms.append(sql)
                arguments += args
            }
        }
        return ("(" + terms.joined(separator: " OR ") + ")", arguments)
    }
}

extension CatalogStore {
    /// The actor for `--as name` (nil: the operator `login`).
    public func actor(named name: String?, login: String) throws -> CatalogActor {
        guard let name else { return .operator(login) }
        guard let user = try user(named: name) else {
            throw CatalogError(.notFound, "no user '\(name)' in the catalog (callrec catalog users list)")
        }
        if user.disabled {
            try refuse(.user(user), action: "act", target: "user \(name)", reason: nil, at: Date().timeIntervalSince1970, because: "the user is disabled")
        }
        return .user(user)
    }

    /// Disables (or enables again) user `name`: a disabled user keeps their
    /// key, numbers and audit trail but may not sign in to serve or act with
    /// `--as`. Admin only; audited (`users disable`, `users enable`).
    public func setDisabled(_ disabled: Bool, user name: String, by actor: CatalogActor, reason: String?, at now: Double) throws {
        let action = disabled ? "users disable" : "users enable"
        try require(.admin, actor, action: action, target: "user \(name)", reason: reason, at: now)
        if case .user(let me) = actor, me.name == name, disabled {
            try refuse(actor, action: action, target: "user \(name)", reason: reason, at: now, because: "an admin may not disable themselves")
        }
        try write { db in
            guard try db.execute(sql: "UPDATE users SET disabled = ? WHERE name = ?", arguments: [disabled ? 1 : 0, name]) > 0 else {
                throw CatalogError(.notFound, "no user '\(name)' in the catalog (callrec catalog users list)")
            }
            try Self.appendAudit(db, at: now, actor: actor, action: action, target: "user \(name)", outcome: .done, reason: reason)
        }
    }


    /// The recordings `actor` may see.
    public func scope(of actor: CatalogActor) throws -> AccessScope {
        guard case .user(let user) = actor else { return .all }
        switch user.role {
        case .admin: return .all
        case .supervisor:
            guard let team = user.team else { return .all }
            let teamNumbers = try read { db in
                try db.column(
                    String.self, sql: #"SELECT DISTINCT n.pattern FROM user_numbers n JOIN users u ON u.name = n."user" WHERE u.team = ?"#,
                    arguments: [team])
            }
            return .numbers(Array(Set(user.numbers + teamNumbers.compactMap(NumberPattern.init))).sorted { $0.text < $1.text })
        case .agent: return .numbers(user.numbers)
        }
    }

    /// The user called `name`, or nil.
    public func user(named name: String) throws -> CatalogUser? {
        try read { db in try Self.user(db, name) }
    }

    static func user(_ db: any SQLConnection, _ name: String) throws -> CatalogUser? {
        guard let row = try db.queryOne(sql: "SELECT name, role, team, key_recipient, disabled FROM users WHERE name = ?", arguments: [name]) else {
            return nil
        }
        let numbers = try db.column(
            String.self, sql: #"SELECT pattern FROM user_numbers WHERE "user" = ? ORDER BY pattern"#, arguments: [name])
        return CatalogUser(
            name: try row["name"], role: Role(rawValue: try row["role"]) ?? .agent, team: try row["team"],
            numbers: numbers.compactMap(NumberPattern.init), recipient: try row["key_recipient"], disabled: try row["disabled"] as Int != 0)
    }

    /// Every user, by name.
    public func users() throws -> [CatalogUser] {
        try read { db in
            try db.column(String.self, sql: "SELECT name FROM users ORDER BY name").compactMap { try Self.user(db, $0) }
        }
    }

    /// Adds or replaces a user without touching their key (admin only;
    /// audited): `putUser(_:key:teamKeys:by:at:)` with neither.
    public func putUser(_ user: CatalogUser, by actor: CatalogActor, at now: Double) throws {
        try putUser(user, key: nil, teamKeys: nil, by: actor, at: now)
    }

    /// Removes a user (admin only; audited), without making team keys.
    public func removeUser(named name: String, by actor: CatalogActor, at now: Double) throws {
        try removeUser(named: name, teamKeys: nil, by: actor, at: now)
    }

    /// Throws a refusal (and audits it) unless `actor` has at least `role`
    /// (serve's admin pages ask it before they list anything).
    package func require(_ role: Role, _ actor: CatalogActor, action: String, target: String?, reason: String?, at now: Double) throws {
        let rank: [Role: Int] = [.agent: 0, .supervisor: 1, .admin: 2]
        guard rank[actor.role]! < rank[role]! else { return }
        try refuse(actor, action: action, target: target, reason: reason, at: now, because: "\(action) needs the \(role.rawValue) role")
    }

    /// Audits a refusal and throws it.
    package func refuse(_ actor: CatalogActor, action: String, target: String?, reason: String?, at now: Double, because why: String) throws -> Never {
        try write { db in
            try Self.appendAudit(db, at: now, actor: actor, action: action, target: target, outcome: .refused, reason: reason, detail: why)
        }
        throw CatalogError(.refused, "refused: \(actor.display) may not \(action)\(target.map { " \($0)" } ?? ""): \(why)")
    }
}
