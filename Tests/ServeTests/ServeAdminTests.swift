import CallrecCore
import CallrecTestSupport
import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Serve
import Testing

/// The admin pages over a real catalog on each backend: they do what the
/// `catalog` commands do (the same catalog functions, so the same refusals
/// and audit rows), only for admins, and only with the session's CSRF token.
@Suite struct ServeAdminTests {
    static let options: ServeOptions = {
        var options = ServeOptions()
        options.keyWorkFactor = ServeSite.workFactor
        return options
    }()

    func encoded(_ fields: [(String, String)]) -> String {
        fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
    }

    @Test(arguments: CatalogBackend.all)
    func onlyAdminsGetTheAdminPagesAndEveryRefusalIsAudited(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend)
        let bob = site.calls["bob"]!
        try await site.server(Self.options).test { client in
            var agent = Browser(client)
            try await agent.login("alice")
            for page in ["/admin", "/admin/holds", "/admin/erasure", "/admin/rules", "/admin/users", "/admin/audit"] {
                let refused = try await agent.send(page)
                #expect(refused.status == .forbidden, "\(page)")
                #expect(!refused.text.contains("name=\"reason\""), "\(page)")
            }
            // A form posted with her own valid token: the catalog refuses her, as the command would.
            let csrf = try #require(Browser.csrf(try await agent.send("/")))
            let hold = try await agent.send("/admin/holds", .post, form: encoded([("csrf", csrf), ("id", bob), ("reason", "mine now")]))
            #expect(hold.status == .forbidden)
            let delete = try await agent.send(
                "/admin/erasure", .post, form: encoded([("csrf", csrf), ("what", "delete"), ("id", bob), ("reason", "x")]))
            #expect(delete.status == .forbidden)
            let user = try await agent.send(
                "/admin/users", .post, form: encoded([("csrf", csrf), ("op", "add"), ("name", "eve"), ("role", "admin"), ("password", "eve-password")]))
            #expect(user.status == .forbidden)
            // Without a session: the login page.
            #expect(try await client.execute(uri: "/admin/holds", method: .get).headers[.location] == "/login")
        }
        #expect(try site.catalog.recording(id: bob)?.holdReason == nil)
        #expect(try site.catalog.recording(id: bob) != nil)
        #expect(try site.catalog.user(named: "eve") == nil)
        for action in ["holds list", "erasure", "rules list", "users list", "audit", "hold", "delete", "users add"] {
            #expect(try site.audit("alice", action).contains { $0.outcome == "refused" }, "\(action)")
        }
    }

    @Test(arguments: CatalogBackend.all)
    func holdsAndErasureDoWhatTheCommandsDo(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend)
        let bob = site.calls["bob"]!, carol = site.calls["carol"]!
        try await site.server(Self.options).test { client in
            var admin = Browser(client)
            try await admin.login("ada")
            let page = try await admin.send("/admin/holds")
            #expect(page.status == .ok)
            let csrf = try #require(Browser.csrf(page))
            // Without the token: refused, nothing held.
            #expect(try await admin.send("/admin/holds", .post, form: encoded([("id", bob), ("reason", "case 17")])).status == .forbidden)
            #expect(try site.catalog.recording(id: bob)?.holdReason == nil)
            // No reason, or not an id: 400.
            #expect(try await admin.send("/admin/holds", .post, form: encoded([("csrf", csrf), ("id", bob), ("reason", " ")])).status == .badRequest)
            #expect(
                try await admin.send("/admin/holds", .post, form: encoded([("csrf", csrf), ("id", "../catalog.sqlite"), ("reason", "x")])).status
                    == .badRequest)
            let placed = try await admin.send("/admin/holds", .post, form: encoded([("csrf", csrf), ("id", bob), ("reason", "case 2026-17")]))
            #expect(placed.status == .ok)
            #expect(placed.text.contains("\(bob) is under legal hold: case 2026-17"))
            #expect(placed.text.contains("<td>\(bob)</td>"))
            #expect(try site.catalog.recording(id: bob)?.holdReason == "case 2026-17")
            // Audited with its reason (the entry's target and reason are redacted once the recording is erased, below).
            #expect(
                try site.catalog.auditLog(actorName: "ada", action: "hold", by: ServeSite.admin, at: 3).contains {
                    $0.outcome == .done && $0.target == bob && $0.reason == "case 2026-17"
                })
            // Erasure refuses the held recording, as catalog delete does: 409, kept, the refusal audited.
            let refused = try await admin.send(
                "/admin/erasure", .post, form: encoded([("csrf", csrf), ("what", "delete"), ("id", bob), ("reason", "recorded by mistake")]))
            #expect(refused.status == .conflict)
            #expect(refused.text.contains("legal hold"))
            #expect(try site.catalog.recording(id: bob) != nil)
            // Forget keeps the held one and says so.
            let forget = try await admin.send(
                "/admin/erasure", .post,
                form: encoded([("csrf", csrf), ("what", "forget"), ("number", ServeSite.numbers["bob"]!), ("reason", "erasure request 118")]))
            #expect(forget.status == .ok)
            #expect(forget.text.contains("kept \(bob): legal hold: case 2026-17"))
            #expect(forget.text.contains("0 erased, 1 kept under legal hold"))
            // Lifted with a reason, then deleted.
            #expect(try await admin.send("/admin/holds", .post, form: encoded([("csrf", csrf), ("id", bob), ("release", "1")])).status == .badRequest)
            let lifted = try await admin.send(
                "/admin/holds", .post, form: encoded([("csrf", csrf), ("id", bob), ("release", "1"), ("reason", "case closed")]))
            #expect(lifted.status == .ok)
            #expect(lifted.text.contains("\(bob): legal hold released"))
            let deleted = try await admin.send(
                "/admin/erasure", .post, form: encoded([("csrf", csrf), ("what", "delete"), ("id", bob), ("reason", "recorded by mistake")]))
            #expect(deleted.status == .ok)
            #expect(deleted.text.contains("deleted \(bob)"))
            let forgotten = try await admin.send(
                "/admin/erasure", .post,
                form: encoded([("csrf", csrf), ("what", "forget"), ("number", ServeSite.numbers["carol"]!), ("reason", "erasure request 119")]))
            #expect(forgotten.text.contains("erased \(carol)"))
            let unknown = try await admin.send(
                "/admin/erasure", .post,
                form: encoded([("csrf", csrf), ("what", "delete"), ("id", "20990101T000000Z-deadbeef"), ("reason", "x")]))
            #expect(unknown.status == .notFound)
            let dry = try await admin.send("/admin/erasure", .post, form: encoded([("csrf", csrf), ("what", "purge"), ("dry_run", "1")]))
            #expect(dry.status == .ok && dry.text.contains("0 would purge"))
        }
        #expect(try site.catalog.recording(id: bob) == nil)
        #expect(try site.catalog.recording(id: carol) == nil)
        #expect(try site.catalog.recording(id: site.calls["alice"]!) != nil)
        // Bob's recording is erased: the entries about it keep their recording id, their target and reason redacted.
        let log = try site.catalog.auditLog(actorName: "ada", by: ServeSite.admin, at: 3)
        func about(_ action: String, _ outcome: AuditEntry.Outcome) -> [AuditEntry] {
            log.filter { $0.action == action && $0.outcome == outcome && $0.recordingID == bob }
        }
        #expect(!about("hold", .done).isEmpty && about("hold", .done).allSatisfy(\.redacted))
        #expect(!about("release", .done).isEmpty)
        #expect(!about("delete", .refused).isEmpty)
        #expect(!about("delete", .done).isEmpty)
        #expect(try site.audit("ada", "hold").contains { $0.outcome == "refused" && $0.detail?.contains("CSRF") == true })
        #expect(try site.audit("ada", "forget").contains { $0.outcome == "done" })
    }

    @Test(arguments: CatalogBackend.all)
    func rulesAreAddedAndRemovedAsTheCommandDoes(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend)
        try await site.server(Self.options).test { client in
            var admin = Browser(client)
            try await admin.login("ada")
            let csrf = try #require(Browser.csrf(try await admin.send("/admin/rules")))
            let added = try await admin.send(
                "/admin/rules", .post,
                form: encoded([
                    ("csrf", csrf), ("action", "record"), ("name", "sales desk"), ("local", "+467000000*"), ("days", "mon-fri"),
                    ("hours", "08:00-17:00"), ("except", "12:00-13:00"), ("tz", "Europe/Stockholm"), ("retain", "6m"), ("sample", "100"),
                ]))
            #expect(added.status == .ok)
            let rules = try site.catalog.ruleSet().rules
            #expect(rules.count == 1)
            let rule = try #require(rules.first)
            #expect(rule.summary == "record local +467000000* mon,tue,wed,thu,fri 08:00-17:00 not 12:00-13:00 Europe/Stockholm retain 6m")
            #expect(added.text.contains("rule \(rule.id) added at position 1: \(rule.summary)"))
            // What the command refuses, the page refuses with the same words.
            let bad = try await admin.send("/admin/rules", .post, form: encoded([("csrf", csrf), ("action", "record"), ("hours", "25:00-26:00")]))
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("is not a time of day"))
            let zone = try await admin.send("/admin/rules", .post, form: encoded([("csrf", csrf), ("action", "skip"), ("tz", "Mars/Olympus")]))
            #expect(zone.status == .badRequest)
            #expect(try site.catalog.ruleSet().rules.count == 1)
            let removed = try await admin.send("/admin/rules", .post, form: encoded([("csrf", csrf), ("remove", String(rule.id))]))
            #expect(removed.status == .ok)
            #expect(removed.text.contains("rule \(rule.id) removed"))
            #expect(try site.catalog.ruleSet().rules.isEmpty)
            #expect(try await admin.send("/admin/rules", .post, form: encoded([("csrf", csrf), ("remove", "999")])).status == .notFound)
        }
        #expect(try site.audit("ada", "rules add").contains { $0.outcome == "done" })
        #expect(try site.audit("ada", "rules remove").contains { $0.outcome == "done" })
        #expect(try site.audit("ada", "rules add").contains { $0.outcome == "refused" && $0.detail?.contains("time of day") == true })
    }

    @Test(arguments: CatalogBackend.all)
    func usersAreAddedChangedGivenPasswordsAndDisabled(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend)
        try await site.server(Self.options).test { client in
            var admin = Browser(client)
            try await admin.login("ada")
            let csrf = try #require(Browser.csrf(try await admin.send("/admin/users")))
            let added = try await admin.send(
                "/admin/users", .post,
                form: encoded([
                    ("csrf", csrf), ("op", "add"), ("name", "dave"), ("role", "agent"), ("team", "sales"), ("numbers", "+46700000009"),
                    ("password", "dave-password"),
                ]))
            #expect(added.status == .ok)
            #expect(added.text.contains("user dave: agent, personal key age1"))
            let dave = try #require(try site.catalog.user(named: "dave"))
            #expect(dave.numbers.map(\.text) == ["+46700000009"] && dave.team == "sales" && dave.recipient != nil)
            // A short password, or a name taken: refused, nothing changed.
            let short = try await admin.send(
                "/admin/users", .post, form: encoded([("csrf", csrf), ("op", "add"), ("name", "erin"), ("role", "agent"), ("password", "short")]))
            #expect(short.status == .badRequest)
            #expect(try site.catalog.user(named: "erin") == nil)
            let taken = try await admin.send(
                "/admin/users", .post, form: encoded([("csrf", csrf), ("op", "add"), ("name", "dave"), ("role", "admin"), ("password", "whatever-pw")]))
            #expect(taken.status == .conflict)
            #expect(try site.catalog.user(named: "dave")?.role == .agent)
            // The new user signs in with the password the admin set.
            var user = Browser(client)
            #expect(try await user.login("dave").status == .seeOther)
            #expect(try await user.send("/api/calls").status == .ok)
            // Role and team changed, the key kept.
            let changed = try await admin.send(
                "/admin/users", .post,
                form: encoded([("csrf", csrf), ("op", "change"), ("name", "dave"), ("role", "supervisor"), ("team", "support"), ("numbers", "")]))
            #expect(changed.status == .ok)
            let after = try #require(try site.catalog.user(named: "dave"))
            #expect(after.role == .supervisor && after.team == "support" && after.numbers.isEmpty && after.recipient == dave.recipient)
            // Disabled: the session ends at once and the right password no longer signs in.
            #expect(try await admin.send("/admin/users", .post, form: encoded([("csrf", csrf), ("op", "disable"), ("name", "dave")])).status == .ok)
            #expect(try site.catalog.user(named: "dave")?.disabled == true)
            #expect(try await user.send("/api/calls").status == .unauthorized)
            #expect(try await user.login("dave").status == .unauthorized)
            // An admin may not disable themselves.
            #expect(try await admin.send("/admin/users", .post, form: encoded([("csrf", csrf), ("op", "disable"), ("name", "ada")])).status == .forbidden)
            #expect(try await admin.send("/admin/users", .post, form: encoded([("csrf", csrf), ("op", "enable"), ("name", "dave")])).status == .ok)
            #expect(try await user.login("dave").status == .seeOther)
            // A new password from the admin (and with it a new key): the old one no longer works.
            let password = try await admin.send(
                "/admin/users", .post, form: encoded([("csrf", csrf), ("op", "password"), ("name", "dave"), ("password", "dave-new-password")]))
            #expect(password.status == .ok)
            #expect(try site.catalog.user(named: "dave")?.recipient != dave.recipient)
            var again = Browser(client)
            #expect(try await again.login("dave").status == .unauthorized)
            #expect(try await again.login("dave", password: "dave-new-password").status == .seeOther)
            let list = try await admin.send("/admin/users")
            #expect(list.text.contains("<td>dave</td>"))
        }
        #expect(try site.audit("ada", "users add").contains { $0.outcome == "done" && $0.target == "user dave" })
        #expect(try site.audit("ada", "users disable").contains { $0.outcome == "done" && $0.target == "user dave" })
        #expect(try site.audit("ada", "users disable").contains { $0.outcome == "refused" && $0.target == "user ada" })
        #expect(try site.audit("ada", "users enable").contains { $0.outcome == "done" })
        #expect(try site.audit("ada", "users passwd").contains { $0.outcome == "done" })
        #expect(try site.audit("dave", "login").contains { $0.outcome == "refused" && $0.detail?.contains("disabled") == true })
    }

    @Test(arguments: CatalogBackend.all)
    func theAuditPageFiltersByUserActionAndDateAndPagesBack(backend: CatalogBackend) async throws {
        let site = try ServeSite(backend: backend)
        // More entries than one page: 120 of an operator's.
        for i in 0..<120 {
            try site.catalog.audit("show", target: "x\(i)", outcome: .refused, by: .operator("probe"), at: 1_700_000_000 + Double(i))
        }
        try await site.server(Self.options).test { client in
            var admin = Browser(client)
            try await admin.login("ada")
            let first = try #require(try await admin.send("/api/audit?actor=operator:probe").json() as? [[String: Any]])
            #expect(first.count == 100)
            let seqs = first.compactMap { $0["seq"] as? Int }
            #expect(seqs == seqs.sorted(by: >))
            let older = try #require(try await admin.send("/api/audit?actor=operator:probe&before=\(seqs.last!)").json() as? [[String: Any]])
            #expect(older.count == 20)
            #expect(older.allSatisfy { ($0["seq"] as? Int ?? .max) < seqs.last! })
            let page = try await admin.send("/admin/audit?actor=operator:probe")
            #expect(page.text.contains("id=\"older\""))
            #expect(page.text.contains("before=\(seqs.last!)"))
            let logins = try #require(try await admin.send("/api/audit?action=login").json() as? [[String: Any]])
            #expect(!logins.isEmpty && logins.allSatisfy { $0["action"] as? String == "login" })
            // 2023-11-14 holds the probe's entries (1 700 000 000 is 2023-11-14T22:13:20Z); the day before none.
            let day = try #require(try await admin.send("/api/audit?actor=operator:probe&from=2023-11-14&to=2023-11-14").json() as? [[String: Any]])
            #expect(day.count == 100)
            #expect((try await admin.send("/api/audit?actor=operator:probe&to=2023-11-13").json() as? [[String: Any]])?.isEmpty == true)
            #expect(try await admin.send("/api/audit?from=yesterday").status == .badRequest)
            #expect(try await admin.send("/api/audit?before=-1").status == .badRequest)
        }
    }

    /// `--download-reason`: which roles must say why they download.
    @Test func theDownloadReasonPolicyIsConfigurable() async throws {
        let site = try ServeSite()
        let alice = site.calls["alice"]!
        var agentsToo = ServeOptions()
        agentsToo.downloadReasonRoles = [.agent]
        try await site.server(agentsToo).test { client in
            var agent = Browser(client)
            try await agent.login("alice")
            #expect(try await agent.send("/calls/\(alice)").text.contains("id=\"reason\""))
            #expect(try await agent.send("/calls/\(alice)/download").status == .badRequest)
            #expect(try await agent.send("/calls/\(alice)/download?reason=complaint").status == .ok)
            var supervisor = Browser(client)
            try await supervisor.login("sam")
            #expect(!(try await supervisor.send("/calls/\(alice)").text.contains("id=\"reason\"")))
            #expect(try await supervisor.send("/calls/\(alice)/download").status == .ok)
        }
        var nobody = ServeOptions()
        nobody.downloadReasonRoles = []
        try await site.server(nobody).test { client in
            var supervisor = Browser(client)
            try await supervisor.login("sam")
            #expect(try await supervisor.send("/calls/\(alice)/download").status == .ok)
        }
        #expect(try site.audit("alice", "export").contains { $0.outcome == "refused" && $0.detail?.contains("agent role") == true })
    }
}
