import Catalog
import CallrecTestSupport
import Foundation
import Testing

@Suite struct CatalogStoreTests {
    typealias F = CatalogFixtures
    let admin = CatalogActor.operator("test")

    @Test func savesAndReadsBackWithHostileTextBound() throws {
        let path = FixturePaths.temporaryDirectory() + "/catalog.sqlite"
        let store = try CatalogStore(path: path)
        try store.save(F.recording("a"))
        try store.save(F.recording("b"))
        // Saving the same id again replaces it (idempotent conversion).
        try store.save(F.recording("a", caller: "+4699"))
        let all = try store.allRecordings()
        #expect(all.count == 2)
        #expect(try store.recording(id: "a")?.caller == "+4699")
        #expect(try store.recording(id: "a")?.callID == "'; DROP TABLE recordings; --a")
        // Reopening runs the migrations again without harm.
        #expect(try CatalogStore(path: path).allRecordings().count == 2)
    }

    @Test func missingCatalogIsAnErrorWhenNotCreating() {
        #expect(throws: CatalogError.self) { try CatalogStore(path: FixturePaths.temporaryDirectory() + "/none.sqlite", create: false) }
    }

    /// A catalog written by the first schema is upgraded in place: rows keep
    /// their values, gain a 24-month retention and one file row per file.
    @Test func migratesAVersion1Catalog() throws {
        let path = FixturePaths.temporaryDirectory() + "/catalog.sqlite"
        // The file as the first release wrote it: GRDB's migration history, the v1 table, one row.
        try SQLiteCatalogDatabase(path: path).write { db in
            for statement in [
                "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)",
                "INSERT INTO grdb_migrations VALUES ('v1-recordings')",
                """
                CREATE TABLE recordings (id TEXT PRIMARY KEY, call_id TEXT NOT NULL, caller TEXT, callee TEXT, direction TEXT NOT NULL,
                    start TEXT NOT NULL, start_epoch DOUBLE NOT NULL, duration_s DOUBLE NOT NULL, audio_path TEXT NOT NULL,
                    index_path TEXT NOT NULL, audio_bytes INTEGER NOT NULL, codecs TEXT NOT NULL, end_reason TEXT NOT NULL)
                """,
                """
                INSERT INTO recordings VALUES ('old', 'c@h', '+4611', '+4622', 'unknown', '2024-01-31T00:00:00.000Z', 1706659200, 5,
                    '2024/01/31/old.opus', '2024/01/31/old.json', 100, 'PCMU,PCMU', 'bye')
                """,
            ] {
                try db.execute(sql: statement)
            }
        }
        let store = try CatalogStore(path: path)
        #expect(try store.appliedMigrations() == CatalogStore.migrationNames)
        let old = try #require(try store.recording(id: "old"))
        #expect(old.state == .committed)
        #expect(old.retainUntilEpoch == 1_769_817_600)  // 2026-01-31
        #expect(try store.files(of: "old").map(\.path) == ["2024/01/31/old.opus", "2024/01/31/old.json"])
    }

    @Test func auditLogIsAppendOnly() throws {
        let store = try F.store()
        try store.audit("show", target: "x", outcome: .done, by: admin, at: 1)
        for statement in ["UPDATE audit SET actor = 'nobody'", "DELETE FROM audit"] {
            let error = #expect(throws: CatalogError.self) { try store.write { db in try db.execute(sql: statement) } }
            #expect(error?.code == .database && error?.message.contains("the audit log is append-only") == true, "\(String(describing: error))")
        }
        // The first entry is the migration that made the log a hash chain.
        #expect(try store.auditLog(by: admin, at: 2).map(\.actor) == ["callrec", "operator:test"])
    }

    func staffed() throws -> CatalogStore {
        let store = try F.store()
        try store.putUser(CatalogUser(name: "alice", role: .agent, team: "sales", numbers: [try .parse("+4681111")]), by: admin, at: 1)
        try store.putUser(CatalogUser(name: "amir", role: .agent, team: "support", numbers: [try .parse("+46822*")]), by: admin, at: 1)
        try store.putUser(CatalogUser(name: "bob", role: .supervisor, team: "sales"), by: admin, at: 1)
        try store.putUser(CatalogUser(name: "sara", role: .supervisor), by: admin, at: 1)
        try F.recordingWithFiles(store, id: F.id(1), caller: "+4681111", callee: "+4670001")
        try F.recordingWithFiles(store, id: F.id(2), caller: "+4670002", callee: "+4682222")
        try F.recordingWithFiles(store, id: F.id(3), caller: "+4670003", callee: "+4670004")
        return store
    }

    func actor(_ store: CatalogStore, _ name: String) throws -> CatalogActor { try store.actor(named: name, login: "x") }

    @Test(arguments: [
        ("alice", [1]), ("amir", [2]), ("bob", [1]), ("sara", [1, 2, 3]),
    ])
    func findShowsEachUserOnlyWhatTheyMaySee(name: String, visible: [Int]) throws {
        let store = try staffed()
        let user = try actor(store, name)
        let all = try store.find(RecordingQuery(), by: user, at: 5)
        #expect(Set(all.recordings.map(\.id)) == Set(visible.map { F.id($0) }))
        #expect(all.withheld == 0, "a search by no party is scoped, not refused")
        // Naming another party's number is a refusal, counted and audited.
        var query = RecordingQuery()
        query.number = try .parse("+4670*")
        let named = try store.find(query, by: user, at: 6)
        #expect(Set(named.recordings.map(\.id)) == Set(visible.map { F.id($0) }))
        #expect(named.withheld == 3 - visible.count)
        let refusals = try store.auditLog(actorName: name, by: admin, at: 7).filter { $0.outcome == .refused }
        #expect(refusals.map(\.action) == (visible.count == 3 ? [] : ["find"]))
    }

    @Test func agentCannotShowExportOrDeleteAnotherPersonsCall() throws {
        let store = try staffed()
        let alice = try actor(store, "alice")
        for action in ["show", "export"] {
            #expect(throws: CatalogError(.refused, "refused: alice (agent) may not \(action) \(F.id(2)): it is not a call of alice's numbers")) {
                _ = try store.authorizedRecording(id: F.id(2), action: action, by: alice, reason: "curious", at: 7)
            }
        }
        #expect(throws: CatalogError.self) { _ = try store.delete(id: F.id(1), by: alice, reason: "mine", at: 7) }
        #expect(throws: CatalogError.self) { _ = try store.delete(id: F.id(2), by: alice, reason: "theirs", at: 7) }
        let (own, _) = try store.show(id: F.id(1), by: alice, reason: "my call", at: 8)
        #expect(own.id == F.id(1))
        let log = try store.auditLog(actorName: "alice", by: admin, at: 9)
        #expect(log.map { "\($0.action) \($0.outcome.rawValue)" } == ["show refused", "export refused", "delete refused", "delete refused", "show done"])
        #expect(log[0].reason == "curious" && log[0].target == F.id(2))
        #expect(CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(2)).opus")))
    }

    @Test func supervisorDeletesWithinTheTeamOnly() throws {
        let store = try staffed()
        let bob = try actor(store, "bob")
        #expect(throws: CatalogError.self) { _ = try store.delete(id: F.id(2), by: bob, reason: "not mine", at: 3) }
        let report = try store.delete(id: F.id(1), by: bob, reason: "recorded by mistake", at: 3)
        #expect(report.erased == [F.id(1)])
        #expect(try store.recording(id: F.id(1)) == nil)
        #expect(!CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(1)).opus")))
        #expect(!CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(1)).json")))
    }

    @Test(arguments: ["alice", "bob", "sara"])
    func onlyAdminsRunAdminCommands(name: String) throws {
        let store = try staffed()
        let user = try actor(store, name)
        #expect(throws: CatalogError.self) { try store.addRule(RecordingRule(action: .skip), by: user, at: 1) }
        #expect(throws: CatalogError.self) { try store.removeRule(id: 1, by: user, at: 1) }
        #expect(throws: CatalogError.self) { try store.hold(id: F.id(1), reason: "case", by: user, at: 1) }
        #expect(throws: CatalogError.self) { _ = try store.forget(number: try .parse("+4681111"), by: user, reason: "r", at: 1) }
        #expect(throws: CatalogError.self) { _ = try store.purge(by: user, reason: nil, at: 1) }
        #expect(throws: CatalogError.self) { _ = try store.verify(dryRun: true, importer: nil, by: user, at: 1) }
        #expect(throws: CatalogError.self) { _ = try store.auditLog(by: user, at: 1) }
        #expect(throws: CatalogError.self) { try store.putUser(CatalogUser(name: "x", role: .admin), by: user, at: 1) }
        #expect(try store.auditLog(actorName: name, by: admin, at: 2).filter { $0.outcome == .refused }.count == 8)
    }

    @Test func unknownUserIsAnError() throws {
        let store = try staffed()
        #expect(throws: CatalogError.self) { _ = try store.actor(named: "mallory", login: "x") }
    }

    @Test func forgetErasesEveryCallOfThePartyExceptHeldOnes() throws {
        let store = try F.store()
        try F.recordingWithFiles(store, id: F.id(1), caller: "+46701234567", callee: "+4611")
        try F.recordingWithFiles(store, id: F.id(2), caller: "+4611", callee: "+46701234567")
        try F.recordingWithFiles(store, id: F.id(3), caller: "+46701234567", callee: "+4622")
        try F.recordingWithFiles(store, id: F.id(4), caller: "+467012345678", callee: "+4622")  // a longer number: not the party
        try store.hold(id: F.id(3), reason: "dispute 17", by: admin, at: 10)
        let report = try store.forget(number: try .parse("+46701234567"), by: admin, reason: "erasure request 118", at: 11)
        #expect(report.erased == [F.id(1), F.id(2)])
        #expect(report.kept.map(\.id) == [F.id(3)])
        #expect(report.kept[0].why == "legal hold: dispute 17")
        #expect(try store.allRecordings().map(\.id) == [F.id(3), F.id(4)])
        for n in [1, 2] { #expect(!CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(n)).opus"))) }
        #expect(CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(3)).opus")))
        let log = try store.auditLog(by: admin, at: 12).filter { $0.action == "forget" }
        // The summary does not name the number: it is the person's, and it is erased.
        #expect(log.map(\.target) == [F.id(1), F.id(2), F.id(3), nil])
        #expect(log.last?.detail == "erased 2 recordings of one number (not kept here), kept 1 under legal hold: \(F.id(3))")
        let everything = try store.auditLog(by: admin, at: 12)
        #expect(!everything.contains { [$0.target, $0.reason, $0.detail].contains { ($0 ?? "").contains("46701234567") } })
        #expect(log.allSatisfy { $0.reason == "erasure request 118" })
        #expect(throws: CatalogError.self) { _ = try store.forget(number: try .parse("+4670*"), by: admin, reason: "r", at: 13) }
    }

    /// Deleted rows leave no copy in the database file (secure_delete) or the WAL (checkpoint).
    @Test func deletionLeavesNoTraceOfTheNumberInTheDatabaseFiles() throws {
        let store = try F.store()
        try F.recordingWithFiles(store, id: F.id(1), caller: "+46709998887", callee: "+4611")
        let before = FileManager.default.contents(atPath: store.path + "-wal") ?? Data()
        #expect(before.range(of: Data("46709998887".utf8)) != nil)
        _ = try store.delete(id: F.id(1), by: admin, reason: "erasure", at: 1)
        for suffix in ["", "-wal"] {
            let bytes = FileManager.default.contents(atPath: store.path + suffix) ?? Data()
            #expect(bytes.range(of: Data("46709998887".utf8)) == nil, "the number is still in catalog.sqlite\(suffix)")
        }
    }

    @Test func purgeRemovesWhatIsPastRetentionButNeverAHold() throws {
        let store = try F.store()
        let day: Double = 86_400
        for n in 1...3 { try F.recordingWithFiles(store, id: F.id(n), start: 1_000_000 + Double(n) * day) }
        try store.hold(id: F.id(1), reason: "litigation", by: admin, at: 1)
        // Retention is 24 months from the start: nothing is due a day after.
        #expect(try store.purge(by: admin, reason: nil, at: 1_000_000 + 5 * day).erased.isEmpty)
        let later = Retention.default.until(from: 1_000_000 + 2 * day) + 1
        let preview = try store.purge(by: admin, reason: nil, at: later, dryRun: true)
        #expect(preview.erased == [F.id(2)] && preview.kept.map(\.id) == [F.id(1)])
        #expect(try store.allRecordings().count == 3)
        let report = try store.purge(by: admin, reason: nil, at: later)
        #expect(report.erased == [F.id(2)])
        #expect(report.kept.map(\.id) == [F.id(1)])
        #expect(try store.allRecordings().map(\.id) == [F.id(1), F.id(3)])
        try store.release(id: F.id(1), reason: "case closed", by: admin, at: later)
        #expect(try store.purge(by: admin, reason: nil, at: later).erased == [F.id(1)])
        #expect(try store.auditLog(by: admin, at: later).contains { $0.action == "purge" && $0.target == F.id(2) && $0.reason == "retention ended" })
    }

    @Test func holdBlocksDeletionUntilReleased() throws {
        let store = try F.store()
        try F.recordingWithFiles(store, id: F.id(1))
        try store.hold(id: F.id(1), reason: "case 9", by: admin, at: 1)
        #expect(throws: CatalogError.self) { _ = try store.delete(id: F.id(1), by: admin, reason: "tidy", at: 2) }
        #expect(try store.recording(id: F.id(1))?.holdBy == "operator:test")
        try store.release(id: F.id(1), reason: "closed", by: admin, at: 3)
        #expect(throws: CatalogError.self) { try store.release(id: F.id(1), reason: "again", by: admin, at: 3) }
        #expect(try store.delete(id: F.id(1), by: admin, reason: "tidy", at: 4).erased == [F.id(1)])
    }

    @Test func rulesKeepTheirOrderAndArePositioned() throws {
        let store = try F.store()
        let a = try store.addRule(RecordingRule(name: "a", action: .skip), by: admin, at: 1)
        let b = try store.addRule(RecordingRule(name: "b", action: .record, local: try .parse("+46*"), retention: try .parse("7y")), by: admin, at: 1)
        let c = try store.addRule(
            RecordingRule(name: "c", action: .record, weekdays: try .parse("mon-fri"), hours: try .parse("08:00-17:00"),
                          exceptHours: [try .parse("12:00-13:00")], timeZone: "Europe/Stockholm", samplePercent: 12.5),
            position: 1, by: admin, at: 1)
        #expect(try store.ruleSet().rules.map(\.name) == ["c", "a", "b"])
        #expect(try store.ruleSet().rules[0] == c)
        #expect(try store.ruleSet().rules[2].retention == Retention(amount: 7, unit: .years))
        try store.removeRule(id: a.id, by: admin, at: 2)
        #expect(try store.ruleSet().rules.map(\.position) == [1, 2])
        #expect(try store.ruleSet().rules.map(\.id) == [c.id, b.id])
        #expect(throws: CatalogError.self) { try store.removeRule(id: 99, by: admin, at: 2) }
        #expect(throws: CatalogError.self) { try store.addRule(RecordingRule(action: .skip, timeZone: "Nowhere/Land"), by: admin, at: 2) }
    }

    /// Talk time, DTMF and silence filters, on rows that carry them; rows
    /// whose index lacks them never match.
    @Test func findsBySpeechFacts() throws {
        let store = try F.store()
        var a = F.recording("a", duration: 60)
        a.callerTalkS = 20
        a.calleeTalkS = 25
        a.dtmfCount = 3
        a.silenceShare = 0.2
        var b = F.recording("b", duration: 30)
        b.callerTalkS = 2
        b.calleeTalkS = 1
        b.dtmfCount = 0
        b.silenceShare = 0.9
        let c = F.recording("c", duration: 90)  // not analysed
        for r in [a, b, c] { try store.save(r) }
        func ids(_ edit: (inout RecordingQuery) -> Void) throws -> [String] {
            var q = RecordingQuery()
            edit(&q)
            return try store.find(q, by: admin, at: 0).recordings.map(\.id).sorted()
        }
        #expect(try ids { $0.minTalk = 40 } == ["a"])
        #expect(try ids { $0.maxTalk = 10 } == ["b"])
        #expect(try ids { $0.dtmf = true } == ["a"])
        #expect(try ids { $0.dtmf = false } == ["b"])
        #expect(try ids { $0.minSilence = 0.5 } == ["b"])
        #expect(try ids { $0.maxSilence = 0.5 } == ["a"])
        #expect(try ids { $0.minDuration = 45 } == ["a", "c"])
        #expect(try ids { $0.maxDuration = 45 } == ["b"])
    }

    @Test func findsByDateRangeDirectionAndCallID() throws {
        let store = try F.store()
        try store.save(F.recording("in", direction: "inbound", start: 1000))
        try store.save(F.recording("out", direction: "outbound", start: 2000))
        try store.save(F.recording("late", direction: "inbound", start: 3000))
        var q = RecordingQuery()
        q.from = 1000
        q.to = 3000
        #expect(try store.find(q, by: admin, at: 0).recordings.map(\.id) == ["out", "in"])
        q.direction = .inbound
        #expect(try store.find(q, by: admin, at: 0).recordings.map(\.id) == ["in"])
        var byID = RecordingQuery()
        byID.callID = "'; DROP TABLE recordings; --late"
        #expect(try store.find(byID, by: admin, at: 0).recordings.map(\.id) == ["late"])
    }

    /// Each lookup that finds one call is answered from an index, never a scan of the table.
    @Test func lookupsUseIndexes() throws {
        let store = try F.store()
        func plan(_ edit: (inout RecordingQuery) -> Void) throws -> String {
            var q = RecordingQuery()
            edit(&q)
            return try store.queryPlan(q).joined(separator: " | ")
        }
        let number = try plan { $0.number = try? .parse("+4681234567") }
        #expect(number.contains("MULTI-INDEX OR") && number.contains("recordings_caller") && number.contains("recordings_callee"), "\(number)")
        let prefix = try plan { $0.caller = try? .parse("+46812*") }
        #expect(prefix.contains("USING INDEX recordings_caller (caller>? AND caller<?)"), "\(prefix)")
        let pattern = try plan { $0.callee = try? .parse("+46812*7") }
        #expect(pattern.contains("USING INDEX recordings_callee (callee>? AND callee<?)"), "\(pattern)")
        let callID = try plan { $0.callID = "x@y" }
        #expect(callID.contains("USING INDEX recordings_call_id"), "\(callID)")
        let range = try plan {
            $0.from = 1
            $0.to = 2
        }
        #expect(range.contains("USING INDEX recordings_on_start_epoch (start_epoch>? AND start_epoch<?)"), "\(range)")
    }
}
