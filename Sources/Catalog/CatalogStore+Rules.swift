import CallrecCore

extension CatalogStore {
    /// The recording rules, in order (what convert applies).
    public func ruleSet() throws -> RuleSet {
        try read { db in RuleSet(rules: try Self.rules(db)) }
    }

    static func rules(_ db: any SQLConnection) throws -> [RecordingRule] {
        try db.query(sql: "SELECT * FROM rules ORDER BY position, id").map { row in
            func parsed<T>(_ column: String, _ parse: (String) throws -> T) throws -> T? {
                guard let text: String? = try row[column], let text, !text.isEmpty else { return nil }
                return try parse(text)
            }
            return RecordingRule(
                id: try row["id"], position: try row["position"], name: try row["name"],
                action: RuleAction(rawValue: try row["action"]) ?? .record,
                direction: try parsed("direction") { CallDirection(rawValue: $0) } ?? nil,
                local: try parsed("local_pattern") { NumberPattern($0) } ?? nil,
                remote: try parsed("remote_pattern") { NumberPattern($0) } ?? nil,
                weekdays: try parsed("weekdays", Weekdays.parse),
                hours: try parsed("hours", TimeOfDayWindow.parse),
                exceptHours: try parsed("except_hours") { try $0.split(separator: ",").map { try TimeOfDayWindow.parse(String($0)) } } ?? [],
                timeZone: try row["time_zone"], samplePercent: try row["sample_percent"],
                retention: try parsed("retention", Retention.parse), onDemand: try parsed("on_demand", Retention.parse),
                required: try row["required"] as Int != 0)
        }
    }

    /// Adds `rule` at `position` (1 = first; nil or past the end: last) and
    /// returns it with its id and position. Admin only; audited.
    @discardableResult
    public func addRule(_ rule: RecordingRule, position: Int? = nil, by actor: CatalogActor, at now: Double) throws -> RecordingRule {
        try require(.admin, actor, action: "rules add", target: nil, reason: nil, at: now)
        try rule.validate()
        return try write { db in
            let count = try db.scalar(Int.self, sql: "SELECT count(*) FROM rules") ?? 0
            let place = min(max(position ?? count + 1, 1), count + 1)
            try Self.renumberRules(db, makingRoomAt: place)
            let inserted = try db.queryOne(
                sql: """
                    INSERT INTO rules (position, name, action, direction, local_pattern, remote_pattern, weekdays, hours,
                                       except_hours, time_zone, sample_percent, retention, on_demand, required)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                    """,
                arguments: [
                    place, rule.name, rule.action.rawValue, rule.direction?.rawValue, rule.local?.text, rule.remote?.text,
                    rule.weekdays?.description, rule.hours?.description,
                    rule.exceptHours.isEmpty ? nil : rule.exceptHours.map(\.description).joined(separator: ","),
                    rule.timeZone, rule.samplePercent, rule.retention?.description, rule.onDemand?.description, rule.required ? 1 : 0,
                ])
            var added = rule
            added.id = try inserted.map { try $0["id"] } ?? 0
            added.position = place
            try Self.appendAudit(db, at: now, actor: actor, action: "rules add", target: "rule \(added.id)", outcome: .done, detail: "#\(place): \(added.summary)")
            return added
        }
    }

    /// Removes the rule with `id`. Admin only; audited.
    public func removeRule(id: Int64, by actor: CatalogActor, at now: Double) throws {
        try require(.admin, actor, action: "rules remove", target: "rule \(id)", reason: nil, at: now)
        try write { db in
            guard try db.execute(sql: "DELETE FROM rules WHERE id = ?", arguments: [id]) > 0 else {
                throw CatalogError(.notFound, "no rule \(id) (callrec catalog rules list)")
            }
            try Self.renumberRules(db, makingRoomAt: nil)
            try Self.appendAudit(db, at: now, actor: actor, action: "rules remove", target: "rule \(id)", outcome: .done)
        }
    }

    /// Numbers the rules 1, 2, 3 ... in their current order, leaving `place` free.
    private static func renumberRules(_ db: any SQLConnection, makingRoomAt place: Int?) throws {
        let ids = try db.column(Int64.self, sql: "SELECT id FROM rules ORDER BY position, id")
        for (i, id) in ids.enumerated() {
            var position = i + 1
            if let place, position >= place { position += 1 }
            try db.execute(sql: "UPDATE rules SET position = ? WHERE id = ?", arguments: [position, id])
        }
    }
}
