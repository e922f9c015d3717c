import CallrecTestSupport
import Catalog
import CatalogPostgres
import Foundation
import Testing

/// PostgreSQL's row-level security (migration v12-row-security): with
/// callrec's own filter out of the way — raw SQL through the viewer role, or
/// an actor that claims more than the catalog gives the user — each viewer
/// still reads only the calls `CatalogStore.scope(of:)` gives them, and the
/// viewer role can change nothing. Against the real throw-away server.
@Suite(.postgres) struct RowSecurityTests {
    static let admin = CatalogActor.operator("test")

    /// A catalog with users and five calls, its viewer role, and the viewer role's own connection.
    struct Site {
        let url: String
        let viewerURL: String
        let store: CatalogStore
        let viewer: PostgresCatalogDatabase
        /// The id of each call, by whose it is.
        let calls: [String: String]
    }

    static func site() throws -> Site {
        let server = try PostgresServer.shared()
        let url = try server.freshDatabase()
        let folder = FixturePaths.temporaryDirectory("rls")
        let store = try CatalogStore.open(url, folder: folder)
        let users: [(String, Role, String?, [String], Bool)] = [
            ("alice", .agent, "sales", ["+46700000001"], false),
            ("bob", .agent, "sales", ["+4670000002*"], false),
            ("carol", .agent, "support", ["+4631??5*"], false),
            ("sam", .supervisor, "sales", [], false),
            ("tess", .supervisor, nil, [], false),
            ("ada", .admin, nil, [], false),
            ("dora", .agent, "sales", ["+46700000001"], true),
        ]
        for (name, role, team, numbers, disabled) in users {
            try store.putUser(
                CatalogUser(name: name, role: role, team: team, numbers: try numbers.map(NumberPattern.parse)), by: admin, at: 1)
            if disabled { try store.setDisabled(true, user: name, by: admin, reason: nil, at: 1) }
        }
        let rows: [(String, String?, String?)] = [
            ("alice", "+4611", "+46700000001"), ("bob", "+46700000029", "+4622"), ("carol", "+4631555000", "+4622"),
            ("nobody", "+4699", "+4698"), ("unknown", nil, nil),
        ]
        var calls: [String: String] = [:]
        for (n, (whose, caller, callee)) in rows.enumerated() {
            let id = CatalogFixtures.id(n + 1)
            if let caller, let callee {
                try CatalogFixtures.recordingWithFiles(store, id: id, caller: caller, callee: callee, start: 1_795_940_130 + Double(n))
            } else {
                try store.save(CatalogFixtures.recording(id, caller: nil, callee: nil, start: 1_795_940_130 + Double(n)))
            }
            _ = try store.addNote("note on \(whose)'s call", to: id, by: admin, at: 2)
            try store.setTag("checked", on: true, recording: id, by: admin, at: 2)
            calls[whose] = id
        }
        let database = PostgresServer.databaseName(of: url)
        let role = "viewer_" + database
        try #require(store.database as? PostgresCatalogDatabase).grantViewer(role: role)
        let viewerURL = server.url(database: database, user: role)
        return Site(url: url, viewerURL: viewerURL, store: store, viewer: try PostgresCatalogDatabase(url: try PostgresURL(viewerURL)), calls: calls)
    }

    /// The ids `sql` returns through the viewer role with `viewer` set (nil: none set).
    static func ids(_ site: Site, _ viewer: String?, _ sql: String = "SELECT id FROM recordings") throws -> Set<String> {
        let body = { (db: any SQLConnection) throws -> [String] in try db.column(String.self, sql: sql) }
        return Set(try viewer.map { try site.viewer.read(viewer: $0, body) } ?? site.viewer.read(body))
    }

    @Test func eachViewerReadsWhatTheApplicationsScopeGivesThemAndNoMore() throws {
        let site = try Self.site()
        let c = site.calls
        let expected: [String: Set<String>] = [
            "alice": [c["alice"]!], "bob": [c["bob"]!], "carol": [c["carol"]!],
            "sam": [c["alice"]!, c["bob"]!],  // the team's numbers (dora's too, disabled or not, as scope(of:) counts them)
            "tess": Set(c.values), "ada": Set(c.values),  // a supervisor without a team, an admin: every call, unknown parties too
            "dora": [],  // disabled
            "mallory": [],  // no such user
            "": [],
        ]
        for (viewer, want) in expected {
            #expect(try Self.ids(site, viewer) == want, "viewer \(viewer)")
            // What hangs off a recording follows it.
            for table in ["recording_files", "recording_notes", "recording_tags"] {
                // (The call of unknown parties has no files.)
                let having = table == "recording_files" ? want.subtracting([c["unknown"]!]) : want
                #expect(try Self.ids(site, viewer, "SELECT DISTINCT recording_id FROM \(table)") == having, "viewer \(viewer), \(table)")
            }
        }
        #expect(try Self.ids(site, nil).isEmpty, "no viewer set: no rows")
        #expect(try Self.ids(site, nil, "SELECT recording_id FROM recording_files").isEmpty)

        // The same rule as the application's: for every user, the policy's rows are exactly those scope(of:) allows.
        let all = try site.store.find(RecordingQuery(), by: Self.admin, at: 3).recordings
        #expect(all.count == 5)
        for user in try site.store.users() where !user.disabled {
            let scope = try site.store.scope(of: .user(user))
            #expect(try Self.ids(site, user.name) == Set(all.filter { scope.allows($0) }.map { $0.id }), "\(user.name)")
        }
        // The viewer is the transaction's only: a pooled connection forgets it at COMMIT.
        _ = try Self.ids(site, "ada")
        #expect(try Self.ids(site, nil).isEmpty)
    }

    /// A filter bug, played: an actor that claims alice is an admin. callrec's
    /// scope believes the claim; through the viewer role the database does
    /// not, and alice gets her one call.
    @Test func theViewerRoleHoldsWhenTheApplicationsFilterIsWrong() throws {
        let site = try Self.site()
        let owner = try CatalogStore.open(site.url, folder: site.store.folder, storage: site.store.storage)
        let viewing = try CatalogStore.open(site.url, folder: site.store.folder, storage: site.store.storage, viewer: site.viewerURL)
        let forged = CatalogActor.user(CatalogUser(name: "alice", role: .admin))
        #expect(try owner.find(RecordingQuery(), by: forged, at: 3).recordings.count == 5, "without the viewer role the wrong filter shows all")
        #expect(try viewing.find(RecordingQuery(), by: forged, at: 3).recordings.map(\.id) == [site.calls["alice"]!])
        #expect(try viewing.files(of: site.calls["bob"]!, by: forged).isEmpty)
        #expect(try viewing.notes(of: site.calls["bob"]!, by: forged).isEmpty)
        #expect(try viewing.tags(of: site.calls["bob"]!, by: forged).isEmpty)
        // Named directly, the call the application would hand over is refused by the database's policy, and audited.
        #expect(throws: CatalogError.self) {
            try viewing.authorizedRecording(id: site.calls["bob"]!, action: "show", by: forged, reason: nil, at: 3)
        }
        #expect(try viewing.auditLog(action: "show").contains { $0.outcome == .refused && $0.detail?.contains("row-level security") == true })

        // A real user through the viewer role: what the application shows, unchanged.
        let alice = try viewing.actor(named: "alice", login: "test")
        #expect(try viewing.find(RecordingQuery(), by: alice, at: 3).recordings.map(\.id) == [site.calls["alice"]!])
        let (recording, files) = try viewing.show(id: site.calls["alice"]!, by: alice, reason: nil, at: 3)
        #expect(recording.id == site.calls["alice"]! && files.count == 2)
        #expect(try viewing.notes(of: site.calls["alice"]!, by: alice).map(\.text) == ["note on alice's call"])
        // A search that names a party outside her numbers still counts and audits the withheld calls (through the owner).
        var query = RecordingQuery()
        query.number = try NumberPattern.parse("+46*")
        #expect(try viewing.find(query, by: alice, at: 3).withheld == 3)
        let sam = try viewing.actor(named: "sam", login: "test")
        #expect(Set(try viewing.find(RecordingQuery(), by: sam, at: 3).recordings.map(\.id)) == [site.calls["alice"]!, site.calls["bob"]!])
    }

    @Test func theViewerRoleCanChangeNothingNorLiftThePolicy() throws {
        let site = try Self.site()
        let attempts = [
            "UPDATE recordings SET caller = '+4600'", "DELETE FROM recordings", "DELETE FROM recording_files",
            "INSERT INTO recording_notes (recording_id, author, at_epoch, body) VALUES ('\(site.calls["alice"]!)', 'x', 1, 'x')",
            "DROP POLICY callrec_viewer ON recordings", "ALTER TABLE recordings DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE recordings NO FORCE ROW LEVEL SECURITY", "TRUNCATE recordings", "SELECT name FROM users",
            "SELECT * FROM audit", "CREATE OR REPLACE FUNCTION callrec_viewer_patterns() RETURNS text[] LANGUAGE sql AS 'SELECT NULL::text[]'",
        ]
        for sql in attempts {
            do {
                try site.viewer.write { db in
                    _ = try db.query(sql: "SELECT set_config('callrec.viewer', 'ada', true)")
                    try db.execute(sql: sql)
                }
                Issue.record("the viewer role ran: \(sql)")
            } catch let error as CatalogError {
                #expect(
                    error.message.contains("permission denied") || error.message.contains("must be owner"), "\(sql): \(error.message)")
            }
        }
        #expect(try site.store.read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM recordings") } == 5)
        #expect(try site.store.read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM recording_notes") } == 5)
        // A temporary `users` of the viewer's own, saying alice is an admin, is not what the policy reads.
        let seen = try site.viewer.write { db in
            try db.execute(sql: "CREATE TEMP TABLE users (name text, role text, team text, disabled bigint)")
            try db.execute(sql: "INSERT INTO users VALUES ('alice', 'admin', NULL, 0)")
            _ = try db.query(sql: "SELECT set_config('callrec.viewer', 'alice', true)")
            return try db.column(String.self, sql: "SELECT id FROM recordings")
        }
        #expect(seen == [site.calls["alice"]!])
    }

    @Test func aViewerCatalogMustBeAnotherRoleOnTheSameDatabase() throws {
        let site = try Self.site()
        let folder = site.store.folder
        // The owner (here also a superuser) as the viewer: row-level security would not hold.
        #expect(Self.code { try CatalogStore.open(site.url, folder: folder, viewer: site.url) } == .refused)
        // Another database.
        let other = try PostgresServer.shared().freshDatabase()
        #expect(Self.code { try CatalogStore.open(other, folder: folder, viewer: site.viewerURL) } == .invalid)
        // SQLite has no row-level security.
        #expect(Self.code { try CatalogStore.open(folder + "/catalog.sqlite", folder: folder, viewer: site.viewerURL) } == .invalid)
        let database = try #require(site.store.database as? PostgresCatalogDatabase)
        #expect(throws: CatalogError.self) { try database.grantViewer(role: "x; DROP TABLE recordings") }
        #expect(throws: CatalogError.self) { try database.grantViewer(role: "Serve") }
        // Again: nothing changes, nothing fails.
        try database.grantViewer(role: "viewer_" + PostgresServer.databaseName(of: site.url))
        #expect(try Self.ids(site, "alice") == [site.calls["alice"]!])
    }

    /// The code of the CatalogError `body` throws (nil: it threw none).
    static func code(_ body: () throws -> Any) -> CatalogError.Code? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? CatalogError)?.code
        }
    }

    /// `callrec_number_matches`, the policy's matcher, against `NumberPattern.matches` on the same cases.
    @Test func theSQLMatcherAgreesWithTheSwiftOne() throws {
        let site = try Self.site()
        let patterns = [
            "+46812", "+46812*", "+468?2*", "*", "?", "*5", "+4*6*8", "a%b", "a_b", #"a\b"#, "%", "_", #"\"#, "ü?", "*ü", "+46 8?",
            "**", "?*?", "a*b*c", "+4631??5*",
        ]
        let values = [
            "+46812", "+468123", "+46822", "+4681", "", "5", "45", "+4668", "+46x6y8", "a%b", "axb", "a_b", #"a\b"#, "ab", "%", "_", #"\"#,
            "üx", "ü", "xü", "+46 8x", "abc", "aXbYc", "+4631555000", "+4631125", "x",
        ]
        var cases = 0
        for text in patterns {
            let pattern = try NumberPattern.parse(text)
            for value in values {
                let sql = try site.store.read { db in
                    try db.scalar(Bool.self, sql: "SELECT callrec_number_matches(?, ?)", arguments: [text, value])
                }
                #expect(sql == pattern.matches(value), "pattern \(text) on \(value)")
                cases += 1
            }
            #expect(try site.store.read { db in try db.scalar(Bool.self, sql: "SELECT callrec_number_matches(?, NULL)", arguments: [text]) } == false)
        }
        #expect(cases == patterns.count * values.count)
    }
}
