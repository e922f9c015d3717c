import CallrecCore
import CallrecTestSupport
import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Serve
import Testing

/// `callrec serve` through Hummingbird's router test client: the real
/// server code over a real SQLite catalog whose recordings the converter
/// made, sealed. Who sees what, sign-in and sessions, the audio by range,
/// refusals and the headers every answer carries.
@Suite struct ServeTests {
    /// One site for the tests that only read (each test has its own server, so its own sessions).
    static let site = Result { try ServeSite() }

    func site() throws -> ServeSite { try Self.site.get() }

    @Test func anAgentSeesOnlyTheirOwnCallsByListSearchIdPeaksAndAudio() async throws {
        let site = try site()
        let alice = site.calls["alice"]!, bob = site.calls["bob"]!
        try await site.server().test { client in
            var browser = Browser(client)
            let login = try await browser.login("alice")
            #expect(login.status == .seeOther)
            #expect(login.headers[.location] == "/")
            #expect(try await browser.send("/api/calls").ids() == [alice])
            // A search that names bob's number finds nothing, and the refusal is audited by find.
            #expect(try await browser.send("/api/calls?number=\(ServeSite.numbers["bob"]!)").ids() == [])
            #expect(try await browser.send("/api/calls?number=%2B4670*").ids() == [alice])
            // Bob's call by id, peaks and audio: 404, exactly as an id that does not exist.
            let unknown = "20990101T000000Z-deadbeef"
            for path in ["/api/calls/%@", "/api/calls/%@/peaks", "/calls/%@/audio"] {
                let refused = try await browser.send(path.replacingOccurrences(of: "%@", with: bob))
                let missing = try await browser.send(path.replacingOccurrences(of: "%@", with: unknown))
                #expect(refused.status == .notFound, "\(path)")
                #expect(refused.text == missing.text, "\(path)")
                #expect(refused.headers[.contentType] == missing.headers[.contentType])
            }
            let page = try await browser.send("/calls/\(bob)")
            #expect(page.status == .notFound)
            #expect(page.text == (try await browser.send("/calls/\(unknown)")).text)
            // Her own call: the page, its index (with the sealed DTMF digit), its peaks.
            let own = try await browser.send("/calls/\(alice)")
            #expect(own.status == .ok)
            #expect(own.text.contains("data-call=\"\(alice)\""))
            let index = try #require(try await browser.send("/api/calls/\(alice)").json() as? [String: Any])
            let dtmf = try #require((index["index"] as? [String: Any])?["dtmf"] as? [[String: Any]])
            #expect(dtmf.first?["digit"] as? String == "5")
            let peaks = try #require(try await browser.send("/api/calls/\(alice)/peaks").json() as? [String: Any])
            #expect(peaks["version"] as? Int == 2)
            #expect(peaks["channels"] as? Int == 2)
            // The home page lists her call and links to it.
            let home = try await browser.send("/")
            #expect(home.status == .ok)
            #expect(home.text.contains("href=\"/calls/\(alice)\""))
            #expect(!home.text.contains(bob))
        }
        let refusals = try site.audit("alice", "show").filter { $0.outcome == "refused" }
        #expect(refusals.contains { $0.target == bob })
        #expect(try site.audit("alice", "play").contains { $0.outcome == "refused" && $0.target == bob })
        #expect(try site.audit("alice", "find").contains { $0.outcome == "refused" })
        #expect(try site.audit("alice", "login").contains { $0.outcome == "done" })
    }

    @Test func aSupervisorSeesTheTeamsCallsAndNoOthers() async throws {
        let site = try site()
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("sam")
            #expect(Set(try await browser.send("/api/calls").ids()) == [site.calls["alice"]!, site.calls["bob"]!])
            #expect(try await browser.send("/api/calls/\(site.calls["carol"]!)").status == .notFound)
            // Sealed to the team's key: the supervisor's keys open the audio.
            let audio = try await browser.send("/calls/\(site.calls["bob"]!)/audio")
            #expect(audio.status == .ok)
            #expect(audio.bytes == (try site.audio(site.calls["bob"]!, as: "sam")))
        }
    }

    @Test func pagingWithLimitAndBefore() async throws {
        let site = try site()
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("ada")
            let all = try await browser.send("/api/calls").ids()
            #expect(all.count == 3)
            let first = try await browser.send("/api/calls?limit=2").ids()
            #expect(first == Array(all.prefix(2)))
            #expect(try await browser.send("/api/calls?limit=2&before=\(first[1])").ids() == [all[2]])
            #expect(try await browser.send("/api/calls?limit=0").status == .badRequest)
            #expect(try await browser.send("/api/calls?direction=sideways").status == .badRequest)
            #expect(try await browser.send("/api/calls?from=yesterday").status == .badRequest)
            #expect(try await browser.send("/api/calls?from=2099-01-01").ids() == [])
        }
    }

    @Test func audioHonoursRangeRequests() async throws {
        let site = try site()
        let id = site.calls["alice"]!
        let expected = try site.audio(id, as: "alice")
        let size = expected.count
        #expect(Array(expected.prefix(4)) == Array("OggS".utf8))
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let whole = try await browser.send("/calls/\(id)/audio")
            #expect(whole.status == .ok)
            #expect(whole.headers[.contentType] == "audio/ogg")
            #expect(whole.headers[.acceptRanges] == "bytes")
            #expect(whole.bytes == expected)
            let cases: [(String, Range<Int>)] = [
                ("bytes=0-99", 0..<100), ("bytes=100-", 100..<size), ("bytes=-10", (size - 10)..<size),
                ("bytes=70000-70009", 70000..<70010), ("bytes=10-999999999", 10..<size), ("bytes=0-0", 0..<1),
            ]
            for (header, range) in cases where range.upperBound <= size {
                let part = try await browser.send("/calls/\(id)/audio", headers: [.range: header])
                #expect(part.status == .partialContent, "\(header)")
                #expect(part.headers[.contentRange] == "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)", "\(header)")
                #expect(part.headers[.contentLength] == String(range.count), "\(header)")
                #expect(part.bytes == Array(expected[range]), "\(header)")
            }
            let upper = try await browser.send("/calls/\(id)/audio", headers: [.range: "Bytes=0-9"])
            #expect(upper.status == .partialContent && upper.bytes == Array(expected[0..<10]))
            // Another unit, several ranges: the Range header is ignored (RFC 9110 §14.2), the whole file.
            for header in ["items=0-1", "bytes=0-1,4-5"] {
                let whole = try await browser.send("/calls/\(id)/audio", headers: [.range: header])
                #expect(whole.status == .ok, "\(header)")
                #expect(whole.bytes == expected, "\(header)")
            }
            for header in ["bytes=\(size)-", "bytes=abc", "bytes=5-1", "bytes=-0", "bytes=", "bytes=99999999999999999999-", "=0-1"] {
                let refused = try await browser.send("/calls/\(id)/audio", headers: [.range: header])
                #expect(refused.status == .rangeNotSatisfiable, "\(header)")
                #expect(refused.headers[.contentRange] == "bytes */\(size)", "\(header)")
                #expect(refused.body.readableBytes == 0, "\(header)")
            }
        }
        // One listen audited per session, not one per range.
        #expect(try site.audit("alice", "play").filter { $0.outcome == "done" && $0.target == id }.count >= 1)
    }

    @Test func withoutASessionTheAPIAnswers401AndPagesRedirect() async throws {
        let site = try site()
        let id = site.calls["alice"]!
        try await site.server().test { client in
            for path in ["/api/calls", "/api/calls/\(id)", "/api/calls/\(id)/peaks", "/calls/\(id)/audio"] {
                #expect(try await client.execute(uri: path, method: .get).status == .unauthorized, "\(path)")
            }
            for path in ["/", "/calls/\(id)"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location] == "/login")
            }
        }
    }

    @Test func loginAndLogoutNeedTheCSRFToken() async throws {
        let site = try site()
        try await site.server().test { client in
            var browser = Browser(client)
            // No token, a made-up one, and a token without its cookie: refused, no session.
            _ = try await browser.send("/login")
            for form in ["user=alice&password=alice-password", "user=alice&password=alice-password&csrf=\(String(repeating: "a", count: 64))"] {
                let refused = try await browser.send("/login", .post, form: form)
                #expect(refused.status == .forbidden)
                #expect(browser.session == nil)
            }
            var other = Browser(client)
            let token = try #require(Browser.csrf(try await other.send("/login")))
            var stranger = Browser(client)
            let stray = try await stranger.send("/login", .post, form: "user=alice&password=alice-password&csrf=\(token)")
            #expect(stray.status == .forbidden)
            // Signed in: logout without the session's token is refused and the session lives on.
            try await browser.login("alice")
            #expect(browser.session != nil)
            #expect(try await browser.send("/logout", .post, form: "").status == .forbidden)
            #expect(try await browser.send("/api/calls").status == .ok)
            let csrf = try #require(Browser.csrf(try await browser.send("/")))
            let session = try #require(browser.session)
            let out = try await browser.send("/logout", .post, form: "csrf=\(csrf)")
            #expect(out.status == .seeOther)
            #expect(out.headers[.location] == "/login")
            // The old cookie no longer works.
            browser.cookies["callrec_session"] = session
            #expect(try await browser.send("/api/calls").status == .unauthorized)
        }
        #expect(try site.audit("operator:serve", "login").contains { $0.outcome == "refused" && $0.detail?.contains("CSRF") == true })
        #expect(try site.audit("alice", "logout").contains { $0.outcome == "refused" })
        #expect(try site.audit("alice", "logout").contains { $0.outcome == "done" })
    }

    @Test func aWrongPasswordIsRefusedAuditedAndSlowedDown() async throws {
        let site = try site()
        let clock = TestClock()
        try await site.server(clock: clock).test { client in
            var browser = Browser(client)
            for _ in 0..<3 {
                let wrong = try await browser.login("bob", password: "not-his-password")
                #expect(wrong.status == .unauthorized)
                #expect(browser.session == nil)
            }
            // The fourth try within the wait is refused without checking the password, even the right one.
            let throttled = try await browser.login("bob")
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.headers[.retryAfter] != nil)
            #expect(browser.session == nil)
            // Once the wait is over, the right password works (and clears the count).
            clock.advance(1.5)
            #expect(try await browser.login("bob").status == .seeOther)
            // Another user from the same address is not slowed.
            #expect(try await browser.login("carol").status == .seeOther)
            var mallory = Browser(client)
            let unknown = try await mallory.login("mallory")
            #expect(unknown.status == .unauthorized)
        }
        #expect(try site.audit("bob", "login").filter { $0.outcome == "refused" }.count >= 3)
        #expect(try site.audit("operator:serve", "login").contains { $0.detail?.contains("too many failed logins") == true })
        #expect(try site.audit("operator:serve", "login").contains { $0.target == "user mallory" })
    }

    @Test func tamperedAndExpiredCookiesAreRefused() async throws {
        let site = try site()
        let clock = TestClock()
        let server = try site.server(ServeOptions(idleTimeout: 60, absoluteTimeout: 300), clock: clock)
        try await server.test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let session = try #require(browser.session)
            let last = session.last!
            browser.cookies["callrec_session"] = String(session.dropLast()) + (last == "0" ? "1" : "0")
            #expect(try await browser.send("/api/calls").status == .unauthorized)
            #expect(try await browser.send("/").status == .seeOther)
            browser.cookies["callrec_session"] = session + "00"
            #expect(try await browser.send("/api/calls").status == .unauthorized)
            browser.cookies["callrec_session"] = session.uppercased()
            #expect(try await browser.send("/api/calls").status == .unauthorized)
            browser.cookies["callrec_session"] = session
            #expect(try await browser.send("/api/calls").status == .ok)
            // Idle: a request within the idle time keeps it alive, a minute without one ends it.
            clock.advance(59)
            #expect(try await browser.send("/api/calls").status == .ok)
            clock.advance(61)
            #expect(try await browser.send("/api/calls").status == .unauthorized)
            clock.advance(-61)  // an ended session stays ended
            #expect(try await browser.send("/api/calls").status == .unauthorized)
            // Absolute: however active, five minutes after login it ends.
            try await browser.login("alice")
            for _ in 0..<5 {
                clock.advance(55)
                #expect(try await browser.send("/api/calls").status == .ok)
            }
            clock.advance(30)
            #expect(try await browser.send("/api/calls").status == .unauthorized)
            #expect(try await browser.send("/calls/\(site.calls["alice"]!)").headers[.location] == "/login")
        }
    }

    @Test func loginAlwaysIssuesANewSessionID() async throws {
        let site = try site()
        try await site.server().test { client in
            // A planted cookie does not become the session.
            var victim = Browser(client)
            let planted = String(repeating: "ab", count: 32)
            victim.cookies["callrec_session"] = planted
            try await victim.login("alice")
            let issued = try #require(victim.session)
            #expect(issued != planted)
            var attacker = Browser(client)
            attacker.cookies["callrec_session"] = planted
            #expect(try await attacker.send("/api/calls").status == .unauthorized)
            // Signing in again replaces a live session: the old id ends.
            try await victim.login("bob")
            #expect(victim.session != issued)
            attacker.cookies["callrec_session"] = issued
            #expect(try await attacker.send("/api/calls").status == .unauthorized)
            #expect(try await victim.send("/api/calls").ids() == [site.calls["bob"]!])
        }
    }

    @Test func sessionCookieAttributes() async throws {
        let site = try site()
        for secure in [false, true] {
            try await site.server(ServeOptions(secureCookies: secure)).test { client in
                var browser = Browser(client)
                let response = try await browser.login("alice")
                let line = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("callrec_session=") })
                #expect(line.contains("HttpOnly"))
                #expect(line.contains("SameSite=Strict"))
                #expect(line.contains("Secure") == secure)
                let id = String(line.dropFirst("callrec_session=".count).prefix { $0 != ";" })
                #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))
            }
        }
    }

    @Test func pathLikeIdsAndHugeQueriesGetA4xxAndNothingElse() async throws {
        let site = try site()
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("ada")
            let probes = [
                "/calls/..%2Fcatalog.sqlite/audio", "/calls/..%2F..%2Fetc%2Fpasswd", "/api/calls/..%2Fcatalog.sqlite",
                "/api/calls/%2E%2E/peaks", "/calls/../catalog.sqlite", "/api/calls/" + String(repeating: "9", count: 5000),
                "/static/../catalog.sqlite", "/catalog.sqlite",
            ]
            for probe in probes {
                let response = try await browser.send(probe)
                #expect((400..<500).contains(response.status.code), "\(probe): \(response.status)")
                #expect(!response.text.contains("SQLite format"), "\(probe)")
            }
            let huge = try await browser.send("/api/calls?number=" + String(repeating: "1", count: 100_000))
            #expect((400..<500).contains(huge.status.code))
            #expect(try await browser.send("/api/calls?number=" + String(repeating: "1", count: 1000)).status == .badRequest)
            #expect(try await browser.send("/?number=" + String(repeating: "1", count: 100_000)).status == .uriTooLong)
        }
    }

    @Test func everyAnswerCarriesTheSecurityHeaders() async throws {
        let site = try site()
        try await site.server().test { client in
            var browser = Browser(client)
            var answers = [try await browser.send("/login"), try await browser.send("/static/app.js"), try await browser.send("/nothing-here")]
            try await browser.login("alice")
            answers += [
                try await browser.send("/"), try await browser.send("/calls/\(site.calls["alice"]!)"), try await browser.send("/api/calls"),
                try await browser.send("/calls/\(site.calls["alice"]!)/audio", headers: [.range: "bytes=0-9"]),
                try await browser.send("/calls/x/audio"),
            ]
            for answer in answers {
                let csp = try #require(answer.headers[.contentSecurityPolicy])
                #expect(csp.contains("script-src 'self'"))
                #expect(!csp.contains("unsafe-inline"))
                #expect(csp.contains("frame-ancestors 'none'"))
                #expect(answer.headers[.xContentTypeOptions] == "nosniff")
            }
            // The pages hold no inline script: only the module from /static.
            for page in [answers[0], answers[3], answers[4]] {
                #expect(page.text.components(separatedBy: "<script").count == 2)
                #expect(page.text.contains(#"<script type="module" src="/static/app.js"></script>"#))
                #expect(page.text.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil, "an inline event handler")
                #expect(!page.text.contains("style="), "an inline style")
            }
        }
    }

    @Test func notesAndTagsOnACallOneMaySee() async throws {
        let site = try ServeSite()
        let alice = site.calls["alice"]!, bob = site.calls["bob"]!
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let csrf = try #require(Browser.csrf(try await browser.send("/calls/\(alice)")))
            let hostile = "<script>alert(1)</script> refund & more"
            let form = "csrf=\(csrf)&text=" + hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let added = try await browser.send("/calls/\(alice)/notes", .post, form: form)
            #expect(added.status == .seeOther)
            #expect(added.headers[.location] == "/calls/\(alice)")
            #expect(try await browser.send("/calls/\(alice)/tags", .post, form: "csrf=\(csrf)&tag=Complaint").status == .seeOther)
            let document = try #require(try await browser.send("/api/calls/\(alice)").json() as? [String: Any])
            let notes = try #require(document["notes"] as? [[String: Any]])
            #expect(notes.map { $0["text"] as? String } == [hostile])
            #expect(notes.first?["author"] as? String == "alice")
            #expect((document["tags"] as? [[String: Any]])?.map { $0["tag"] as? String } == ["complaint"])
            // On the page, escaped.
            let page = try await browser.send("/calls/\(alice)").text
            #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; refund &amp; more"))
            #expect(!page.contains(hostile))
            // Searchable.
            #expect(try await browser.send("/api/calls?tag=complaint").ids() == [alice])
            #expect(try await browser.send("/api/calls?note=REFUND").ids() == [alice])
            #expect(try await browser.send("/api/calls?tag=no%20such").status == .badRequest)
            // Without the token, or on a call she may not see: refused, nothing written.
            #expect(try await browser.send("/calls/\(alice)/notes", .post, form: "text=x").status == .forbidden)
            let other = try await browser.send("/calls/\(bob)/notes", .post, form: "csrf=\(csrf)&text=x")
            let unknown = try await browser.send("/calls/20990101T000000Z-deadbeef/notes", .post, form: "csrf=\(csrf)&text=x")
            #expect(other.status == .notFound)
            #expect(other.text == unknown.text)
            #expect(try await browser.send("/calls/\(alice)/notes", .post, form: "csrf=\(csrf)&text=%20").status == .badRequest)
            #expect(try await browser.send("/calls/\(alice)/tags", .post, form: "csrf=\(csrf)&tag=complaint&remove=1").status == .seeOther)
            #expect(try await browser.send("/api/calls?tag=complaint").ids() == [])
        }
        #expect(try site.catalog.notes(of: bob).isEmpty)
        #expect(try site.audit("alice", "note").contains { $0.outcome == "done" && $0.target == alice })
        #expect(try site.audit("alice", "note").contains { $0.outcome == "refused" && $0.target == bob })
        #expect(try site.audit("alice", "note").contains { $0.outcome == "refused" && $0.detail?.contains("CSRF") == true })
    }

    @Test func downloadIsAuditedWithAReasonWhenTheRoleNeedsOne() async throws {
        let site = try site()
        let alice = site.calls["alice"]!
        try await site.server().test { client in
            var agent = Browser(client)
            try await agent.login("alice")
            let file = try await agent.send("/calls/\(alice)/download")
            #expect(file.status == .ok)
            #expect(file.headers[.contentDisposition] == "attachment; filename=\"\(alice).opus\"")
            #expect(file.bytes == (try site.audio(alice, as: "alice")))
            #expect(try await agent.send("/calls/\(site.calls["bob"]!)/download").status == .notFound)
            var supervisor = Browser(client)
            try await supervisor.login("sam")
            #expect(try await supervisor.send("/calls/\(alice)/download").status == .badRequest)
            #expect(try await supervisor.send("/calls/\(alice)/download?reason=%20").status == .badRequest)
            #expect(try await supervisor.send("/calls/\(alice)/download?reason=complaint%204711").status == .ok)
        }
        #expect(try site.audit("alice", "export").contains { $0.outcome == "done" && $0.target == alice })
        #expect(try site.audit("sam", "export").contains { $0.outcome == "refused" && $0.detail?.contains("reason") == true })
        let exports = try site.catalog.auditLog(actorName: "sam", limit: 1000, by: ServeSite.admin, at: 3).filter { $0.action == "export" && $0.outcome == .done }
        #expect(exports.map(\.reason) == ["complaint 4711"])
    }

    @Test func theAuditLogIsForAdmins() async throws {
        let site = try site()
        try await site.server().test { client in
            var agent = Browser(client)
            try await agent.login("carol")
            _ = try await agent.send("/api/calls/\(site.calls["alice"]!)")
            #expect(try await agent.send("/admin/audit").status == .forbidden)
            #expect(try await agent.send("/api/audit").status == .forbidden)
            var admin = Browser(client)
            try await admin.login("ada")
            let entries = try #require(try await admin.send("/api/audit?actor=carol").json() as? [[String: Any]])
            #expect(entries.contains { $0["action"] as? String == "show" && $0["outcome"] as? String == "refused" })
            #expect(entries.contains { $0["action"] as? String == "audit" && $0["outcome"] as? String == "refused" })
            #expect(entries.allSatisfy { $0["actor"] as? String == "carol" })
            let page = try await admin.send("/admin/audit?target=\(site.calls["alice"]!)")
            #expect(page.status == .ok)
            #expect(page.text.contains("<td>carol</td><td>show</td>"))
            #expect(page.text.contains(#"href="/admin/audit""#))
        }
    }

    @Test func anAgentSeesWhichRulesCanRecordTheirCalls() async throws {
        let site = try ServeSite()
        var mine = RecordingRule(action: .record)
        mine.name = "sales desk"
        mine.local = try NumberPattern.parse("+467000000*")
        mine.retention = try Retention.parse("6m")
        var others = RecordingRule(action: .skip)
        others.name = "support skip"
        others.local = try NumberPattern.parse("+4631*")
        try site.catalog.addRule(mine, by: ServeSite.admin, at: 1)
        try site.catalog.addRule(others, by: ServeSite.admin, at: 1)
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let page = try await browser.send("/rules")
            #expect(page.status == .ok)
            let rows = page.text.components(separatedBy: "<tr><td>").dropFirst()
            #expect(rows.count == 2)
            #expect(rows.first { $0.contains("sales desk") }?.contains("can apply") == true)
            #expect(rows.first { $0.contains("support skip") }?.contains("can apply") == false)
            #expect(page.text.contains("+46700000001"))
        }
        #expect(try site.audit("alice", "rules list").count == 1)
    }

    /// A recording whose audio file was altered after it was signed is not played: 409, audited.
    @Test func aDamagedRecordingIsRefused() async throws {
        let site = try ServeSite()
        let id = site.calls["alice"]!
        let file = try #require(try site.catalog.files(of: id).first)
        let path = site.catalog.filePath(file.path)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try await site.server().test { client in
            var browser = Browser(client)
            try await browser.login("alice")
            let refused = try await browser.send("/calls/\(id)/audio")
            #expect(refused.status == .conflict)
            #expect(refused.text.contains("SHA-256"))
            #expect(try await browser.send("/api/calls/\(id)").status == .conflict)
        }
        #expect(try site.audit("alice", "play").contains { $0.outcome == "refused" && $0.detail?.hasPrefix("integrity:") == true })
    }
}
