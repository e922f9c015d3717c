/// One line of the audit log: who did what, when, why, and whether it was done.
public struct AuditEntry: Codable, Sendable, Equatable {
    /// Whether the action happened.
    public enum Outcome: String, Codable, Sendable, SQLValueConvertible {
        case done, refused, failed
    }

    /// The entry's number: entries are listed in this order.
    public var id: Int64
    /// When, Unix seconds (wall clock of the machine that ran the command).
    public var atEpoch: Double
    /// The user (`--as`), or `operator:<login>`.
    public var actor: String
    /// The command: `show`, `export`, `delete`, `forget`, `purge`, `hold`, ...
    public var action: String
    /// What it acted on: a recording id, `number +46...`, `rule 3`, `user alice`.
    public var target: String?
    /// Whether it was done, refused or failed.
    public var outcome: Outcome
    /// Why, as the actor gave it (`--reason`).
    public var reason: String?
    /// What happened: files removed, recordings kept under hold, the refusal's ground.
    public var detail: String?
    /// The entry's place in the hash chain (1, 2, ...).
    public var seq: Int64?
    /// The recording the entry is about, when its target is one (kept when the entry is redacted).
    public var recordingID: String?
    /// Whether the personal fields (target, reason, detail) were erased with
    /// the recording's data; the entry's commitment to them stays.
    public var redacted: Bool

    enum CodingKeys: String, CodingKey {
        case id, actor, action, target, outcome, reason, detail, seq, redacted
        case atEpoch = "at_epoch"
        case recordingID = "recording_id"
    }

    /// An entry from a row of `SELECT * FROM audit`.
    public init(row: SQLRow) throws {
        id = try row["id"]
        atEpoch = try row["at_epoch"]
        actor = try row["actor"]
        action = try row["action"]
        target = try row["target"]
        outcome = try row["outcome"]
        reason = try row["reason"]
        detail = try row["detail"]
        seq = try row["seq"]
        recordingID = try row["recording_id"]
        redacted = try row["redacted"]
    }
}

extension CatalogStore {
    /// Appends one entry inside the caller's transaction, so the entry exists
    /// exactly when the change it describes does, chained to the one before
    /// (`AuditChain`). Returns its place in the chain.
    @discardableResult
    public static func appendAudit(
        _ db: any SQLConnection, at now: Double, actor: CatalogActor, action: String, target: String?, outcome: AuditEntry.Outcome,
        reason: String? = nil, detail: String? = nil
    ) throws -> Int64 {
        try AuditChain.append(
            db, at: now, actor: actor.auditName, action: action, target: target, outcome: outcome.rawValue, reason: reason, detail: detail)
    }

    /// Appends one entry in its own transaction.
    public func audit(
        _ action: String, target: String?, outcome: AuditEntry.Outcome, by actor: CatalogActor, at now: Double, reason: String? = nil,
        detail: String? = nil
    ) throws {
        try write { db in
            try Self.appendAudit(db, at: now, actor: actor, action: action, target: target, outcome: outcome, reason: reason, detail: detail)
        }
    }

    /// The audit log, oldest first, optionally only since `since` and
    /// before `until` (Unix seconds), of one actor, of one action, about one
    /// target, or older than entry `beforeSeq` (the next page back): the
    /// newest `limit` entries of those. Admin only (a refusal is itself logged).
    public func auditLog(
        since: Double? = nil, until: Double? = nil, actorName: String? = nil, action: String? = nil, target: String? = nil,
        beforeSeq: Int64? = nil, limit: Int = 1000, by actor: CatalogActor, at now: Double
    ) throws -> [AuditEntry] {
        try require(.admin, actor, action: "audit", target: nil, reason: nil, at: now)
        var conditions: [String] = []
        var arguments: SQLArguments = []
        if let since {
            conditions.append("at_epoch >= ?")
            arguments.append(since)
        }
        if let until {
            conditions.append("at_epoch < ?")
            arguments.append(until)
        }
        if let actorName {
            conditions.append("actor = ?")
            arguments.append(actorName)
        }
        if let action {
            conditions.append("action = ?")
            arguments.append(action)
        }
        if let target {
            conditions.append("target = ?")
            arguments.append(target)
        }
        if let beforeSeq {
            conditions.append("seq < ?")
            arguments.append(beforeSeq)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(limit)
        return try read { db in
            try db.query(
                sql: "SELECT * FROM (SELECT * FROM audit \(filter) ORDER BY seq DESC LIMIT ?) AS newest ORDER BY seq", arguments: arguments
            ).map(AuditEntry.init(row:))
        }
    }
}
