import CallrecCore
import CallrecTestSupport
import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Serve
import Testing

/// The employee's own say on the call page: Keep for a call an on-demand
/// rule recorded, Delete for a call of one's own (refused under a hold);
/// and the JSON API gives out ids and URLs, never where files are on disk.
@Suite struct ServeOnDemandTests {
    static func onDemandRule() throws -> RecordingRule {
        try RecordingRule.parse(
            action: .record, name: "kept if asked", direction: nil, local: "+467000000*", remote: nil, days: nil, hours: nil, except: [],
            timeZone: "UTC", samplePercent: 100, retain: "12m", onDemand: "24h")
    }

    func encoded(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
    }

    @Test(arguments: CatalogBackend.all)
    func anAgentKeepsAnOnDemandCallAndDeletesAnother(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend, rules: [try Self.onDemandRule()])
        let alice = site.calls["alice"]!, bob = site.calls["bob"]!
        // Converted under the on-demand rule: provisional, a day to be kept in.
        let row = try #require(try site.catalog.recording(id: alice))
        #expect(row.onDemand && row.retainUntilEpoch == row.startEpoch + 86_400)
        let clock = TestClock(row.startEpoch + 3600)
        try await site.server(clock: clock).test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let page = try await browser.send("/calls/\(alice)")
            #expect(page.text.contains("id=\"keep\""))
            #expect(page.text.contains("Recorded on demand"))
            let csrf = try #require(Browser.csrf(page))
            #expect(try await browser.send("/calls/\(alice)/keep", .post, form: "").status == .forbidden)
            // Bob's call: as an unknown id.
            #expect(try await browser.send("/calls/\(bob)/keep", .post, form: encoded([("csrf", csrf)])).status == .notFound)
            let kept = try await browser.send("/calls/\(alice)/keep", .post, form: encoded([("csrf", csrf)]))
            #expect(kept.status == .seeOther && kept.headers[.location] == "/calls/\(alice)")
            let after = try await browser.send("/calls/\(alice)")
            #expect(after.text.contains("Kept on demand by alice"))
            #expect(!after.text.contains("id=\"keep\""))
            #expect(try await browser.send("/calls/\(alice)/keep", .post, form: encoded([("csrf", csrf)])).status == .badRequest)
            let json = try #require(try await browser.send("/api/calls/\(alice)").json() as? [String: Any])
            let recording = try #require(json["recording"] as? [String: Any])
            #expect(recording["on_demand"] as? Bool == false && recording["kept_by"] as? String == "alice")

            var bobs = Browser(client)
            try await bobs.login("bob")
            let bobCSRF = try #require(Browser.csrf(try await bobs.send("/calls/\(bob)")))
            #expect(try await bobs.send("/calls/\(bob)/discard", .post, form: encoded([("csrf", bobCSRF)])).status == .badRequest)
            let gone = try await bobs.send("/calls/\(bob)/discard", .post, form: encoded([("csrf", bobCSRF), ("reason", "a private call")]))
            #expect(gone.status == .seeOther && gone.headers[.location] == "/")
            #expect(try await bobs.send("/api/calls").ids() == [])
        }
        #expect(try site.catalog.recording(id: bob) == nil)
        let kept = try #require(try site.catalog.recording(id: alice))
        let twelveMonths = try Retention.parse("12m").until(from: kept.startEpoch)
        #expect(!kept.onDemand && kept.keptBy == "alice" && kept.retainUntilEpoch == twelveMonths)
        #expect(try site.audit("alice", "keep").contains { $0.outcome == "done" && $0.target == alice })
        // Bob's call is erased: the entries about it keep its id, their target redacted.
        let log = try site.catalog.auditLog(by: ServeSite.admin, at: 3)
        #expect(log.contains { $0.actor == "alice" && $0.action == "keep" && $0.outcome == .refused && $0.recordingID == bob })
        #expect(log.contains { $0.actor == "bob" && $0.action == "discard" && $0.outcome == .done && $0.recordingID == bob })
        // Purge a day later: carol's call, which nobody kept, goes; alice's stays.
        let report = try site.catalog.purge(by: ServeSite.admin, reason: nil, at: kept.startEpoch + 90_000)
        #expect(report.erased == [site.calls["carol"]!])
    }

    @Test func aHeldCallIsNotDeletedByItsAgent() async throws {
        let site = try ServeSite()
        let alice = site.calls["alice"]!
        try site.catalog.hold(id: alice, reason: "case 17", by: ServeSite.admin, at: 2)
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let page = try await browser.send("/calls/\(alice)")
            #expect(!page.text.contains("id=\"discard\""))
            let csrf = try #require(Browser.csrf(page))
            let refused = try await browser.send("/calls/\(alice)/discard", .post, form: encoded([("csrf", csrf), ("reason", "private")]))
            #expect(refused.status == .conflict)
            #expect(refused.text.contains("legal hold"))
        }
        #expect(try site.catalog.recording(id: alice) != nil)
        #expect(try site.audit("alice", "discard").contains { $0.outcome == "refused" && $0.detail?.contains("legal hold") == true })
    }

    /// No JSON answer names a file on disk: ids and URLs only.
    @Test(arguments: CatalogBackend.all)
    func theJSONAPIGivesIdsAndURLsNotPaths(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend)
        let alice = site.calls["alice"]!
        let folder = URL(fileURLWithPath: site.out).standardizedFileURL.path
        try await site.server().test { client in
            var admin = Browser(client)
            try await admin.login("ada")
            var agent = Browser(client)
            try await agent.login("alice")
            let list = try await agent.send("/api/calls")
            let call = try await agent.send("/api/calls/\(alice)")
            // (The audit log, admins' only, is given as it was written: a recorder's registration names its storage.)
            for answer in [list, call, try await admin.send("/api/calls")] {
                #expect(!answer.text.contains(folder))
                #expect(!answer.text.contains(site.out))
                #expect(!answer.text.contains("\"path\""))
                #expect(!answer.text.contains("\"index_path\""))
            }
            let first = try #require((try list.json() as? [[String: Any]])?.first)
            let urls = try #require(first["urls"] as? [String: String])
            #expect(urls == ["page": "/calls/\(alice)", "audio": "/calls/\(alice)/audio", "index": "/api/calls/\(alice)", "peaks": "/api/calls/\(alice)/peaks"])
            for url in urls.values { #expect(try await agent.send(url).status == .ok, "\(url)") }
        }
    }
}
