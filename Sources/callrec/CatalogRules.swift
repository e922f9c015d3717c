import ArgumentParser
import CallrecCore
import Catalog

/// `callrec catalog rules`.
struct CatalogRules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Recording rules: which calls convert records, and how long they are kept.",
        discussion: """
            Rules are tried in order when a call is first identified, before any audio is decoded; \
            the first rule whose every condition holds decides (record or skip) and sets the retention. \
            A call no rule matches is recorded and kept 24 months.

            Local is the firm's own party: the caller of an outbound call, the callee of an inbound one; \
            for internal calls and calls of unknown direction either party may be the local one.

            Weekdays and hours are read in the rule's zone (--tz), so daylight saving time is followed; \
            a span past midnight (22:00-06:00) belongs to the weekday it began on.
            """,
        subcommands: [Add.self, List.self, Remove.self, Test.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a rule (admin only).",
            discussion: """
                Examples:
                  callrec catalog rules add --skip --remote '+467*' --name "never mobiles"
                  callrec catalog rules add --record --local '+46812*' --days mon-fri \\
                      --hours 08:00-17:00 --except 12:00-13:00 --tz Europe/Stockholm \\
                      --retain 7y --name "trading desk, MiFID II"
                  callrec catalog rules add --record --direction inbound --sample 10 \\
                      --retain 90d --name "10% for coaching"
                  callrec catalog rules add --record --local '+46812*' --on-demand 24h \\
                      --retain 12m --name "kept if the agent asks"
                  callrec catalog rules add --skip --name "nothing else"
                  callrec catalog rules add --record --local '+46812*' --retain 7y --require \\
                      --name "traders: every call"

                --require makes the rule an expectation: each call it matches must be recorded completely \
                (both legs, from the answer to the hang-up, within the tolerance of README "Coverage"), \
                and callrec catalog coverage counts those that were not as failures.
                """
        )
        @OptionGroup var location: CatalogLocation
        @Flag(help: "What the rule does with the calls it matches.") var action: RuleAction
        @Option(help: ArgumentHelp("A name for lists and explanations.", valueName: "text")) var name: String?
        @Option(help: ArgumentHelp("inbound, outbound, internal or unknown.", valueName: "direction")) var direction: String?
        @Option(help: ArgumentHelp("The local party's number: exact, prefix* or pattern.", valueName: "number")) var local: String?
        @Option(help: ArgumentHelp("The remote party's number: exact, prefix* or pattern.", valueName: "number")) var remote: String?
        @Option(help: ArgumentHelp("Weekdays: mon-fri, sat,sun, ...", valueName: "days")) var days: String?
        @Option(help: ArgumentHelp("Hours of the day: 08:00-17:00 (start included, end excluded).", valueName: "span")) var hours: String?
        @Option(name: .customLong("except"), help: ArgumentHelp("Hours excluded, e.g. 12:00-13:00 (repeatable).", valueName: "span"))
        var except: [String] = []
        @Option(help: ArgumentHelp("The zone days and hours are read in.", valueName: "zone")) var tz: String = "UTC"
        @Option(help: ArgumentHelp("Record only this percentage of the calls, chosen by Call-ID (same call, same answer).", valueName: "percent"))
        var sample: Double = 100
        @Option(help: ArgumentHelp("How long to keep what this rule records: 90d, 24m, 7y (default 24m).", valueName: "period"))
        var retain: String?
        @Option(
            name: .customLong("on-demand"),
            help: ArgumentHelp(
                "Record provisionally: keep each call only this long (24h, 2d) unless someone keeps it (catalog keep, serve's Keep "
                    + "button); purge removes the rest. A kept call is retained for --retain.", valueName: "period"))
        var onDemand: String?
        @Option(help: ArgumentHelp("Insert at this place (1 = first; default last).", valueName: "n")) var position: Int?
        @Flag(
            help: ArgumentHelp(
                "Every call this rule matches must be recorded completely: one that is not is a coverage failure "
                    + "(catalog coverage; record prints a line for each). Record rules only."))
        var require = false

        func run() throws {
            var rule = RecordingRule(action: action)
            try reportingCatalogErrors {
                rule = try RecordingRule.parse(
                    action: action, name: name, direction: direction, local: local, remote: remote, days: days, hours: hours, except: except,
                    timeZone: tz, samplePercent: sample, retain: retain, onDemand: onDemand, required: require)
            }
            try location.run(create: true) { store, actor in
                let added = try store.addRule(rule, position: position, by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write("rule \(added.id) added at position \(added.position): \(added.summary)\n")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the rules in the order they are tried.")
        @OptionGroup var location: CatalogLocation

        func run() throws {
            try location.run { store, _ in
                var text = "POS  ID    RULE\n"
                for rule in try store.ruleSet().rules {
                    text += "\(String(rule.position).padded(3))  \(String(rule.id).padded(4))  \(rule.summary)\(rule.name.map { "  \"\($0)\"" } ?? "")\n"
                }
                text += "     (no rule matches: record, retain \(Retention.default))\n"
                FileHandleOutput.standardOutput.write(text)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a rule by id (admin only).")
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The rule id (rules list shows it).") var id: Int64

        func run() throws {
            try location.run { store, actor in
                try store.removeRule(id: id, by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write("rule \(id) removed\n")
            }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Explain which rule a call would match, and why.",
            discussion: """
                Example:
                  callrec catalog rules test --caller +46701234567 --callee +4681234567 \\
                      --direction inbound --at 2026-11-30T12:30 --tz Europe/Stockholm
                """
        )
        @OptionGroup var location: CatalogLocation
        @Option(help: ArgumentHelp("The caller's number.", valueName: "number")) var caller: String?
        @Option(help: ArgumentHelp("The callee's number.", valueName: "number")) var callee: String?
        @Option(help: ArgumentHelp("inbound, outbound, internal or unknown.", valueName: "direction")) var direction: String = "unknown"
        @Option(help: ArgumentHelp("When the call starts (read in --tz unless Z or an offset).", valueName: "time")) var at: String
        @Option(help: ArgumentHelp("The zone --at is read in.", valueName: "zone")) var tz: String = "UTC"
        @Option(name: .customLong("call-id"), help: ArgumentHelp("The Call-ID (decides sampling).", valueName: "id")) var callID: String = "test-call"

        func run() throws {
            guard let direction = CallDirection(rawValue: direction) else {
                throw ValidationError("--direction must be inbound, outbound, internal or unknown")
            }
            let start = try CatalogTime.parse(at, zone: CatalogTime.zone(tz))
            try location.run { store, _ in
                let facts = CallFacts(
                    callID: callID, caller: caller, callee: callee, direction: direction,
                    start: MediaTime(nanoseconds: Int64(start) * 1_000_000_000))
                let (evaluations, decision) = try store.ruleSet().explain(facts)
                var text = ""
                for e in evaluations {
                    text += "rule \(e.rule.id) (#\(e.rule.position)\(e.rule.name.map { ", \"\($0)\"" } ?? "")): \(e.matched ? "MATCHES" : "does not match")\n"
                    for c in e.conditions { text += "  \(c.held ? "yes" : "no ") \(c.text)\n" }
                    if e.conditions.isEmpty { text += "  yes (no conditions: matches every call)\n" }
                }
                if decision.ruleID == nil { text += "no rule matches: the default applies\n" }
                text += "decision: \(decision.action.rawValue), retain \(decision.retention)\(decision.required ? ", required" : "")\n"
                FileHandleOutput.standardOutput.write(text)
            }
        }
    }
}

extension RuleAction: EnumerableFlag {}
