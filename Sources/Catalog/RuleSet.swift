import CallrecCore
import Foundation

/// What a recording rule sees of a call when it is first identified, before
/// any audio is decoded.
public struct CallFacts: Sendable {
    /// The SIP Call-ID (untrusted text: hashed for sampling, never SQL).
    public var callID: String
    /// The caller's number or name, if known.
    public var caller: String?
    /// The callee's number or name, if known.
    public var callee: String?
    /// Which way the call goes (`unknown` until the local numbers are configured).
    public var direction: CallDirection
    /// When the call was identified (the INVITE, or the first RTP packet of an RTP-only call).
    public var start: MediaTime

    /// The facts of one call.
    public init(callID: String, caller: String?, callee: String?, direction: CallDirection, start: MediaTime) {
        self.callID = callID
        self.caller = caller
        self.callee = callee
        self.direction = direction
        self.start = start
    }
}

/// What the rules decided for one call.
public struct RuleDecision: Sendable, Equatable {
    /// Record or skip.
    public var action: RuleAction
    /// The rule that matched, or nil when none did (then the call is recorded).
    public var ruleID: Int64?
    /// How long the recording is kept: for an on-demand rule, the time it
    /// has to be kept in (`onDemand`), else the rule's retention.
    public var retention: Retention
    /// Recorded under an on-demand rule: provisional until someone keeps it.
    public var onDemand: Bool
    /// The rule that matched says `--require`: the call must be recorded completely.
    public var required: Bool

    /// Whether the call is recorded.
    public var records: Bool { action == .record }

    /// A decision.
    public init(action: RuleAction, ruleID: Int64?, retention: Retention, onDemand: Bool = false, required: Bool = false) {
        self.action = action
        self.ruleID = ruleID
        self.retention = retention
        self.onDemand = onDemand
        self.required = required
    }

    /// What `rule`, having matched, decides.
    init(_ rule: RecordingRule) {
        self.init(
            action: rule.action, ruleID: rule.id, retention: rule.onDemand ?? rule.retention ?? .default, onDemand: rule.onDemand != nil,
            required: rule.required)
    }

    /// What happens when no rule matches: record, keep for the default period.
    public static let unmatched = RuleDecision(action: .record, ruleID: nil, retention: .default)
}

/// How one rule judged one call: each condition it sets, held or not, and why.
public struct RuleEvaluation: Sendable {
    /// The rule judged.
    public var rule: RecordingRule
    /// Whether every condition held.
    public var matched: Bool
    /// One line per condition the rule sets: `(held, explanation)`.
    public var conditions: [(held: Bool, text: String)]
}

/// The recording rules in order, evaluated first match wins.
public struct RuleSet: Sendable {
    /// In the order they are tried.
    public let rules: [RecordingRule]
    private let zones: [TimeZone]

    /// The rules, ordered by position.
    public init(rules: [RecordingRule]) {
        self.rules = rules.sorted { ($0.position, $0.id) < ($1.position, $1.id) }
        self.zones = self.rules.map { TimeZone(identifier: $0.timeZone) ?? TimeZone(identifier: "UTC")! }
    }

    /// The decision for `call`: the first matching rule's action and retention.
    public func decide(_ call: CallFacts) -> RuleDecision {
        for (rule, zone) in zip(rules, zones) where evaluate(rule, zone: zone, call, explaining: false).matched {
            return RuleDecision(rule)
        }
        return .unmatched
    }

    /// Every rule's judgement of `call` up to and including the first match,
    /// with reasons, and the decision.
    public func explain(_ call: CallFacts) -> (evaluations: [RuleEvaluation], decision: RuleDecision) {
        var evaluations: [RuleEvaluation] = []
        for (rule, zone) in zip(rules, zones) {
            let evaluation = evaluate(rule, zone: zone, call, explaining: true)
            evaluations.append(evaluation)
            if evaluation.matched { return (evaluations, RuleDecision(rule)) }
        }
        return (evaluations, .unmatched)
    }

    /// Where a call falls in `[0, 100)`, fixed by its Call-ID: the same call
    /// is always in or out of a given sample.
    public static func sampleBucket(callID: String) -> Double {
        // FNV-1a then the splitmix64 finaliser, so Call-IDs that differ in one
        // character land far apart.
        var z = StableHash.fnv1a64(callID.utf8)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z % 10_000) / 100
    }

    static func percent(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }

    /// Which party is local and which remote, for each reading the direction allows:
    /// outbound -> the caller is local; inbound -> the callee; internal or
    /// unknown -> either way round.
    static func assignments(_ call: CallFacts) -> [(local: String?, remote: String?)] {
        switch call.direction {
        case .outbound: [(call.caller, call.callee)]
        case .inbound: [(call.callee, call.caller)]
        case .internal, .unknown: [(call.caller, call.callee), (call.callee, call.caller)]
        }
    }

    private func evaluate(_ rule: RecordingRule, zone: TimeZone, _ call: CallFacts, explaining: Bool) -> RuleEvaluation {
        var conditions: [(Bool, String)] = []
        var matched = true
        func check(_ held: Bool, _ text: @autoclosure () -> String) {
            matched = matched && held
            if explaining { conditions.append((held, text())) }
        }
        if let direction = rule.direction {
            check(direction == call.direction, "direction is \(call.direction.rawValue), rule wants \(direction.rawValue)")
        }
        if rule.local != nil || rule.remote != nil {
            let readings = RuleSet.assignments(call)
            let fit = readings.first { reading in
                (rule.local?.matches(reading.local) ?? true) && (rule.remote?.matches(reading.remote) ?? true)
            }
            let shown = fit ?? readings[0]
            var parts: [String] = []
            if let local = rule.local { parts.append("local \(shown.local ?? "?") \(local.matches(shown.local) ? "matches" : "does not match") \(local)") }
            if let remote = rule.remote { parts.append("remote \(shown.remote ?? "?") \(remote.matches(shown.remote) ? "matches" : "does not match") \(remote)") }
            let either = readings.count > 1 ? " (direction \(call.direction.rawValue): either party may be local)" : ""
            check(fit != nil, parts.joined(separator: ", ") + either)
        }
        if rule.weekdays != nil || rule.hours != nil || !rule.exceptHours.isEmpty {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            let date = Date(timeIntervalSince1970: Double(call.start.nanoseconds / 1_000_000_000))
            let c = calendar.dateComponents([.weekday, .hour, .minute, .second, .year, .month, .day], from: date)
            let secondOfDay = (c.hour ?? 0) * 3600 + (c.minute ?? 0) * 60 + (c.second ?? 0)
            let weekday = c.weekday ?? 1
            let local = "\(Weekdays.names[weekday - 1]) \(c.year!)-\(pad2(c.month!))-\(pad2(c.day!)) \(pad2(c.hour!)):\(pad2(c.minute!)):\(pad2(c.second!)) \(rule.timeZone)"
            if let hours = rule.hours {
                check(hours.contains(secondOfDay: secondOfDay), "\(local) \(hours.contains(secondOfDay: secondOfDay) ? "is" : "is not") within \(hours)")
            }
            if let weekdays = rule.weekdays {
                // The part of a night span after midnight belongs to the day the span began.
                let shifted = rule.hours?.isAfterMidnight(secondOfDay: secondOfDay) == true
                let day = shifted ? (weekday == 1 ? 7 : weekday - 1) : weekday
                let dayName = Weekdays.names[day - 1]
                let note = shifted ? " (the \(rule.hours!) span began on \(dayName))" : ""
                check(weekdays.contains(day), "\(dayName)\(note) \(weekdays.contains(day) ? "is" : "is not") in \(weekdays) (\(local))")
            }
            for except in rule.exceptHours {
                let inside = except.contains(secondOfDay: secondOfDay)
                check(!inside, "\(local) \(inside ? "is" : "is not") within the excluded \(except)")
            }
        }
        if rule.samplePercent < 100 {
            let bucket = RuleSet.sampleBucket(callID: call.callID)
            check(bucket < rule.samplePercent, "the Call-ID's sample point \(String(format: "%.2f", bucket)) is \(bucket < rule.samplePercent ? "below" : "not below") \(RuleSet.percent(rule.samplePercent))%")
        }
        return RuleEvaluation(rule: rule, matched: matched, conditions: conditions)
    }
}

func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
