import CallrecCore
import Catalog
import Foundation
import Testing

@Suite struct RuleSetTests {
    /// Unix seconds of a UTC date and time.
    static func utc(_ text: String) -> MediaTime {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return MediaTime(nanoseconds: Int64(f.date(from: text)!.timeIntervalSince1970) * 1_000_000_000)
    }

    static func call(_ at: String, caller: String? = "+4611", callee: String? = "+4622", direction: CallDirection = .unknown, id: String = "c1")
        -> CallFacts
    {
        CallFacts(callID: id, caller: caller, callee: callee, direction: direction, start: utc(at))
    }

    static func rules(_ rules: RecordingRule...) -> RuleSet {
        RuleSet(rules: rules.enumerated().map { i, r in
            var r = r
            r.id = Int64(i + 1)
            r.position = i + 1
            return r
        })
    }

    @Test func noRulesRecordsEverythingForTheDefaultPeriod() {
        let decision = RuleSet(rules: []).decide(Self.call("2026-11-29T08:00:00Z"))
        #expect(decision == RuleDecision(action: .record, ruleID: nil, retention: Retention(amount: 24, unit: .months)))
    }

    /// Stockholm leaves CET for CEST at 01:00 UTC on 29 March 2026 and comes
    /// back at 01:00 UTC on 25 October: the same UTC time of day falls on
    /// either side of 08:00 local.
    @Test(arguments: [
        ("2026-03-28T06:30:00Z", false),  // Sat 07:30 CET
        ("2026-03-28T07:30:00Z", true),  // Sat 08:30 CET
        ("2026-03-29T06:30:00Z", true),  // Sun 08:30 CEST: same UTC time, now inside
        ("2026-03-29T15:00:00Z", false),  // Sun 17:00 CEST: the end is excluded
        ("2026-10-24T06:30:00Z", true),  // Sat 08:30 CEST
        ("2026-10-25T06:30:00Z", false),  // Sun 07:30 CET: same UTC time, now outside
        ("2026-10-25T07:00:00Z", true),  // Sun 08:00 CET: the start is included
        ("2026-10-25T15:59:59Z", true),  // Sun 16:59:59 CET
        ("2026-10-25T16:00:00Z", false),  // Sun 17:00 CET
    ])
    func officeHoursFollowDaylightSavingTime(at: String, recorded: Bool) throws {
        let set = Self.rules(
            RecordingRule(action: .record, hours: try .parse("08:00-17:00"), timeZone: "Europe/Stockholm"),
            RecordingRule(action: .skip))
        #expect(set.decide(Self.call(at)).records == recorded)
    }

    /// 02:00-03:00 local does not exist on the spring day and happens twice on the autumn day.
    @Test(arguments: [
        ("2026-03-29T00:30:00Z", false),  // 01:30 CET
        ("2026-03-29T01:30:00Z", false),  // 03:30 CEST: 02:xx was skipped
        ("2026-10-25T00:30:00Z", true),  // 02:30 CEST, the first time
        ("2026-10-25T01:30:00Z", true),  // 02:30 CET, the second time
        ("2026-10-25T02:00:00Z", false),  // 03:00 CET
    ])
    func theHourThatDaylightSavingSkipsOrRepeats(at: String, recorded: Bool) throws {
        let set = Self.rules(
            RecordingRule(action: .record, hours: try .parse("02:00-03:00"), timeZone: "Europe/Stockholm"),
            RecordingRule(action: .skip))
        #expect(set.decide(Self.call(at)).records == recorded)
    }

    /// A Friday night shift: the hours after midnight belong to Friday.
    @Test(arguments: [
        ("2026-11-27T21:59:59Z", false),  // Fri before the shift
        ("2026-11-27T22:00:00Z", true),  // Fri 22:00
        ("2026-11-27T23:59:59Z", true),
        ("2026-11-28T00:00:00Z", true),  // Sat 00:00, still Friday's shift
        ("2026-11-28T05:59:59Z", true),
        ("2026-11-28T06:00:00Z", false),  // the shift's end is excluded
        ("2026-11-28T23:00:00Z", false),  // Saturday's own night
        ("2026-11-27T02:00:00Z", false),  // Fri 02:00 belongs to Thursday's shift
    ])
    func nightSpanAcrossMidnightBelongsToTheDayItBegan(at: String, recorded: Bool) throws {
        let set = Self.rules(
            RecordingRule(action: .record, weekdays: try .parse("fri"), hours: try .parse("22:00-06:00")),
            RecordingRule(action: .skip))
        #expect(set.decide(Self.call(at)).records == recorded)
    }

    @Test(arguments: [
        ("2026-11-27T10:59:00Z", true),  // Fri 11:59 CET
        ("2026-11-27T12:30:00Z", true),  // 13:30 CET: lunch in Stockholm is 11:00-12:00 UTC
        ("2026-11-27T11:00:00Z", false),  // 12:00 CET: excluded
        ("2026-11-27T11:30:00Z", false),
        ("2026-11-28T09:00:00Z", false),  // Saturday
    ])
    func weekdaysWithALunchBreak(at: String, recorded: Bool) throws {
        let set = Self.rules(
            RecordingRule(
                action: .record, weekdays: try .parse("mon-fri"), hours: try .parse("08:00-17:00"), exceptHours: [try .parse("12:00-13:00")],
                timeZone: "Europe/Stockholm"),
            RecordingRule(action: .skip))
        #expect(set.decide(Self.call(at)).records == recorded)
    }

    /// Overlapping rules: the first that matches decides, with its own retention.
    @Test func firstMatchWinsAmongOverlappingRules() throws {
        let set = Self.rules(
            RecordingRule(action: .skip, remote: try .parse("+467*")),
            RecordingRule(action: .record, local: try .parse("+46812*"), retention: try .parse("7y")),
            RecordingRule(action: .record, retention: try .parse("90d")))
        let mobile = set.decide(Self.call("2026-11-27T10:00:00Z", caller: "+46701234567", callee: "+4681234567", direction: .inbound))
        #expect(mobile == RuleDecision(action: .skip, ruleID: 1, retention: .default))
        let fixed = set.decide(Self.call("2026-11-27T10:00:00Z", caller: "+4631555010", callee: "+4681234567", direction: .inbound))
        #expect(fixed == RuleDecision(action: .record, ruleID: 2, retention: Retention(amount: 7, unit: .years)))
        let other = set.decide(Self.call("2026-11-27T10:00:00Z", caller: "+4631555010", callee: "+4631555020", direction: .inbound))
        #expect(other == RuleDecision(action: .record, ruleID: 3, retention: Retention(amount: 90, unit: .days)))
    }

    /// Local is the callee of an inbound call, the caller of an outbound one, either for internal and unknown.
    @Test(arguments: [
        (CallDirection.inbound, "+4670", "+46812", true),
        (.inbound, "+46812", "+4670", false),
        (.outbound, "+46812", "+4670", true),
        (.outbound, "+4670", "+46812", false),
        (.internal, "+4670", "+46812", true),
        (.unknown, "+4670", "+46812", true),
        (.unknown, "+46812", "+4670", true),
        (.unknown, "+4670", "+4671", false),
    ])
    func localAndRemoteFollowTheDirection(direction: CallDirection, caller: String, callee: String, matched: Bool) throws {
        let set = Self.rules(RecordingRule(action: .skip, local: try .parse("+46812*"), remote: try .parse("+467*")))
        #expect(set.decide(Self.call("2026-11-27T10:00:00Z", caller: caller, callee: callee, direction: direction)).ruleID == (matched ? 1 : nil))
    }

    @Test func directionConditionWaitsForAKnownDirection() throws {
        let set = Self.rules(RecordingRule(action: .skip, direction: .inbound))
        #expect(set.decide(Self.call("2026-11-27T10:00:00Z", direction: .inbound)).action == .skip)
        #expect(set.decide(Self.call("2026-11-27T10:00:00Z", direction: .unknown)).action == .record)
    }

    /// The sample is a fixed property of the Call-ID: the same call always gets
    /// the same answer, and about the given share of calls is chosen.
    @Test func samplingIsDeterministicPerCallID() {
        let set = Self.rules(RecordingRule(action: .record, samplePercent: 10), RecordingRule(action: .skip))
        var recorded = 0
        for i in 0..<10_000 {
            let call = Self.call("2026-11-27T10:00:00Z", id: "a84b4c76e667\(i)@pc33.example.com")
            let first = set.decide(call)
            #expect(first == set.decide(call))
            if first.records { recorded += 1 }
        }
        #expect((900...1100).contains(recorded), "recorded \(recorded) of 10000 at 10%")
        #expect(RuleSet.sampleBucket(callID: "x") == RuleSet.sampleBucket(callID: "x"))
        #expect((0..<100).contains(RuleSet.sampleBucket(callID: "")))
    }

    @Test func explainSaysWhichRuleAndWhy() throws {
        let set = Self.rules(
            RecordingRule(name: "mobiles", action: .skip, remote: try .parse("+467*")),
            RecordingRule(
                name: "desk", action: .record, local: try .parse("+46812*"), weekdays: try .parse("mon-fri"), hours: try .parse("08:00-17:00"),
                timeZone: "Europe/Stockholm"))
        let (evaluations, decision) = set.explain(
            Self.call("2026-11-27T09:00:00Z", caller: "+4631555010", callee: "+4681234567", direction: .inbound))
        #expect(decision.ruleID == 2)
        #expect(evaluations.map(\.matched) == [false, true])
        #expect(evaluations[0].conditions.map(\.text) == ["remote +4631555010 does not match +467*"])
        #expect(evaluations[1].conditions.map(\.held) == [true, true, true])
        #expect(evaluations[1].conditions[1].text == "fri 2026-11-27 10:00:00 Europe/Stockholm is within 08:00-17:00")
    }

    @Test(arguments: ["mon-fri", "sat,sun", "fri-mon", "Mon,Wed-Fri"])
    func weekdaysRoundTrip(text: String) throws {
        let days = try Weekdays.parse(text)
        #expect(try Weekdays.parse(days.description) == days)
    }

    @Test func weekdayRangesWrapOverTheWeekend() throws {
        #expect(try Weekdays.parse("fri-mon").description == "mon,fri,sat,sun")
    }

    @Test(arguments: ["25:00-26:00", "08:00", "08:00-08:00", "8-17", "08:60-09:00"])
    func badTimeSpansAreRefused(text: String) {
        #expect(throws: CatalogError.self) { try TimeOfDayWindow.parse(text) }
    }

    @Test(arguments: ["", "24", "m", "-1d", "5w"])
    func badRetentionIsRefused(text: String) {
        #expect(throws: CatalogError.self) { try Retention.parse(text) }
    }

    @Test func badZoneOrSampleIsRefused() {
        #expect(throws: CatalogError.self) { try RecordingRule(action: .record, timeZone: "Mars/Olympus").validate() }
        #expect(throws: CatalogError.self) { try RecordingRule(action: .record, samplePercent: 101).validate() }
    }

    /// Calendar months: 24 months from 31 January is 31 January; one month from it is the end of February.
    @Test func retentionCountsCalendarMonths() throws {
        let jan31: Double = 1_706_659_200  // 2024-01-31T00:00:00Z
        #expect(try Retention.parse("24m").until(from: jan31) == 1_769_817_600)  // 2026-01-31
        #expect(try Retention.parse("1m").until(from: jan31) == 1_709_164_800)  // 2024-02-29
        #expect(try Retention.parse("90d").until(from: jan31) == jan31 + 90 * 86_400)
        #expect(try Retention.parse("0d").until(from: jan31) == jan31)
    }
}
