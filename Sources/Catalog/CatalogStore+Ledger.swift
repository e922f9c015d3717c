import CallrecCore
import Crypto

/// One call as the ledger keeps it (issue 16): every call seen, recorded or
/// not, with what became of it.
public struct LedgerEntry: Sendable, Equatable {
    /// What became of a call.
    public enum Outcome: String, Sendable, CaseIterable {
        case recorded
        case skippedByRule = "skipped_by_rule"
        case notAnswered = "not_answered"
        case noMedia = "no_media"
        case encryptedNoKey = "encrypted_no_key"
        case unsupportedCodec = "unsupported_codec"
        case dropped
        case failed
    }

    /// The Call-ID (or a call without signalling's stream name): hashed, never stored.
    public var callID: String
    public var startEpoch: Double
    public var endEpoch: Double
    public var direction: String
    /// The parties; dropped before storing when a rule skipped the call.
    public var caller: String?
    public var callee: String?
    public var signalled: Bool
    public var outcome: Outcome
    /// Which cause (`dropped`), which error (`failed`), which codec (`unsupported_codec`).
    public var detail: String?
    public var ruleID: Int64?
    public var required = false
    public var recordingID: String?
    /// A recording's defects: a leg without media, seconds of expected media missing, cut short.
    public var oneSided = false
    public var gapsS = 0.0
    public var cut = false
    public var retainUntilEpoch: Double

    /// Seconds of expected media that may be missing from a recording still
    /// counted complete (docs/FORMATS.md, "The call ledger").
    public static let gapTolerance = 1.0
    /// Seconds a leg's media may start after the answer, or stop before the
    /// hang-up, and still count complete (phones open their media late,
    /// stop it early; packets in flight): more at the start is a gap, more
    /// at the end leaves the leg cut (docs/FORMATS.md, "The call ledger").
    public static let edgeTolerance = 2.0
    /// A row whose Call-ID is in the ledger already is the same call seen
    /// again when their times overlap or lie within this many seconds (an
    /// INVITE is retransmitted for up to 32 s: RFC 3261's Timer B), else
    /// another call under a reused Call-ID.
    public static let sameCallWindow = 32.0

    /// Recorded, both legs, not cut, gaps within `gapTolerance`.
    public var complete: Bool { outcome == .recorded && !oneSided && !cut && gapsS <= Self.gapTolerance }

    /// A coverage failure: a required call not recorded completely.
    public var isCoverageFailure: Bool { required && !complete }

    /// Why the call is not recorded completely, in words (`coverage --failures`, record's failure lines).
    public var reason: String {
        Self.reason(outcome: outcome, oneSided: oneSided, gapsS: gapsS, cut: cut, detail: detail)
    }

    static func reason(outcome: Outcome, oneSided: Bool, gapsS: Double, cut: Bool, detail: String?) -> String {
        var reason = outcome.rawValue
        if outcome == .recorded {
            var defects: [String] = []
            if oneSided { defects.append("one_sided") }
            if gapsS > gapTolerance { defects.append("gaps \((gapsS * 10).rounded() / 10) s") }
            if cut { defects.append("cut") }
            reason = defects.isEmpty ? "recorded complete" : "recorded with defects: " + defects.joined(separator: ", ")
        }
        if let detail { reason += " (\(detail))" }
        return reason
    }

    public init(
        callID: String, startEpoch: Double, endEpoch: Double, direction: String, caller: String?, callee: String?, signalled: Bool,
        outcome: Outcome, retainUntilEpoch: Double
    ) {
        self.callID = callID
        self.startEpoch = startEpoch
        self.endEpoch = endEpoch
        self.direction = direction
        self.caller = caller
        self.callee = callee
        self.signalled = signalled
        self.outcome = outcome
        self.retainUntilEpoch = retainUntilEpoch
    }
}

extension LedgerEntry {
    /// The ledger row of a recording whose catalog row `catalog verify`
    /// rebuilt from its call index: recorded, with the defects the row shows
    /// (a leg without packets, lost packets, cut or cut by a crash). The
    /// decision made when the call began is lost with its row, so the call is
    /// judged against `rules`, the catalog's rules now: a call a `--require`
    /// rule matches is required (and a coverage failure unless complete).
    public init(rebuiltFrom recording: CatalogRecording, judgedBy rules: RuleSet) {
        self.init(
            callID: recording.callID, startEpoch: recording.startEpoch, endEpoch: recording.startEpoch + recording.durationS,
            direction: recording.direction, caller: recording.caller, callee: recording.callee,
            signalled: !recording.callID.hasPrefix("rtp:"), outcome: .recorded, retainUntilEpoch: recording.retainUntilEpoch)
        let decision = rules.decide(recording.callFacts)
        // A rule that would skip the call now did not stop it being recorded then: no expectation.
        ruleID = decision.records ? decision.ruleID ?? recording.ruleID : recording.ruleID
        required = decision.records && decision.required
        recordingID = recording.id
        oneSided = (recording.callerPackets ?? 1) == 0 || (recording.calleePackets ?? 1) == 0
        gapsS = Double((recording.callerLost ?? 0) + (recording.calleeLost ?? 0)) * 0.02
        cut = Self.cutEndReasons.contains(recording.endReason)
    }

    /// End reasons that leave a recording cut: the capture or the recorder
    /// stopped during the call, or a crash (a salvaged recording).
    public static let cutEndReasons: Set<String> = ["cut", "crashed"]
}

extension CatalogRecording {
    /// The call as the recording rules judge it, from the row.
    public var callFacts: CallFacts {
        CallFacts(
            callID: callID, caller: caller, callee: callee, direction: CallDirection(rawValue: direction) ?? .unknown,
            start: MediaTime(nanoseconds: Int64((startEpoch * 1e9).rounded())))
    }

    /// A row rebuilt without the decision made when its call began (`catalog
    /// verify` cataloguing a recording that lost its row) is kept as long as
    /// the rule that matches the call now says, and under that rule's id; the
    /// default retention only when no recording rule matches. A rule that
    /// would skip the call now did not stop it being recorded then: such a
    /// recording keeps the default too.
    public mutating func applyRetention(of rules: RuleSet) {
        let decision = rules.decide(callFacts)
        guard decision.records else { return }
        ruleID = decision.ruleID
        retainUntilEpoch = decision.retention.until(from: startEpoch)
        onDemand = decision.onDemand
    }
}

extension CatalogStore {
    /// Enters `entry` in the ledger alone (a call without a recording).
    /// Returns false when the call is there already (seen again).
    @discardableResult
    public func addToLedger(_ entry: LedgerEntry) throws -> Bool {
        try write { db in try Self.addToLedger(db, entry) }
    }

    /// Enters `entries` (calls turned away at the cap, noted over a second)
    /// in one transaction. Returns how many were new.
    @discardableResult
    public func addToLedger(_ entries: [LedgerEntry]) throws -> Int {
        guard !entries.isEmpty else { return 0 }
        return try write { db in try entries.reduce(0) { $0 + (try Self.addToLedger(db, $1) ? 1 : 0) } }
    }

    /// Enters `entry` in the ledger inside the transaction `db` (the
    /// recording's own, when it has one). A call seen before (the same
    /// keyed hash of its Call-ID) is not entered again: returns false. Only
    /// a `dropped` row gives way, to what became of the call when it was
    /// seen again with room for it (a retransmitted INVITE, a second probe).
    @discardableResult
    public static func addToLedger(_ db: any SQLConnection, _ entry: LedgerEntry) throws -> Bool {
        let skipped = entry.outcome == .skippedByRule
        var key = try ledgerKey(db, callID: entry.callID)
        if let seen = try db.queryOne(sql: "SELECT start_epoch, end_epoch FROM call_ledger WHERE call_key = ?", arguments: [key]) {
            let (start, end): (Double, Double) = (try seen["start_epoch"], try seen["end_epoch"])
            let window = LedgerEntry.sameCallWindow
            if entry.startEpoch > end + window || max(entry.startEpoch, entry.endEpoch) < start - window {
                // Another call under a Call-ID used before (a phone that reuses them, the same
                // ports and SSRC of a call without signalling): its own row, keyed with its start.
                key = try ledgerKey(db, callID: entry.callID + "\n" + String(Int64(entry.startEpoch.rounded(.down))))
            }
        }
        let values: [(column: String, value: SQLValue)] = [
            ("call_key", .text(key)), ("start_epoch", .real(entry.startEpoch)),
            ("end_epoch", .real(max(entry.startEpoch, entry.endEpoch))), ("direction", .text(entry.direction)),
            ("caller", skipped ? .null : entry.caller.map(SQLValue.text) ?? .null),
            ("callee", skipped ? .null : entry.callee.map(SQLValue.text) ?? .null),
            ("signalled", .integer(entry.signalled ? 1 : 0)), ("outcome", .text(entry.outcome.rawValue)),
            ("detail", entry.detail.map(SQLValue.text) ?? .null), ("rule_id", entry.ruleID.map(SQLValue.integer) ?? .null),
            ("required", .integer(entry.required ? 1 : 0)), ("recording_id", entry.recordingID.map(SQLValue.text) ?? .null),
            ("complete", .integer(entry.complete ? 1 : 0)), ("one_sided", .integer(entry.oneSided ? 1 : 0)),
            ("gaps_s", .real(entry.gapsS)), ("cut", .integer(entry.cut ? 1 : 0)), ("retain_until_epoch", .real(entry.retainUntilEpoch)),
        ]
        let replaced = values.dropFirst().map { "\($0.column) = excluded.\($0.column)" }.joined(separator: ", ")
        let sql =
            "INSERT INTO call_ledger (" + values.map(\.column).joined(separator: ", ") + ") VALUES ("
            + values.map { _ in "?" }.joined(separator: ", ") + ") ON CONFLICT (call_key) DO "
            + (entry.outcome == .dropped ? "NOTHING" : "UPDATE SET \(replaced) WHERE call_ledger.outcome = 'dropped'")
        return try db.execute(sql: sql, arguments: SQLArguments(values.map(\.value))) > 0
    }

    /// The ledger's name for `callID`: HMAC-SHA256 under the catalog's key, hex.
    static func ledgerKey(_ db: any SQLConnection, callID: String) throws -> String {
        guard let hex = try db.scalar(String.self, sql: "SELECT key_hex FROM ledger_key WHERE id = 1") else {
            throw CatalogError(.invalid, "the catalog has no ledger key (ledger_key is empty)")
        }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Array(callID.utf8), using: SymmetricKey(data: bytes))
        return mac.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    /// Calls in the ledger (for tests and `catalog verify`'s counts).
    public func ledgerCount() throws -> Int {
        try read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM call_ledger") ?? 0 }
    }
}

/// `callrec catalog coverage`: which calls the ledger holds, grouped.
public struct CoverageQuery: Sendable, Equatable {
    public enum Grouping: String, Sendable, CaseIterable { case day, rule, user }
    /// Calls that started at or after `from` and before `to` (epoch seconds).
    public var from: Double?
    public var to: Double?
    public var ruleID: Int64?
    /// Only calls of this user's numbers.
    public var user: String?
    public var by: Grouping?
    public init(from: Double? = nil, to: Double? = nil, ruleID: Int64? = nil, user: String? = nil, by: Grouping? = nil) {
        self.from = from
        self.to = to
        self.ruleID = ruleID
        self.user = user
        self.by = by
    }
}

/// The counts of one group of calls (docs/FORMATS.md, "catalog coverage --json").
public struct CoverageCounts: Sendable, Equatable {
    public var seen = 0
    public var recorded = 0
    public var complete = 0
    public var oneSided = 0
    public var gaps = 0
    public var cut = 0
    /// Calls not recorded, by outcome (`skipped_by_rule`, ... `failed`).
    public var notRecorded: [LedgerEntry.Outcome: Int] = [:]
    public var required = 0
    public var requiredComplete = 0
    /// The share of required calls recorded completely; nil when none was required.
    public var requiredCompleteShare: Double? { required == 0 ? nil : Double(requiredComplete) / Double(required) }

    public init() {}

    /// What each count column counts (`count(*) FILTER (WHERE ...)`, alike in SQLite and PostgreSQL).
    static let columns: [(name: String, condition: String)] = {
        let recorded = "outcome = 'recorded'"
        var columns = [
            ("recorded", recorded), ("complete", "\(recorded) AND complete = 1"), ("one_sided", "\(recorded) AND one_sided = 1"),
            ("gaps", "\(recorded) AND gaps_s > \(LedgerEntry.gapTolerance)"), ("cut", "\(recorded) AND cut = 1"),
            ("required", "required = 1"), ("required_complete", "required = 1 AND complete = 1"),
        ]
        for outcome in LedgerEntry.Outcome.allCases where outcome != .recorded {
            columns.append(("nr_" + outcome.rawValue, "outcome = '\(outcome.rawValue)'"))
        }
        return columns
    }()

    /// The SELECT list that counts one group: `count(*) AS seen` and one filtered count per column.
    static var selectList: String {
        (["count(*) AS seen"] + columns.map { "count(*) FILTER (WHERE \($0.condition)) AS \($0.name)" }).joined(separator: ", ")
    }

    /// The counts of one row of `selectList`.
    init(row: SQLRow) throws {
        seen = try row["seen"]
        recorded = try row["recorded"]
        complete = try row["complete"]
        oneSided = try row["one_sided"]
        gaps = try row["gaps"]
        cut = try row["cut"]
        required = try row["required"]
        requiredComplete = try row["required_complete"]
        for outcome in LedgerEntry.Outcome.allCases where outcome != .recorded {
            let n: Int = try row["nr_" + outcome.rawValue]
            if n > 0 { notRecorded[outcome] = n }
        }
    }

    /// Adds the counts of another group (the groups of a period partition it).
    mutating func add(_ other: CoverageCounts) {
        seen += other.seen
        recorded += other.recorded
        complete += other.complete
        oneSided += other.oneSided
        gaps += other.gaps
        cut += other.cut
        required += other.required
        requiredComplete += other.requiredComplete
        notRecorded.merge(other.notRecorded, uniquingKeysWith: +)
    }
}


/// A coverage report: the whole period, and each group when grouped.
public struct CoverageReport: Sendable, Equatable {
    public var total = CoverageCounts()
    /// Group name (a UTC day `2026-11-02`, a rule id or `none`, a user name) and its counts, in order.
    public var groups: [(name: String, counts: CoverageCounts)] = []
    public static func == (a: CoverageReport, b: CoverageReport) -> Bool {
        a.total == b.total && a.groups.map(\.name) == b.groups.map(\.name) && a.groups.map(\.counts) == b.groups.map(\.counts)
    }
}

/// One call that was not recorded completely (`coverage --failures`).
public struct CoverageFailure: Sendable, Equatable {
    public var startEpoch: Double
    public var endEpoch: Double
    public var direction: String
    public var caller: String?
    public var callee: String?
    public var outcome: LedgerEntry.Outcome
    /// Why, in words: the outcome's detail, or the recording's defects.
    public var reason: String
    public var ruleID: Int64?
    public var required: Bool
    /// The recording to look at (`catalog show`), when there is one.
    public var recordingID: String?
}

extension CatalogStore {
    /// The WHERE clause of `query` as `actor` may see it (the ledger has the
    /// recordings' caller and callee columns, so the same scope applies).
    private func coverageCondition(_ query: CoverageQuery, by actor: CatalogActor) throws -> (String, SQLArguments) {
        var terms = ["1 = 1"]
        var arguments: SQLArguments = []
        if let from = query.from {
            terms.append("start_epoch >= ?")
            arguments += [from]
        }
        if let to = query.to {
            terms.append("start_epoch < ?")
            arguments += [to]
        }
        if let rule = query.ruleID {
            terms.append("rule_id = ?")
            arguments += [rule]
        }
        if let name = query.user {
            guard let user = try user(named: name) else {
                throw CatalogError(.notFound, "no user '\(name)' in the catalog (callrec catalog users list)")
            }
            if let condition = AccessScope.numbers(user.numbers).sqlCondition(dialect) {
                terms.append(condition.sql)
                arguments += condition.arguments
            }
        }
        if let condition = try scope(of: actor).sqlCondition(dialect) {
            terms.append(condition.sql)
            arguments += condition.arguments
        }
        return (terms.joined(separator: " AND "), arguments)
    }

    /// Counts the ledger's calls for `query`, as `actor` may see them (an
    /// agent: their own numbers' calls). Audited.
    public func coverage(_ query: CoverageQuery, by actor: CatalogActor, at now: Double) throws -> CoverageReport {
        let (condition, arguments) = try coverageCondition(query, by: actor)
        // One pass over the period's rows in the index, each group's counts as filtered counts:
        // grouping by outcome and every defect as well sorted the whole month (230,000 rows by
        // seven columns: 0.45 s in SQLite), and a second pass counted the period's total (0.58 s).
        func counts(_ extra: String = "1 = 1", _ extraArguments: SQLArguments = [], group: String? = nil) throws -> [(String, CoverageCounts)] {
            let sql = group.map {
                "SELECT \($0) AS grp, \(CoverageCounts.selectList) FROM call_ledger WHERE \(condition) AND \(extra) GROUP BY grp ORDER BY grp"
            } ?? "SELECT '' AS grp, \(CoverageCounts.selectList) FROM call_ledger WHERE \(condition) AND \(extra)"
            let rows = try read { db in try db.query(sql: sql, arguments: arguments + extraArguments) }
            return try rows.map { row in
                // A day's number (an integer), or a rule's or the period's name.
                let name: String
                switch try row.value("grp") {
                case .integer(let n): name = String(n)
                case .real(let x): name = String(Int64(x))
                default: name = try row["grp"]
                }
                return (name, try CoverageCounts(row: row))
            }
        }
        var report = CoverageReport()
        // Days and rules partition the period: its total is the sum of its groups (users may share a call).
        func total(of groups: [(name: String, counts: CoverageCounts)]) -> CoverageCounts {
            groups.reduce(into: CoverageCounts()) { $0.add($1.counts) }
        }
        switch query.by {
        case nil, .user:
            report.total = try counts().first?.1 ?? CoverageCounts()
        case .day, .rule:
            break
        }
        switch query.by {
        case nil: break
        case .day:
            // The UTC day's number (days since 1970), named here: a division per row rather
            // than a date formatted per row (strftime and its string took half of a month's count).
            let day = dialect.kind == .sqlite ? "CAST(start_epoch / 86400 AS INTEGER)" : "floor(start_epoch / 86400)::bigint"
            report.groups = try counts(group: day).map { group in
                (name: String(ISO8601Time.seconds(Double(Int64(group.0) ?? 0) * 86400).prefix(10)), counts: group.1)
            }
            report.total = total(of: report.groups)
        case .rule:
            let rule = "CASE WHEN rule_id IS NULL THEN 'none' ELSE CAST(rule_id AS \(dialect.kind == .sqlite ? "TEXT" : "text")) END"
            report.groups = try counts(group: rule).map { (name: $0.0, counts: $0.1) }
            report.total = total(of: report.groups)
        case .user:
            for user in try users() where !user.numbers.isEmpty {
                guard let own = AccessScope.numbers(user.numbers).sqlCondition(dialect) else { continue }
                let group = try counts(own.sql, own.arguments).first?.1 ?? CoverageCounts()
                if group.seen > 0 { report.groups.append((name: user.name, counts: group)) }
            }
        }
        try audit(
            "coverage", target: nil, outcome: .done, by: actor, at: now,
            detail: "\(report.total.seen) call\(report.total.seen == 1 ? "" : "s") counted" + (query.by.map { " by \($0.rawValue)" } ?? ""))
        return report
    }

    /// The calls of `query` not recorded completely, oldest first: every
    /// required one, and every other one that was to be recorded (a call a
    /// rule skipped, or one nobody answered, is no failure). Audited.
    public func coverageFailures(_ query: CoverageQuery, limit: Int, by actor: CatalogActor, at now: Double) throws -> [CoverageFailure] {
        let (condition, arguments) = try coverageCondition(query, by: actor)
        let rows = try read { db in
            try db.query(
                sql: """
                    SELECT * FROM call_ledger WHERE \(condition) AND complete = 0 \
                    AND (required = 1 OR outcome NOT IN ('skipped_by_rule', 'not_answered')) \
                    ORDER BY start_epoch, call_key LIMIT ?
                    """,
                arguments: arguments + [limit])
        }
        let failures = try rows.map { row -> CoverageFailure in
            let outcome = LedgerEntry.Outcome(rawValue: try row["outcome"]) ?? .failed
            let reason = LedgerEntry.reason(
                outcome: outcome, oneSided: try row["one_sided"] as Int != 0, gapsS: try row["gaps_s"], cut: try row["cut"] as Int != 0,
                detail: try row["detail"])
            return CoverageFailure(
                startEpoch: try row["start_epoch"], endEpoch: try row["end_epoch"], direction: try row["direction"], caller: try row["caller"],
                callee: try row["callee"], outcome: outcome, reason: reason, ruleID: try row["rule_id"],
                required: try row["required"] as Int != 0, recordingID: try row["recording_id"])
        }
        try audit(
            "coverage", target: nil, outcome: .done, by: actor, at: now,
            detail: "\(failures.count) failing call\(failures.count == 1 ? "" : "s") listed")
        return failures
    }
}
