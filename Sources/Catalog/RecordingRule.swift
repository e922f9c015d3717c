import CallrecCore
import Foundation

/// What a rule does with the calls it matches.
public enum RuleAction: String, Sendable, CaseIterable, Codable {
    case record, skip
}

/// A set of weekdays, written `mon-fri`, `sat,sun` or `mon,wed-fri`.
public struct Weekdays: Sendable, Hashable, CustomStringConvertible {
    /// Bit `d` set for Calendar weekday `d` (1 = Sunday ... 7 = Saturday).
    public var bits: UInt8

    static let names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Whether Calendar weekday `weekday` (1 = Sunday) is in the set.
    public func contains(_ weekday: Int) -> Bool { bits & (1 << weekday) != 0 }

    /// Parses `mon-fri`, `sat,sun`, `mon,wed-fri` (ranges wrap: `fri-mon`).
    public static func parse(_ text: String) throws -> Weekdays {
        func day(_ name: Substring) throws -> Int {
            let key = name.trimmingCharacters(in: .whitespaces).lowercased().prefix(3)
            guard let i = names.firstIndex(of: String(key)) else {
                throw CatalogError(.invalid, "'\(name)' is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
            }
            return i + 1
        }
        var bits: UInt8 = 0
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-", maxSplits: 1)
            let first = try day(ends[0])
            let last = ends.count == 2 ? try day(ends[1]) : first
            var d = first
            while true {
                bits |= 1 << d
                if d == last { break }
                d = d == 7 ? 1 : d + 1
            }
        }
        guard bits != 0 else { throw CatalogError(.invalid, "'\(text)' names no weekday") }
        return Weekdays(bits: bits)
    }

    /// Canonical text: `mon,tue,wed,thu,fri`.
    public var description: String {
        // Monday first, as people write weeks.
        [2, 3, 4, 5, 6, 7, 1].filter(contains).map { Weekdays.names[$0 - 1] }.joined(separator: ",")
    }
}

/// A span of the day in local time, `08:00-17:00`: start included, end
/// excluded. A span whose end is not after its start runs past midnight
/// (`22:00-06:00`); `24:00` is the end of the day.
public struct TimeOfDayWindow: Sendable, Hashable, CustomStringConvertible {
    /// Minutes after local midnight.
    public var start: Int
    public var end: Int

    /// Whether the span runs past midnight.
    public var wraps: Bool { end <= start }

    /// Parses `HH:MM-HH:MM`.
    public static func parse(_ text: String) throws -> TimeOfDayWindow {
        func minutes(_ s: Substring) throws -> Int {
            let parts = s.trimmingCharacters(in: .whitespaces).split(separator: ":")
            guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h), (0...59).contains(m),
                h < 24 || m == 0
            else { throw CatalogError(.invalid, "'\(s)' is not a time of day (HH:MM, 00:00 to 24:00)") }
            return h * 60 + m
        }
        let ends = text.split(separator: "-")
        guard ends.count == 2 else { throw CatalogError(.invalid, "'\(text)' is not a time span (HH:MM-HH:MM)") }
        let window = TimeOfDayWindow(start: try minutes(ends[0]) % 1440, end: try minutes(ends[1]))
        guard window.start != window.end % 1440 else { throw CatalogError(.invalid, "'\(text)' is an empty time span") }
        return window
    }

    /// Whether `secondOfDay` (local) falls in the span.
    public func contains(secondOfDay: Int) -> Bool {
        let s = start * 60, e = end * 60
        return wraps ? (secondOfDay >= s || secondOfDay < e) : (secondOfDay >= s && secondOfDay < e)
    }

    /// Whether `secondOfDay` falls in the part after midnight of a span that wraps.
    func isAfterMidnight(secondOfDay: Int) -> Bool { wraps && secondOfDay < end * 60 }

    /// The span as written: `08:00-17:00`.
    public var description: String {
        func hm(_ m: Int) -> String { (m / 60 < 10 ? "0" : "") + "\(m / 60):" + (m % 60 < 10 ? "0" : "") + "\(m % 60)" }
        return hm(start) + "-" + hm(end)
    }
}

/// How long a recording is kept: `90d`, `24m`, `7y` (days, calendar months,
/// years), or `24h` (hours: an on-demand rule's time to be kept).
public struct Retention: Sendable, Hashable, CustomStringConvertible {
    /// Hours, days, calendar months or years.
    public enum Unit: String, Sendable { case hours = "h", days = "d", months = "m", years = "y" }
    /// How many units.
    public var amount: Int
    /// Which unit.
    public var unit: Unit

    /// 24 months: what callrec keeps when no rule says otherwise.
    public static let `default` = Retention(amount: 24, unit: .months)

    /// `amount` units.
    public init(amount: Int, unit: Unit) {
        self.amount = amount
        self.unit = unit
    }

    /// Parses `24h`, `90d`, `24m`, `7y`.
    public static func parse(_ text: String) throws -> Retention {
        guard let last = text.last, let unit = Unit(rawValue: String(last).lowercased()),
            let amount = Int(text.dropLast()), (0...100 * 366).contains(amount)
        else { throw CatalogError(.invalid, "'\(text)' is not a retention period (e.g. 24h, 90d, 24m, 7y)") }
        return Retention(amount: amount, unit: unit)
    }

    /// As written: `24m`.
    public var description: String { "\(amount)\(unit.rawValue)" }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// The end of retention for a recording that started at `epoch` (Unix
    /// seconds): calendar arithmetic in UTC, so `24m` from 31 Jan ends on 31 Jan.
    public func until(from epoch: Double) -> Double {
        let calendar = Retention.utc
        var delta = DateComponents()
        switch unit {
        case .hours: delta.hour = amount
        case .days: delta.day = amount
        case .months: delta.month = amount
        case .years: delta.year = amount
        }
        let start = Date(timeIntervalSince1970: epoch)
        return (calendar.date(byAdding: delta, to: start) ?? start).timeIntervalSince1970
    }
}

/// One recording rule. Every condition it sets must hold for it to match;
/// a condition left unset holds for every call. Rules are tried in order
/// and the first that matches decides.
public struct RecordingRule: Sendable, Hashable {
    /// The rule's id in the catalog (stable; positions change).
    public var id: Int64
    /// Order among the rules, 1 first.
    public var position: Int
    /// A name for lists and explanations.
    public var name: String?
    /// Record or skip the calls it matches.
    public var action: RuleAction
    /// The call's direction must be this.
    public var direction: CallDirection?
    /// The firm's own party (the caller of an outbound call, the callee of an inbound one).
    public var local: NumberPattern?
    /// The other party.
    public var remote: NumberPattern?
    /// The weekdays (in `timeZone`) it applies on.
    public var weekdays: Weekdays?
    /// The hours (in `timeZone`) it applies in.
    public var hours: TimeOfDayWindow?
    /// Spans excluded from `hours` ("not during 12:00-13:00").
    public var exceptHours: [TimeOfDayWindow]
    /// The zone weekdays and hours are read in (an IANA name such as `Europe/Stockholm`).
    public var timeZone: String
    /// The share of calls recorded, 0 to 100, chosen by a hash of the Call-ID.
    public var samplePercent: Double
    /// How long what this rule records is kept (nil: the default).
    public var retention: Retention?
    /// An on-demand rule (`--on-demand 24h`): what it records is kept only
    /// this long unless someone who may see the call keeps it (`catalog
    /// keep`, the call page's Keep button); then for `retention`. `catalog
    /// purge` removes those nobody kept. Nil: kept for `retention` outright.
    public var onDemand: Retention?
    /// `--require`: every call this rule matches must be recorded completely;
    /// one that is not is a coverage failure (`catalog coverage`). Record rules only.
    public var required: Bool

    /// A rule; every condition left nil holds for every call.
    public init(
        id: Int64 = 0, position: Int = 0, name: String? = nil, action: RuleAction, direction: CallDirection? = nil,
        local: NumberPattern? = nil, remote: NumberPattern? = nil, weekdays: Weekdays? = nil, hours: TimeOfDayWindow? = nil,
        exceptHours: [TimeOfDayWindow] = [], timeZone: String = "UTC", samplePercent: Double = 100, retention: Retention? = nil,
        onDemand: Retention? = nil, required: Bool = false
    ) {
        self.onDemand = onDemand
        self.id = id
        self.position = position
        self.name = name
        self.action = action
        self.direction = direction
        self.local = local
        self.remote = remote
        self.weekdays = weekdays
        self.hours = hours
        self.exceptHours = exceptHours
        self.timeZone = timeZone
        self.samplePercent = samplePercent
        self.retention = retention
        self.required = required
    }

    /// Checks the values that parsing alone cannot: the zone exists, the sample is a percentage.
    public func validate() throws {
        guard TimeZone(identifier: timeZone) != nil else {
            throw CatalogError(.invalid, "'\(timeZone)' is not a time zone (an IANA name such as Europe/Stockholm, or UTC)")
        }
        guard samplePercent >= 0, samplePercent <= 100 else {
            throw CatalogError(.invalid, "the sample must be a percentage from 0 to 100, not \(samplePercent)")
        }
        if let name, name.utf8.count > 200 { throw CatalogError(.invalid, "the rule name is longer than 200 bytes") }
        if onDemand != nil && action != .record { throw CatalogError(.invalid, "--on-demand is for a rule that records (--record)") }
        if required && action != .record {
            throw CatalogError(.invalid, "--require is for a record rule: a call a skip rule matches is not to be recorded")
        }
    }

    /// The rule in one line, as `rules list` prints it.
    public var summary: String {
        var parts = [action.rawValue]
        if let direction { parts.append(direction.rawValue) }
        if let local { parts.append("local \(local)") }
        if let remote { parts.append("remote \(remote)") }
        if let weekdays { parts.append(weekdays.description) }
        if let hours { parts.append(hours.description) }
        if !exceptHours.isEmpty { parts.append("not " + exceptHours.map(\.description).joined(separator: ",")) }
        if weekdays != nil || hours != nil || !exceptHours.isEmpty { parts.append(timeZone) }
        if samplePercent < 100 { parts.append("sample \(RuleSet.percent(samplePercent))%") }
        if let onDemand { parts.append("on demand \(onDemand)") }
        parts.append("retain \(retention ?? .default)")
        if required { parts.append("required") }
        return parts.joined(separator: " ")
    }
}

extension RecordingRule {
    /// A rule from the texts `catalog rules add` and serve's rules page
    /// take: the same parsers for both, so the two cannot disagree.
    /// - Throws: `CatalogError(.invalid)` naming the field that does not parse.
    public static func parse(
        action: RuleAction, name: String?, direction: String?, local: String?, remote: String?, days: String?, hours: String?,
        except: [String], timeZone: String, samplePercent: Double, retain: String?, onDemand: String? = nil, required: Bool = false
    ) throws -> RecordingRule {
        var rule = RecordingRule(name: name, action: action, timeZone: timeZone, samplePercent: samplePercent, required: required)
        if let direction {
            guard let d = CallDirection(rawValue: direction) else {
                throw CatalogError(.invalid, "--direction must be inbound, outbound, internal or unknown")
            }
            rule.direction = d
        }
        rule.local = try local.map(NumberPattern.parse)
        rule.remote = try remote.map(NumberPattern.parse)
        rule.weekdays = try days.map(Weekdays.parse)
        rule.hours = try hours.map(TimeOfDayWindow.parse)
        rule.exceptHours = try except.map(TimeOfDayWindow.parse)
        rule.retention = try retain.map(Retention.parse)
        rule.onDemand = try onDemand.map(Retention.parse)
        try rule.validate()
        return rule
    }
}
