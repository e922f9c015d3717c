import Catalog
import CatalogPostgres
import CallrecTestSupport
import Foundation
import Testing

@Suite struct CatalogStoreTests {
    typealias F = CatalogFixtures
    let admin = CatalogActor.operator("test")

    @Test(arguments: CatalogBackend.all)
    func savesAndReadsBackWithHostileTextBound(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try store.save(F.recording("a"))
        try store.save(F.recording("b"))
        // Saving the same id again replaces it (idempotent conversion).
        try store.save(F.recording("a", caller: "+4699"))
        let all = try store.allRecordings()
        #expect(all.count == 2)
        #expect(try store.recording(id: "a")?.caller == "+4699")
        #expect(try store.recording(id: "a")?.callID == "'; DROP TABLE recordings; --a")
        // Reopening runs the migrations again without harm.
        let again = try F.reopen(store, create: false)
        #expect(try again.allRecordings().count == 2)
        #expect(try again.appliedMigrations() == CatalogStore.migrationNames)
    }

    @Test(arguments: CatalogBackend.all)
    func missingCatalogIsAnErrorWhenNotCreating(backend: CatalogBackend) throws {
        let location: String
        switch backend {
        case .sqlite: location = FixturePaths.temporaryDirectory() + "/none.sqlite"
        case .postgres: location = try PostgresServer.shared().freshDatabase()  // a database without the catalog's tables
        }
        let error = #expect(throws: CatalogError.self) { try CatalogStore.open(location, folder: FixturePaths.temporaryDirectory(), create: false) }
        #expect(error?.code == .notFound, "\(String(describing: error))")
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

    /// A bulk load (COPY on PostgreSQL, one prepared INSERT per row on
    /// SQLite) and multi-row INSERTs keep every value exactly as a bound
    /// INSERT does: text with tabs, newlines, backslashes and any Unicode,
    /// NULLs, extreme reals and integers, bytes.
    @Test(arguments: CatalogBackend.all)
    func bulkInsertsKeepEveryValueExactly(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let d = store.dialect
        let texts = ["plain", "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\N", "\\.", "ÅÄÖ 日本 🎙", "'; DROP TABLE bulk; --", "a\u{7F}b", ""]
        let reals = [0.1, -0.0, 1e-300, 1.7976931348623157e308, 5e-324, 123_456_789.123_456_79, .infinity, -.infinity, 1e22]
        let integers: [Int64] = [0, -1, .max, .min, 42]
        let rows = (0..<1_000).map { n -> [SQLValue] in
            [
                .integer(Int64(n)), n % 7 == 0 ? .null : .integer(integers[n % integers.count]),
                n % 5 == 0 ? .null : .real(reals[n % reals.count]), n % 3 == 0 ? .null : .text(texts[n % texts.count] + String(n)),
                n % 4 == 0 ? .null : .blob((0..<(n % 40)).map { UInt8(($0 * 37 + n) & 0xff) }),
            ]
        }
        for table in ["bulk", "batched"] {
            try F.tamper(store, "CREATE TABLE \(table) (n \(d.integer), i \(d.integer), r \(d.real), t \(d.text), b \(d.blob))")
        }
        let columns = ["n", "i", "r", "t", "b"]
        try store.write { db in
            try db.insert(into: "bulk", columns: columns, rows: rows)
            try db.insertInBatches(into: "batched", columns: columns, rows: rows, maxArguments: 999)
        }
        for table in ["bulk", "batched"] {
            let back = try store.read { db in try db.query(sql: "SELECT n, i, r, t, b FROM \(table) ORDER BY n").map(\.values) }
            #expect(back == rows, "\(table)")
        }
    }

    @Test(arguments: CatalogBackend.all)
    func auditLogIsAppendOnly(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try store.audit("show", target: "x", outcome: .done, by: admin, at: 1)
        for statement in ["UPDATE audit SET actor = 'nobody'", "DELETE FROM audit"] + (backend == .postgres ? ["TRUNCATE audit"] : []) {
            let error = #expect(throws: CatalogError.self) { try store.write { db in try db.execute(sql: statement) } }
            #expect(error?.code == .database && error?.message.contains("the audit log is append-only") == true, "\(String(describing: error))")
        }
        // The first entry is the migration that made the log a hash chain.
        #expect(try store.auditLog(by: admin, at: 2).map(\.actor) == ["callrec", "operator:test"])
    }

    func staffed(_ backend: CatalogBackend) throws -> CatalogStore {
        let store = try F.store(backend)
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

    @Test(arguments: CatalogBackend.all, [
        ("alice", [1]), ("amir", [2]), ("bob", [1]), ("sara", [1, 2, 3]),
    ])
    func findShowsEachUserOnlyWhatTheyMaySee(backend: CatalogBackend, user: (name: String, visible: [Int])) throws {
        let (name, visible) = user
        let store = try staffed(backend)
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

    @Test(arguments: CatalogBackend.all)
    func agentCannotShowExportOrDeleteAnotherPersonsCall(backend: CatalogBackend) throws {
        let store = try staffed(backend)
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

    @Test(arguments: CatalogBackend.all)
    func supervisorDeletesWithinTheTeamOnly(backend: CatalogBackend) throws {
        let store = try staffed(backend)
        let bob = try actor(store, "bob")
        #expect(throws: CatalogError.self) { _ = try store.delete(id: F.id(2), by: bob, reason: "not mine", at: 3) }
        let report = try store.delete(id: F.id(1), by: bob, reason: "recorded by mistake", at: 3)
        #expect(report.erased == [F.id(1)])
        #expect(try store.recording(id: F.id(1)) == nil)
        #expect(!CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(1)).opus")))
        #expect(!CatalogFixtures.exists(store.filePath("2026/11/29/\(F.id(1)).json")))
    }

    @Test(arguments: CatalogBackend.all, ["alice", "bob", "sara"])
    func onlyAdminsRunAdminCommands(backend: CatalogBackend, name: String) throws {
        let store = try staffed(backend)
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

    @Test(arguments: CatalogBackend.all)
    func unknownUserIsAnError(backend: CatalogBackend) throws {
        let store = try staffed(backend)
        #expect(throws: CatalogError.self) { _ = try store.actor(named: "mallory", login: "x") }
    }

    @Test(arguments: CatalogBackend.all)
    func forgetErasesEveryCallOfThePartyExceptHeldOnes(backend: CatalogBackend) throws {
        let store = try F.store(backend)
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

    /// Erased rows leave no copy behind. SQLite: none in the database file
    /// (secure_delete) or the WAL (checkpoint). PostgreSQL: no row version,
    /// live or dead, in any page of the tables, and no index entry (VACUUM);
    /// what PostgreSQL does not promise (bytes in freed page space and in
    /// the WAL until overwritten) README says.
    @Test(arguments: CatalogBackend.all)
    func deletionLeavesNoTraceOfTheNumberInTheDatabase(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let number = "46709998887"
        try F.recordingWithFiles(store, id: F.id(1), caller: "+" + number, callee: "+4611")
        try F.recordingWithFiles(store, id: F.id(2), caller: "+4622", callee: "+4633")
        switch backend {
        case .sqlite:
            let before = FileManager.default.contents(atPath: store.path + "-wal") ?? Data()
            #expect(before.range(of: Data(number.utf8)) != nil)
            _ = try store.delete(id: F.id(1), by: admin, reason: "erasure", at: 1)
            for suffix in ["", "-wal"] {
                let bytes = FileManager.default.contents(atPath: store.path + suffix) ?? Data()
                #expect(bytes.range(of: Data(number.utf8)) == nil, "the number is still in catalog.sqlite\(suffix)")
            }
        case .postgres:
            let server = try PostgresServer.shared()
            let database = PostgresServer.databaseName(of: store.path)
            try server.psql("CREATE EXTENSION IF NOT EXISTS pageinspect", database: database)
            func versionsHolding(_ relation: String) throws -> Int {
                // Every tuple a page of the relation points to, live or dead (pageinspect).
                let items =
                    relation.hasPrefix("recordings_")
                    ? "bt_page_items(get_raw_page('\(relation)', p)) AS i WHERE replace(i.data, ' ', '') LIKE '%' || encode(convert_to('\(number)', 'UTF8'), 'hex') || '%'"
                    : "heap_page_items(get_raw_page('\(relation)', p)) AS i WHERE i.t_data IS NOT NULL AND position(convert_to('\(number)', 'UTF8') IN i.t_data) > 0"
                let first = relation.hasPrefix("recordings_") ? 1 : 0  // page 0 of a b-tree is its metapage
                return Int(try server.psql(
                    "SELECT count(*) FROM generate_series(\(first), (pg_relation_size('\(relation)') / 8192 - 1)::int) AS p, \(items)",
                    database: database)) ?? -1
            }
            #expect(try versionsHolding("recordings") == 1 && versionsHolding("recordings_caller") == 1)
            _ = try store.delete(id: F.id(1), by: admin, reason: "erasure", at: 1)
            for relation in ["recordings", "recordings_caller"] {
                #expect(try versionsHolding(relation) == 0, "a version of the erased row is still in \(relation)")
            }
            #expect(try store.recording(id: F.id(2)) != nil)
        }
    }

    @Test(arguments: CatalogBackend.all)
    func purgeRemovesWhatIsPastRetentionButNeverAHold(backend: CatalogBackend) throws {
        let store = try F.store(backend)
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

    /// A purge across several batches (five recordings a transaction here,
    /// 5,000 in use) with holds mixed in: every guarantee of erasing one by
    /// one holds for each recording — kept and reported under hold; in
    /// `erased`, its manifest withdrawn, the entries about it redacted, an
    /// entry of its own, its ledger row's parties cleared, files and row
    /// gone — and the audit chain stays whole and verify finds nothing to do.
    @Test(arguments: CatalogBackend.all)
    func purgeInBatchesKeepsEveryGuaranteeWithHoldsMixedIn(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let day: Double = 86_400
        let recorder = RecorderRecord(id: "0123456789abcdef", publicKeyPEM: "key", fingerprint: "SHA256:test", label: "test", registeredEpoch: 1)
        try store.registerRecorder(recorder, by: admin, at: 1)
        let ids = (1...23).map { F.id($0) }
        for (n, id) in ids.enumerated() {
            // The last three start a year later: not yet due.
            try F.recordingWithFiles(store, id: id, caller: "+46700\(n)", start: 1_000_000 + Double(n) * 60 + (n >= 20 ? 365 * day : 0))
            try store.write { db in
                _ = try CatalogStore.appendManifest(db, recorderID: recorder.id, recordingID: id) { _, _ in
                    (Array("{\"recording\":\"\(id)\",\"caller\":\"+46700\(n)\"}".utf8), [UInt8](repeating: 7, count: 64))
                }
            }
            try F.tamper(
                store, """
                    INSERT INTO call_ledger (call_key, start_epoch, end_epoch, direction, caller, callee, signalled, outcome, recording_id,
                        retain_until_epoch) VALUES (?, 1, 2, 'inbound', ?, '+4622', 1, 'recorded', ?, ?)
                    """, ["call-\(id)", "+46700\(n)", id, 4_000_000_000])
            if n % 2 == 0 { try store.audit("show", target: id, outcome: .done, by: admin, at: 2, reason: "complaint from +46700\(n)") }
        }
        let held = [ids[3], ids[4], ids[11], ids[19]]
        for id in held { try store.hold(id: id, reason: "case 12", by: admin, at: 3) }
        let due = Array(ids[0..<20]).filter { !held.contains($0) }
        let later = Retention.default.until(from: 1_000_000 + 20 * 60) + 1

        let report = try store.purge(by: admin, reason: nil, at: later, dryRun: false, batch: 5)
        #expect(report.erased == due)
        #expect(report.kept.map(\.id) == held && report.kept.allSatisfy { $0.why == "legal hold: case 12" })
        #expect(report.failed.isEmpty, "\(report.failed)")
        #expect(try store.allRecordings().map(\.id) == held + ids[20...])
        for id in due {
            #expect(try store.wasErased(id: id))
            #expect(try store.files(of: id).isEmpty)
            #expect(!F.exists(store.filePath("2026/11/29/\(id).opus")) && !F.exists(store.filePath("2026/11/29/\(id).json")))
            let manifest = try #require(try store.manifests(of: id).first)
            #expect(manifest.withdrawnAs == "purge" && manifest.body == nil)
            let about = try store.auditChain(about: id)
            let own = about.filter { $0.record.action == "purge" && $0.record.outcome == "done" }
            #expect(own.count == 1)
            // ids[i] is F.id(i + 1), whose last digit is odd when i is even: those were shown.
            let shown = Int(id.suffix(1))! % 2 == 1
            #expect(
                own.first?.detail == "erased 2026/11/29/\(id).opus 2026/11/29/\(id).json; manifest withdrawn"
                    + (shown ? "; 1 audit entry about it redacted" : ""), "\(id)")
            #expect(about.filter { $0.record.action == "show" }.allSatisfy { $0.redacted && $0.reason == nil && $0.salt == nil })
        }
        for id in held {
            #expect(try store.manifest(of: id)?.body != nil)
            #expect(!(try store.auditChain(about: id)).contains { $0.redacted })
        }
        #expect(
            try store.hasAuditEntry(
                action: "purge", target: "retention", detailContaining: "erased \(due.count), kept 4 under legal hold: " + held.joined(separator: " ")))
        // The ledger keeps every call, without the parties of the erased ones.
        let parties = try store.read { db in
            try db.query(sql: "SELECT recording_id, caller FROM call_ledger").reduce(into: [String: String?]()) {
                $0.updateValue(try $1["caller"], forKey: try $1["recording_id"])
            }
        }
        #expect(parties.count == ids.count)
        #expect(due.allSatisfy { parties[$0] == .some(nil) } && held.allSatisfy { parties[$0] != .some(nil) })

        // The chain: every entry's record hashes to what it claims and links to the one before.
        let chain = try store.auditChain(from: 0, limit: 10_000)
        var previous = AuditChain.genesis
        for (n, entry) in chain.enumerated() {
            #expect(entry.record.seq == Int64(n + 1) && entry.record.previousSHA256 == previous && entry.rowSHA256 == entry.record.sha256)
            if let bytes = entry.personalBytes { #expect(FileDigest.sha256(bytes: bytes) == entry.record.personalSHA256) }
            previous = entry.rowSHA256 ?? ""
        }
        #expect(try store.auditHead()?.sha256 == previous)
        let verified = try store.verify(dryRun: false, importer: nil, by: admin, at: later)
        #expect(verified.isClean && verified.healthy == held.count + 3, "\(verified)")
    }

    @Test(arguments: CatalogBackend.all)
    func holdBlocksDeletionUntilReleased(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try F.recordingWithFiles(store, id: F.id(1))
        try store.hold(id: F.id(1), reason: "case 9", by: admin, at: 1)
        #expect(throws: CatalogError.self) { _ = try store.delete(id: F.id(1), by: admin, reason: "tidy", at: 2) }
        #expect(try store.recording(id: F.id(1))?.holdBy == "operator:test")
        try store.release(id: F.id(1), reason: "closed", by: admin, at: 3)
        #expect(throws: CatalogError.self) { try store.release(id: F.id(1), reason: "again", by: admin, at: 3) }
        #expect(try store.delete(id: F.id(1), by: admin, reason: "tidy", at: 4).erased == [F.id(1)])
    }

    @Test(arguments: CatalogBackend.all)
    func rulesKeepTheirOrderAndArePositioned(backend: CatalogBackend) throws {
        let store = try F.store(backend)
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
    @Test(arguments: CatalogBackend.all)
    func findsBySpeechFacts(backend: CatalogBackend) throws {
        let store = try F.store(backend)
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

    @Test(arguments: CatalogBackend.all)
    func findsByDateRangeDirectionAndCallID(backend: CatalogBackend) throws {
        let store = try F.store(backend)
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
    @Test(arguments: CatalogBackend.all)
    func lookupsUseIndexes(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        if backend == .postgres {
            // PostgreSQL reads a small table whole whatever indexes it has: give it a realistic one.
            try store.insert((0..<5_000).map { i in
                F.recording(String(format: "G%06d", i), caller: "+4670\(100_000 + i)", callee: "+468\(1_000_000 + i)", start: Double(i * 60))
            })
            try F.tamper(store, "ANALYZE recordings")
        }
        func plan(_ edit: (inout RecordingQuery) -> Void) throws -> String {
            var q = RecordingQuery()
            edit(&q)
            return try store.queryPlan(q).joined(separator: " | ")
        }
        let number = try plan { $0.number = try? .parse("+4681234567") }
        let prefix = try plan { $0.caller = try? .parse("+46812*") }
        let pattern = try plan { $0.callee = try? .parse("+46812*7") }
        let callID = try plan { $0.callID = "x@y" }
        let range = try plan {
            $0.from = 1
            $0.to = 2
        }
        switch backend {
        case .sqlite:
            #expect(number.contains("MULTI-INDEX OR") && number.contains("recordings_caller") && number.contains("recordings_callee"), "\(number)")
            #expect(prefix.contains("USING INDEX recordings_caller (caller>? AND caller<?)"), "\(prefix)")
            #expect(pattern.contains("USING INDEX recordings_callee (callee>? AND callee<?)"), "\(pattern)")
            #expect(callID.contains("USING INDEX recordings_call_id"), "\(callID)")
            #expect(range.contains("USING INDEX recordings_on_start_epoch (start_epoch>? AND start_epoch<?)"), "\(range)")
        case .postgres:
            // "Bitmap Index Scan on recordings_caller", "Index Scan using recordings_caller on recordings", ...
            #expect(number.contains("recordings_caller") && number.contains("recordings_callee") && !number.contains("Seq Scan"), "\(number)")
            #expect(prefix.contains("recordings_caller") && prefix.contains("caller >=") && !prefix.contains("Seq Scan"), "\(prefix)")
            #expect(pattern.contains("recordings_callee") && pattern.contains("callee >=") && !pattern.contains("Seq Scan"), "\(pattern)")
            #expect(callID.contains("recordings_call_id") && !callID.contains("Seq Scan"), "\(callID)")
            #expect(range.contains("recordings_on_start_epoch") && !range.contains("Seq Scan"), "\(range)")
        }
    }

    /// `catalog verify` asks of every committed recording whether a manifest in force vouches
    /// for it: answered from the `manifests_in_force` index (v13) without reading the
    /// manifests' rows, whose bodies make the table large.
    @Test func theScanForUnsignedRecordingsUsesTheIndexOfManifestsInForce() throws {
        let store = try F.store(.sqlite)
        let plan = try store.committedRecordingsWithoutManifestPlan(limit: 10).joined(separator: " | ")
        #expect(plan.contains("USING INDEX manifests_in_force (recording_id=?)"), "\(plan)")
        #expect(!plan.contains("manifests_recording"), "\(plan)")
    }
}
