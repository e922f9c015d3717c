import CallrecCore

/// The filters of `catalog find`; every one set must hold. Numbers and
/// Call-IDs become bound parameters, never SQL text.
public struct RecordingQuery: Sendable {
    /// Either party matches (exact, `prefix*`, or a pattern with `*` / `?`).
    public var number: NumberPattern?
    /// The caller matches.
    public var caller: NumberPattern?
    /// The callee matches.
    public var callee: NumberPattern?
    /// The SIP Call-ID, exactly.
    public var callID: String?
    /// Start at or after / before, Unix seconds.
    public var from: Double?
    public var to: Double?
    /// The direction, exactly.
    public var direction: CallDirection?
    /// Length bounds, seconds.
    public var minDuration: Double?
    public var maxDuration: Double?
    /// Talk time of both parties together, seconds.
    public var minTalk: Double?
    public var maxTalk: Double?
    /// true: DTMF digits were seen; false: the index reports none.
    public var dtmf: Bool?
    /// Share of the recording in which nobody spoke, 0 to 1.
    public var minSilence: Double?
    public var maxSilence: Double?
    /// Only recordings under legal hold (true) or not (false).
    public var held: Bool?
    /// Tagged with this tag (as `CatalogStore.normalizedTag` stores it).
    public var tag: String?
    /// A note on it contains this text (ASCII letters in either case).
    public var noteText: String?
    /// Only recordings that come after this one in the newest-first order
    /// (its start and id): the next page after a page that ended with it.
    public var after: RecordingCursor?
    /// At most this many, newest first.
    public var limit: Int

    /// A query with no filter (every recording), at most `limit` of them.
    public init(limit: Int = 100) { self.limit = limit }

    /// Whether the query names a party or a call (rather than only times, lengths or speech).
    public var namesACall: Bool { number != nil || caller != nil || callee != nil || callID != nil }

    /// The WHERE clause (without scope) and its arguments.
    func condition(_ dialect: SQLDialect) -> (sql: String, arguments: SQLArguments) {
        var terms = ["state = 'committed'"]
        var arguments: SQLArguments = []
        func add(_ sql: String, _ args: SQLArguments) {
            terms.append(sql)
            arguments += args
        }
        if let number {
            let a = number.sqlCondition(column: "caller", dialect: dialect), b = number.sqlCondition(column: "callee", dialect: dialect)
            add("(\(a.sql) OR \(b.sql))", a.arguments + b.arguments)
        }
        if let caller {
            let c = caller.sqlCondition(column: "caller", dialect: dialect)
            add(c.sql, c.arguments)
        }
        if let callee {
            let c = callee.sqlCondition(column: "callee", dialect: dialect)
            add(c.sql, c.arguments)
        }
        if let callID { add("call_id = ?", [callID]) }
        if let from { add("start_epoch >= ?", [from]) }
        if let to { add("start_epoch < ?", [to]) }
        if let direction { add("direction = ?", [direction.rawValue]) }
        if let minDuration { add("duration_s >= ?", [minDuration]) }
        if let maxDuration { add("duration_s <= ?", [maxDuration]) }
        let talk = "(caller_talk_s IS NOT NULL OR callee_talk_s IS NOT NULL) AND COALESCE(caller_talk_s, 0) + COALESCE(callee_talk_s, 0)"
        if let minTalk { add("(\(talk) >= ?)", [minTalk]) }
        if let maxTalk { add("(\(talk) <= ?)", [maxTalk]) }
        if let dtmf { add(dtmf ? "dtmf_count > 0" : "dtmf_count = 0", []) }
        if let minSilence { add("silence_share >= ?", [minSilence]) }
        if let maxSilence { add("silence_share <= ?", [maxSilence]) }
        if let held { add(held ? "hold_reason IS NOT NULL" : "hold_reason IS NULL", []) }
        if let tag { add("id IN (SELECT recording_id FROM recording_tags WHERE tag = ?)", [tag]) }
        if let noteText {
            add(
                "id IN (SELECT recording_id FROM recording_notes WHERE lower(body) LIKE ? ESCAPE '\\')",
                ["%" + SQLDialect.likeLiteral(noteText.lowercased()) + "%"])
        }
        if let after { add("(start_epoch < ? OR (start_epoch = ? AND id < ?))", [after.startEpoch, after.startEpoch, after.id]) }
        return (terms.joined(separator: " AND "), arguments)
    }
}

/// Where a page of recordings (newest first: by start, then id) ended.
public struct RecordingCursor: Sendable, Equatable {
    public var startEpoch: Double
    public var id: String

    public init(startEpoch: Double, id: String) {
        self.startEpoch = startEpoch
        self.id = id
    }

    /// The place of `recording` in the order.
    public init(_ recording: CatalogRecording) {
        self.init(startEpoch: recording.startEpoch, id: recording.id)
    }
}

/// What `find` returns: the recordings the actor may see, and how many more
/// matched that the actor may not.
public struct FindResult: Sendable {
    /// Newest first.
    public var recordings: [CatalogRecording]
    /// Matches outside the actor's scope (withheld, and the refusal audited).
    public var withheld: Int
}

extension CatalogStore {
    /// The recordings that match `query` and that `actor` may see, newest
    /// first. When a query that names a party or a call also matches calls
    /// outside the actor's scope, they are withheld and counted, and the
    /// refusal is audited.
    public func find(_ query: RecordingQuery, by actor: CatalogActor, at now: Double) throws -> FindResult {
        let scope = try scope(of: actor)
        var (sql, arguments) = query.condition(dialect)
        let unscoped = (sql, arguments)
        let restriction = scope.sqlCondition(dialect)
        if let restriction {
            sql += " AND " + restriction.sql
            arguments += restriction.arguments
        }
        // Through the viewer role when there is one: the database's policy filters too.
        let recordings = try readAs(actor) { db in
            try CatalogRecording.fetchAll(
                db, sql: "SELECT * FROM recordings WHERE \(sql) ORDER BY start_epoch DESC, id DESC LIMIT ?",
                arguments: arguments + [query.limit])
        }
        // A search that names a party or a call and meets calls outside the
        // scope is a refusal: count what was withheld, and audit it. (A search
        // by date or length alone simply shows the user's own calls.)
        // (Counted through the owner's connection: under row-level security the viewer role cannot see them to count.)
        var withheld = 0
        if let restriction, query.namesACall {
            withheld = try read { db in
                try db.scalar(
                    Int.self, sql: "SELECT count(*) FROM recordings WHERE \(unscoped.0) AND NOT \(restriction.sql)",
                    arguments: unscoped.1 + restriction.arguments) ?? 0
            }
            if withheld > 0 {
                try audit(
                    "find", target: nil, outcome: .refused, by: actor, at: now,
                    detail: "\(withheld) matching recording\(withheld == 1 ? "" : "s") outside the user's numbers withheld")
            }
        }
        return FindResult(recordings: recordings, withheld: withheld)
    }

    /// The query plan the database chooses for `query`, one line per step
    /// (SQLite's `EXPLAIN QUERY PLAN` details, PostgreSQL's `EXPLAIN` lines;
    /// for tests and `--explain`).
    public func queryPlan(_ query: RecordingQuery) throws -> [String] {
        let (sql, arguments) = query.condition(dialect)
        return try database.explain(
            sql: "SELECT * FROM recordings WHERE \(sql) ORDER BY start_epoch DESC, id DESC LIMIT ?", arguments: arguments + [query.limit])
    }

    /// The committed recording `id` for `actor` to act on (`action`: show,
    /// export, delete...): a clear, audited refusal when it lies outside the
    /// actor's scope. The caller audits what it then does.
    public func authorizedRecording(
        id: String, action: String, minimumRole: Role = .agent, by actor: CatalogActor, reason: String?, at now: Double
    ) throws -> CatalogRecording {
        try require(minimumRole, actor, action: action, target: id, reason: reason, at: now)
        guard let recording = try recording(id: id), recording.state == .committed else {
            throw CatalogError(.notFound, "no recording \(id) in the catalog")
        }
        guard try scope(of: actor).allows(recording) else {
            try refuse(actor, action: action, target: id, reason: reason, at: now, because: "it is not a call of \(scopeOwner(actor))")
        }
        guard viewerDatabase != nil else { return recording }
        // The row handed on is the one the viewer role reads: should the application's
        // check above ever let through a call the database's policy does not, the policy wins.
        guard let seen = try self.recording(id: id, by: actor) else {
            try refuse(
                actor, action: action, target: id, reason: reason, at: now,
                because: "the catalog's row-level security does not let \(actor.display) see it")
        }
        return seen
    }

    /// Shows recording `id` to `actor`: scope-checked and audited. With
    /// `check` (Evidence's: files against the catalog and the signed
    /// manifest), a recording it finds problems with is refused, loudly and audited.
    public func show(
        id: String, by actor: CatalogActor, reason: String?, at now: Double,
        check: ((CatalogRecording, [CatalogFile]) throws -> [String])? = nil
    ) throws -> (CatalogRecording, [CatalogFile]) {
        let recording = try authorizedRecording(id: id, action: "show", by: actor, reason: reason, at: now)
        let files = try files(of: id, by: actor)
        if let check { try refuseUnlessIntact(recording, action: "show", problems: try check(recording, files), by: actor, reason: reason, at: now) }
        try audit("show", target: id, outcome: .done, by: actor, at: now, reason: reason)
        return (recording, files)
    }

    /// Refuses to present `recording` when `problems` (what checking its
    /// files and signature found) is not empty: the refusal is audited and
    /// thrown as `CatalogError(.damaged)` naming every problem.
    public func refuseUnlessIntact(
        _ recording: CatalogRecording, action: String, problems: [String], by actor: CatalogActor, reason: String?, at now: Double
    ) throws {
        guard !problems.isEmpty else { return }
        let why = problems.joined(separator: "; ")
        try audit(action, target: recording.id, outcome: .refused, by: actor, at: now, reason: reason, detail: "integrity: " + why)
        throw CatalogError(
            .damaged, "refused to \(action) recording \(recording.id): it does not match what was recorded and signed: \(why) "
                + "(the refusal is in the audit log; run callrec catalog verify)")
    }

    func scopeOwner(_ actor: CatalogActor) -> String {
        guard case .user(let user) = actor else { return "anyone" }
        if user.role == .supervisor, let team = user.team { return "team \(team)" }
        return "\(user.name)'s numbers"
    }
}
