import ArgumentParser
import Catalog
import CallrecCore
import Foundation
import Output

/// `callrec catalog coverage`.
struct CatalogCoverage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Count the calls the ledger saw: recorded completely, recorded with defects, or not recorded and why.",
        discussion: """
            convert and record enter every call they see in the catalog's call ledger, recorded or not: \
            a recording as complete or with its defects (one_sided: a leg without media; gaps: more than \
            1 s of expected media missing; cut: the capture ended during the call), any other call with \
            the reason it was not recorded (skipped_by_rule, not_answered, no_media, encrypted_no_key, \
            unsupported_codec, dropped, failed). A call seen again (a capture converted twice) is counted once.

            Dates are read in --tz (default UTC) unless they carry Z or an offset; --to with a date alone \
            includes that day. --as scopes the counts like every catalog command: an agent counts the calls \
            of their own numbers, a supervisor their team's. Calls a rule skipped keep no parties, so only \
            an unscoped count (the operator, an admin, a supervisor without a team) includes them.

            --failures lists each call that was to be recorded and was not recorded completely (a call a \
            rule skipped, or one nobody answered, is no failure), with the reason and the recording to \
            look at (callrec catalog show ID).

            Examples:
              callrec catalog coverage --from 2026-11-01 --to 2026-11-30 --by day
              callrec catalog coverage --by rule --json
              callrec catalog coverage --failures --from 2026-11-29
              callrec catalog coverage --as alice            (alice's own calls only)
            """
    )

    @OptionGroup var location: CatalogLocation

    @Option(help: ArgumentHelp("Calls that started at or after this date/time.", valueName: "time"))
    var from: String?
    @Option(help: ArgumentHelp("Calls that started before this date/time (a date alone: up to its end).", valueName: "time"))
    var to: String?
    @Option(help: ArgumentHelp("The zone dates without Z or offset are read in.", valueName: "zone"))
    var tz: String = "UTC"
    @Option(help: ArgumentHelp("Only calls this rule decided (its id: callrec catalog rules list).", valueName: "id"))
    var rule: Int64?
    @Option(help: ArgumentHelp("Only calls of this catalog user's numbers.", valueName: "name"))
    var user: String?
    @Option(help: ArgumentHelp("Also count per group: day (UTC), rule or user.", valueName: "day|rule|user"))
    var by: String?
    @Flag(help: "List each failing call instead of the counts.")
    var failures = false
    @Option(help: ArgumentHelp("With --failures: at most this many calls.", valueName: "n"))
    var limit: Int = 1000
    @Flag(help: "Print JSON instead of the table (docs/FORMATS.md, \"catalog coverage --json\").")
    var json = false

    func validate() throws {
        if let by, CoverageQuery.Grouping(rawValue: by) == nil { throw ValidationError("--by must be day, rule or user") }
        if limit < 1 || limit > 1_000_000 { throw ValidationError("--limit must be between 1 and 1000000") }
        if failures && by != nil { throw ValidationError("--failures lists calls; it does not take --by") }
    }

    func run() throws {
        let zone = try CatalogTime.zone(tz)
        let query = CoverageQuery(
            from: try from.map { try CatalogTime.parse($0, zone: zone) }, to: try to.map { try CatalogTime.parse($0, zone: zone, endOfDay: true) },
            ruleID: rule, user: user, by: by.flatMap(CoverageQuery.Grouping.init(rawValue:)))
        try location.run { store, actor in
            let out = FileHandleOutput.standardOutput
            if failures {
                let list = try store.coverageFailures(query, limit: limit, by: actor, at: wallClock())
                if json {
                    out.write(catalogJSON(list.map(CoverageFailureJSON.init)) + "\n")
                } else {
                    out.write(Self.table(list))
                    out.write("\(list.count) failing call\(list.count == 1 ? "" : "s")" + (list.count == limit ? " (the first \(limit); --limit shows more)" : "") + "\n")
                }
                return
            }
            let report = try store.coverage(query, by: actor, at: wallClock())
            if json {
                out.write(catalogJSON(CoverageReportJSON(report, query: query)) + "\n")
            } else {
                out.write(Self.table(report, by: query.by))
            }
        }
    }

    static func table(_ report: CoverageReport, by: CoverageQuery.Grouping?) -> String {
        let reasons = LedgerEntry.Outcome.allCases.filter { $0 != .recorded }
        var rows: [[String]] = [
            ["group", "seen", "complete", "one_sided", "gaps", "cut"] + reasons.map(\.rawValue) + ["required", "required_complete"]
        ]
        func row(_ name: String, _ c: CoverageCounts) -> [String] {
            [name, "\(c.seen)", "\(c.complete)", "\(c.oneSided)", "\(c.gaps)", "\(c.cut)"] + reasons.map { "\(c.notRecorded[$0] ?? 0)" }
                + ["\(c.required)", c.requiredCompleteShare.map { String(format: "%.1f%%", $0 * 100) } ?? "-"]
        }
        for group in report.groups { rows.append(row(display(group.name), group.counts)) }
        rows.append(row("all", report.total))
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { cells in
            cells.enumerated().map { index, cell in
                index == 0 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    static func table(_ failures: [CoverageFailure]) -> String {
        failures.map { f in
            let time = ISO8601Time.seconds(f.startEpoch)
            return "\(time)  \(f.direction)  \(display(f.caller)) -> \(display(f.callee))  \(display(f.reason))"
                + (f.required ? "  required" : "") + (f.ruleID.map { "  rule \($0)" } ?? "")
                + (f.recordingID.map { "  see: callrec catalog show \($0)" } ?? "")
        }.joined(separator: "\n") + (failures.isEmpty ? "" : "\n")
    }
}

/// One group's counts as `coverage --json` prints them (docs/FORMATS.md).
struct CoverageCountsJSON: Encodable {
    let counts: CoverageCounts

    enum Keys: String, CodingKey {
        case seen, recorded, total, complete, one_sided, gaps, cut, not_recorded, required, required_complete_share
    }

    struct Name: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(counts.seen, forKey: .seen)
        var recorded = container.nestedContainer(keyedBy: Keys.self, forKey: .recorded)
        try recorded.encode(counts.recorded, forKey: .total)
        try recorded.encode(counts.complete, forKey: .complete)
        try recorded.encode(counts.oneSided, forKey: .one_sided)
        try recorded.encode(counts.gaps, forKey: .gaps)
        try recorded.encode(counts.cut, forKey: .cut)
        var notRecorded = container.nestedContainer(keyedBy: Name.self, forKey: .not_recorded)
        for reason in LedgerEntry.Outcome.allCases where reason != .recorded {
            try notRecorded.encode(counts.notRecorded[reason] ?? 0, forKey: Name(reason.rawValue))
        }
        try container.encode(counts.required, forKey: .required)
        if let share = counts.requiredCompleteShare {
            try container.encode(share, forKey: .required_complete_share)
        } else {
            try container.encodeNil(forKey: .required_complete_share)
        }
    }
}

/// `coverage --json`: the period, its counts, and each group's.
struct CoverageReportJSON: Encodable {
    struct Group: Encodable {
        let group: String
        let counts: CoverageCountsJSON
        func encode(to encoder: any Encoder) throws {
            try counts.encode(to: encoder)
            var container = encoder.container(keyedBy: CoverageCountsJSON.Name.self)
            try container.encode(group, forKey: .init("group"))
        }
    }
    let from: String?
    let to: String?
    let by: String?
    let total: CoverageCountsJSON
    let groups: [Group]

    init(_ report: CoverageReport, query: CoverageQuery) {
        from = query.from.map { ISO8601Time.seconds($0) }
        to = query.to.map { ISO8601Time.seconds($0) }
        by = query.by?.rawValue
        total = CoverageCountsJSON(counts: report.total)
        groups = report.groups.map { Group(group: $0.name, counts: CoverageCountsJSON(counts: $0.counts)) }
    }

    enum CodingKeys: String, CodingKey { case from, to, by, total, groups }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(by, forKey: .by)
        try container.encode(total, forKey: .total)
        try container.encode(groups, forKey: .groups)
    }
}

/// One failing call as `coverage --failures --json` prints it.
struct CoverageFailureJSON: Encodable {
    let start: String
    let end: String
    let direction: String
    let caller: String?
    let callee: String?
    let outcome: String
    let reason: String
    let rule: Int64?
    let required: Bool
    let recording: String?

    init(_ failure: CoverageFailure) {
        start = ISO8601Time.seconds(failure.startEpoch)
        end = ISO8601Time.seconds(failure.endEpoch)
        direction = failure.direction
        caller = failure.caller
        callee = failure.callee
        outcome = failure.outcome.rawValue
        reason = failure.reason
        rule = failure.ruleID
        required = failure.required
        recording = failure.recordingID
    }

    enum CodingKeys: String, CodingKey { case start, end, direction, caller, callee, outcome, reason, rule, required, recording }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(start, forKey: .start)
        try c.encode(end, forKey: .end)
        try c.encode(direction, forKey: .direction)
        try c.encode(caller, forKey: .caller)
        try c.encode(callee, forKey: .callee)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(reason, forKey: .reason)
        try c.encode(rule, forKey: .rule)
        try c.encode(required, forKey: .required)
        try c.encode(recording, forKey: .recording)
    }
}
