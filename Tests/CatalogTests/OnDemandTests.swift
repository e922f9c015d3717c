import CallrecCore
import Catalog
import CatalogPostgres
import CallrecTestSupport
import Foundation
import Testing

/// On-demand rules: what they record is kept provisionally, a user who may
/// see the call keeps it, purge removes the rest; and a user deletes a call
/// of their own unless a hold or a `--require` rule keeps it. Both backends.
@Suite struct OnDemandTests {
    typealias F = CatalogFixtures
    let admin = CatalogActor.operator("test")
    let start = 1_795_940_130.0

    func rule() throws -> RecordingRule {
        try RecordingRule.parse(
            action: .record, name: "kept if asked", direction: nil, local: "+4681*", remote: nil, days: nil, hours: nil, except: [],
            timeZone: "UTC", samplePercent: 100, retain: "12m", onDemand: "24h")
    }

    @Test func anOnDemandRuleDecidesItsTimeToBeKept() throws {
        let set = RuleSet(rules: [try rule()])
        let decision = set.decide(CallFacts(callID: "x", caller: "+4681234", callee: "+4670", direction: .outbound, start: MediaTime(nanoseconds: 0)))
        #expect(decision.onDemand && decision.records)
        #expect(decision.retention.description == "24h")
        #expect(decision.retention.until(from: start) == start + 86_400)
        #expect(try rule().summary == "record local +4681* on demand 24h retain 12m")
        #expect(throws: CatalogError.self) {
            _ = try RecordingRule.parse(
                action: .skip, name: nil, direction: nil, local: nil, remote: nil, days: nil, hours: nil, except: [], timeZone: "UTC",
                samplePercent: 100, retain: nil, onDemand: "24h")
        }
    }

    /// Two on-demand recordings of alice's (one she keeps), one of amir's.
    func site(_ backend: CatalogBackend) throws -> (CatalogStore, RecordingRule) {
        let store = try F.store(backend)
        try store.putUser(CatalogUser(name: "alice", role: .agent, team: "sales", numbers: [try .parse("+4681111")]), by: admin, at: 1)
        try store.putUser(CatalogUser(name: "amir", role: .agent, team: "support", numbers: [try .parse("+4682222")]), by: admin, at: 1)
        let added = try store.addRule(try rule(), by: admin, at: 1)
        #expect(try store.ruleSet().rules.first?.onDemand?.description == "24h")
        for (n, caller) in [(1, "+4681111"), (2, "+4681111"), (3, "+4682222")] {
            try F.recordingWithFiles(store, id: F.id(n), caller: caller, callee: "+4670001", start: start)
            try F.tamper(
                store, "UPDATE recordings SET on_demand = 1, rule_id = ?, retain_until_epoch = ? WHERE id = ?",
                [added.id, start + 86_400, F.id(n)])
        }
        return (store, added)
    }

    @Test(arguments: CatalogBackend.all)
    func keptCallsStayAndPurgeRemovesTheRest(backend: CatalogBackend) throws {
        let (store, _) = try site(backend)
        let alice = try store.actor(named: "alice", login: "x"), amir = try store.actor(named: "amir", login: "x")
        // Amir may not keep alice's call: refused as any call outside his numbers.
        let refused = #expect(throws: CatalogError.self) { try store.keep(id: F.id(1), by: amir, reason: nil, at: start + 60) }
        #expect(refused?.code == .refused)
        let kept = try store.keep(id: F.id(1), by: alice, reason: "a complaint", at: start + 60)
        #expect(!kept.onDemand && kept.keptBy == "alice")
        let twelveMonths = try Retention.parse("12m").until(from: start)
        #expect(kept.retainUntilEpoch == twelveMonths)
        let row = try #require(try store.recording(id: F.id(1)))
        #expect(!row.onDemand && row.keptBy == "alice" && row.keptAtEpoch == start + 60 && row.retainUntilEpoch == kept.retainUntilEpoch)
        // Kept already: refused and audited.
        #expect(throws: CatalogError.self) { try store.keep(id: F.id(1), by: alice, reason: nil, at: start + 70) }
        // Past its time: too late to keep.
        #expect(throws: CatalogError.self) { try store.keep(id: F.id(2), by: alice, reason: nil, at: start + 86_401) }
        // A day and a bit later purge removes what nobody kept.
        let report = try store.purge(by: admin, reason: nil, at: start + 90_000)
        #expect(report.erased.sorted() == [F.id(2), F.id(3)])
        #expect(try store.allRecordings().map(\.id) == [F.id(1)])
        let log = try store.auditLog(action: "keep", by: admin, at: start + 90_001)
        #expect(log.filter { $0.outcome == .done }.map(\.actor) == ["alice"])
        #expect(log.filter { $0.outcome == .refused }.map(\.actor).sorted() == ["alice", "alice", "amir"])
        #expect(log.first { $0.outcome == .done }?.reason == "a complaint")
    }

    @Test(arguments: CatalogBackend.all)
    func anAgentDeletesTheirOwnCallUnlessAHoldOrARequiredRuleKeepsIt(backend: CatalogBackend) throws {
        let (store, rule) = try site(backend)
        let alice = try store.actor(named: "alice", login: "x"), amir = try store.actor(named: "amir", login: "x")
        #expect(throws: CatalogError.self) { _ = try store.discard(id: F.id(1), by: amir, reason: "not mine", at: 2) }
        try store.hold(id: F.id(1), reason: "case 9", by: admin, at: 2)
        let held = #expect(throws: CatalogError.self) { _ = try store.discard(id: F.id(1), by: alice, reason: "private", at: 3) }
        #expect(held?.code == .held)
        try F.tamper(store, "UPDATE rules SET required = 1 WHERE id = ?", [rule.id])
        let required = #expect(throws: CatalogError.self) { _ = try store.discard(id: F.id(2), by: alice, reason: "private", at: 3) }
        #expect(required?.code == .required)
        try F.tamper(store, "UPDATE rules SET required = 0 WHERE id = ?", [rule.id])
        let report = try store.discard(id: F.id(2), by: alice, reason: "a private call", at: 4)
        #expect(report.erased == [F.id(2)])
        #expect(try store.recording(id: F.id(2)) == nil)
        #expect(try store.wasErased(id: F.id(2)))
        #expect(try store.recording(id: F.id(1)) != nil)
        let log = try store.auditLog(action: "discard", by: admin, at: 5)
        #expect(log.filter { $0.outcome == .refused }.count == 3)
        #expect(log.contains { $0.outcome == .done && $0.actor == "alice" && $0.reason == "a private call" })
    }
}
