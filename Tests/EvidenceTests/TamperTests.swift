import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Conversion
import Evidence
import Foundation
import Sealing
import Testing

/// Someone with write access to the catalog and the files changes a
/// recording or the audit log behind callrec's back — with the sqlite3 shell,
/// triggers dropped first, as an intruder would — and `catalog verify` (the
/// file check and the evidence check) names what was done, and where.
@Suite struct TamperTests {
    static let u = FixturePaths.fixture("g711u-2legs-20ms.pcap")  // +4681234567 -> +4687654321
    static let a = FixturePaths.fixture("g711a-2legs-20ms.pcap")  // +4631555010 -> +4631555020
    static let admin = CatalogActor.operator("test")

    /// Both fixtures converted by one recorder into a new folder: its catalog,
    /// the two recording ids (u first), and the recorder's identity.
    struct Converted {
        var out: String
        var store: CatalogStore
        var ids: [String]
        var identity: RecorderIdentity

        var database: String { out + "/catalog.sqlite" }

        /// The file `name` (`.opus`, `.json`, `.manifest.json`) of recording `id`, on disk.
        func path(_ id: String, _ suffix: String) throws -> String {
            let files = try store.files(of: id)
            let file = try #require(files.first { $0.path.hasSuffix(id + suffix) }, "\(id)\(suffix) in \(files.map(\.path))")
            return store.filePath(file.path)
        }
    }

    func converted(checkpoint: Bool = false) throws -> Converted {
        let out = FixturePaths.temporaryDirectory("evidence-tamper")
        let converter = try Converter(options: ConvertOptions(outputDirectory: out), actor: Self.admin)
        var ids: [String] = []
        for input in [Self.u, Self.a] {
            let result = converter.convert(path: input, diagnostics: Diagnostics())
            #expect(result.error == nil)
            ids += result.recordings.map(\.id)
        }
        if checkpoint { _ = try Checkpoint.make(converter.catalog, identity: converter.identity, at: 1_800_000_000) }
        #expect(ids.count == 2)
        return Converted(out: out, store: converter.catalog, ids: ids, identity: converter.identity)
    }

    /// Runs `sql` with the sqlite3 shell on the catalog, as an intruder would.
    func sqlite(_ c: Converted, _ sql: String) throws {
        let run = try CommandRunner.run("/usr/bin/sqlite3", [c.database, sql])
        #expect(run.status == 0, "sqlite3: \(run.stderr)")
    }

    func sqliteValue(_ c: Converted, _ sql: String) throws -> String {
        try CommandRunner.run("/usr/bin/sqlite3", [c.database, sql]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What the evidence check finds.
    func findings(_ c: Converted, outside: [Checkpoint.Copy] = []) throws -> [EvidenceFinding] {
        try EvidenceVerifier(catalog: c.store, outsideCheckpoints: outside).verify().findings
    }

    /// Whether one finding is of `kind`, about `subject` (a prefix), saying `text`.
    func expectFinding(
        _ found: [EvidenceFinding], _ kind: EvidenceFinding.Kind, _ subject: String, _ text: String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            found.contains { $0.kind == kind && $0.subject.hasPrefix(subject) && (text.isEmpty || $0.message.contains(text)) }, "\(found)",
            sourceLocation: sourceLocation)
    }

    @Test func anUntouchedCatalogIsIntact() throws {
        let c = try converted(checkpoint: true)
        let report = try EvidenceVerifier(catalog: c.store).verify()
        #expect(report.isClean, "\(report.findings)")
        #expect(report.recorders == 1 && report.manifests == 2 && report.signaturesChecked == 2 && report.checkpoints == 1)
        // The migration's entry and the recorder's registration, at least.
        #expect(report.auditEntries >= 2)
        #expect(try c.store.verify(dryRun: true, importer: nil, by: Self.admin, at: 2).isClean)
        for id in c.ids { #expect(try RecordingIntegrity.problems(of: #require(try c.store.recording(id: id)), files: c.store.files(of: id), in: c.store).isEmpty) }
    }

    @Test func oneByteOfAudioFlippedIsFoundAndTheRecordingIsNotShown() throws {
        let c = try converted()
        let id = c.ids[0]
        let audio = try c.path(id, ".opus")
        var bytes = try #require(FileManager.default.contents(atPath: audio))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: audio))
        let report = try c.store.verify(dryRun: true, importer: nil, by: Self.admin, at: 2)
        #expect(report.damaged.map(\.id) == [id], "\(report.damaged)")
        // show refuses, loudly and audited.
        let refused = #expect(throws: CatalogError.self) {
            _ = try c.store.show(id: id, by: Self.admin, reason: "dispute", at: 3) { recording, files in
                try RecordingIntegrity.problems(of: recording, files: files, in: c.store)
            }
        }
        #expect(refused?.code == .damaged && refused?.message.contains("\(id).opus: its SHA-256 is") == true, "\(String(describing: refused))")
        let log = try c.store.auditLog(by: Self.admin, at: 4)
        #expect(log.contains { $0.action == "show" && $0.target == id && $0.outcome == .refused && ($0.detail ?? "").hasPrefix("integrity: ") })
    }

    @Test func anIndexFieldEditedIsFoundEvenWhenTheCatalogsHashIsChangedToMatch() throws {
        let c = try converted()
        let id = c.ids[0]
        let index = try c.path(id, ".json")
        let text = try String(contentsOfFile: index, encoding: .utf8)
        #expect(text.contains("+4681234567"))
        let edited = text.replacingOccurrences(of: "+4681234567", with: "+4681234500")
        try edited.write(toFile: index, atomically: false, encoding: .utf8)
        #expect(try c.store.verify(dryRun: true, importer: nil, by: Self.admin, at: 2).damaged.map(\.id) == [id])
        // The intruder makes the catalog agree with the edited file: the signed manifest does not.
        let sum = FileDigest.sha256(bytes: Array(edited.utf8))
        try sqlite(c, "UPDATE recording_files SET sha256 = '\(sum)', bytes = \(edited.utf8.count) WHERE path LIKE '%\(id).json'")
        #expect(try c.store.verify(dryRun: true, importer: nil, by: Self.admin, at: 3).damaged.isEmpty)
        expectFinding(try findings(c), .fileMismatch, "recording \(id)", "\(id).json: the catalog's SHA-256 \(sum) is not the signed")
    }

    @Test func aFileReplacedByAnotherCallsIsFound() throws {
        let c = try converted()
        let (victim, other) = (c.ids[0], c.ids[1])
        let target = try c.path(victim, ".opus"), source = try c.path(other, ".opus")
        try FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: source, toPath: target)
        #expect(try c.store.verify(dryRun: true, importer: nil, by: Self.admin, at: 2).damaged.map(\.id) == [victim])
        let sum = try FileDigest.sha256(path: target)
        try sqlite(c, "UPDATE recording_files SET sha256 = '\(sum)' WHERE path LIKE '%\(victim).opus'; UPDATE recordings SET audio_sha256 = '\(sum)' WHERE id = '\(victim)'")
        expectFinding(try findings(c), .fileMismatch, "recording \(victim)", "\(victim).opus")
    }

    @Test func aRecordingDeletedWithItsRowIsFound() throws {
        let c = try converted()
        let id = c.ids[0]
        for file in try c.store.files(of: id) { try FileManager.default.removeItem(atPath: c.store.filePath(file.path)) }
        try sqlite(c, "DELETE FROM recording_files WHERE recording_id = '\(id)'; DELETE FROM recordings WHERE id = '\(id)'")
        expectFinding(try findings(c), .recordingGone, "recording \(id)", "no erasure (delete, forget, purge) is recorded")
        // Its manifest removed too (triggers dropped): a hole in the recorder's chain.
        try sqlite(c, "DROP TRIGGER manifests_no_delete; DELETE FROM manifests WHERE recording_id = '\(id)'")
        expectFinding(try findings(c), .manifestMissing, "manifest \(c.identity.id)#2", "#1 is missing before it")
    }

    @Test func theLastRecordingRemovedWithItsManifestStopsTheChainAndACheckpointCatchesTheCoverUp() throws {
        let c = try converted(checkpoint: true)
        let id = c.ids[1]
        try sqlite(
            c,
            "DROP TRIGGER manifests_no_delete; DELETE FROM manifests WHERE recording_id = '\(id)'; DELETE FROM recording_files WHERE recording_id = '\(id)'; DELETE FROM recordings WHERE id = '\(id)'"
        )
        expectFinding(try findings(c), .manifestStops, "manifest \(c.identity.id)#1", "its head says #2")
        // The head moved back too: the chain looks whole, but the signed checkpoint names manifest #2.
        let first = try #require(try c.store.manifest(recorderID: c.identity.id, sequence: 1))
        try sqlite(c, "DROP TRIGGER recorders_no_update; UPDATE recorders SET head_sequence = 1, head_sha256 = '\(first.sha256)'")
        let found = try findings(c)
        #expect(!found.contains { $0.kind == .manifestStops })
        expectFinding(found, .checkpointMismatch, "checkpoint #1", "it signed manifest #2, which is no longer in the chain")
    }

    @Test func anAuditEntryEditedAfterDropTriggerIsFound() throws {
        let c = try converted()
        try c.store.audit("show", target: c.ids[0], outcome: .done, by: Self.admin, at: 10, reason: "complaint 4711")
        let seq = try sqliteValue(c, "SELECT seq FROM audit WHERE action = 'show'")
        // The trigger stops the sqlite3 shell first.
        let refused = try CommandRunner.run("/usr/bin/sqlite3", [c.database, "UPDATE audit SET reason = 'routine' WHERE seq = \(seq)"])
        #expect(refused.status != 0 && refused.stderr.contains("the audit log is append-only"))
        try sqlite(c, "DROP TRIGGER audit_no_update; UPDATE audit SET reason = 'routine' WHERE seq = \(seq)")
        expectFinding(try findings(c), .auditCommitment, "audit #\(seq)", "its target, reason or detail differ")
        try sqlite(c, "UPDATE audit SET reason = 'complaint 4711', actor = 'operator:someone-else' WHERE seq = \(seq)")
        expectFinding(try findings(c), .auditAltered, "audit #\(seq)", "no longer hash to the hash it carries")
    }

    /// The intruder recomputes the edited entry's hash: the next entry's link
    /// breaks; recomputing every hash after it too leaves only the checkpoint.
    @Test func anAuditEntryEditedWithItsHashRecomputedBreaksTheLinkOrTheCheckpoint() throws {
        let c = try converted()
        try c.store.audit("show", target: c.ids[0], outcome: .done, by: Self.admin, at: 10, reason: "complaint 4711")
        _ = try Checkpoint.make(c.store, identity: c.identity, at: 11)
        try c.store.audit("export", target: c.ids[0], outcome: .done, by: Self.admin, at: 12, reason: "dispute")
        let chain = try c.store.auditChain(from: 0, limit: 1000)
        let edited = try #require(chain.first { $0.record.action == "show" })
        func rewrite(_ row: AuditChainRow, action: String, previous: String) -> (sql: String, hash: String) {
            var record = row.record
            record.action = action
            record.previousSHA256 = previous
            return ("UPDATE audit SET action = '\(action)', previous_sha256 = '\(previous)', row_sha256 = '\(record.sha256)' WHERE seq = \(record.seq);", record.sha256)
        }
        let one = rewrite(edited, action: "verify", previous: edited.record.previousSHA256)
        try sqlite(c, "DROP TRIGGER audit_no_update; " + one.sql)
        expectFinding(try findings(c), .auditLink, "audit #\(edited.record.seq + 1)", "it does not follow #\(edited.record.seq)")
        // Every later entry rewritten to link again, the head moved: the checkpoint signed the old chain.
        var sql = ""
        var previous = one.hash
        for row in chain where row.record.seq > edited.record.seq {
            let next = rewrite(row, action: row.record.action, previous: previous)
            sql += next.sql
            previous = next.hash
        }
        let last = try #require(chain.last).record.seq
        try sqlite(c, sql + "UPDATE audit_head SET row_sha256 = '\(previous)' WHERE seq = \(last);")
        let found = try findings(c)
        #expect(!found.contains { $0.kind == .auditLink || $0.kind == .auditAltered || $0.kind == .auditStops }, "\(found)")
        expectFinding(found, .checkpointMismatch, "checkpoint #1", "is not the one it signed: the log before it was rewritten")
    }

    @Test func auditEntriesReorderedDeletedOrInsertedAreFound() throws {
        let c = try converted()
        for n in 0..<4 { try c.store.audit("show", target: c.ids[0], outcome: .done, by: Self.admin, at: 10 + Double(n), reason: "r\(n)") }
        let head = try #require(try c.store.auditHead()).seq
        // Two entries swap places.
        let (x, y) = (head - 2, head - 1)
        try sqlite(c, "DROP TRIGGER audit_no_update; UPDATE audit SET seq = -1 WHERE seq = \(x); UPDATE audit SET seq = \(x) WHERE seq = \(y); UPDATE audit SET seq = \(y) WHERE seq = -1")
        let swapped = try findings(c)
        expectFinding(swapped, .auditAltered, "audit #\(x)")
        try sqlite(c, "UPDATE audit SET seq = -1 WHERE seq = \(x); UPDATE audit SET seq = \(x) WHERE seq = \(y); UPDATE audit SET seq = \(y) WHERE seq = -1")
        #expect(try findings(c).isEmpty)
        // One deleted from the middle, one from the end.
        try sqlite(c, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = \(x)")
        expectFinding(try findings(c), .auditMissing, "audit #\(y)", "#\(x) is missing before it")
        try sqlite(c, "DELETE FROM audit WHERE seq = \(head)")
        expectFinding(try findings(c), .auditStops, "audit #\(y)", "the last 1 entry was deleted")
        // One inserted without a place in the chain.
        try sqlite(c, "INSERT INTO audit (at_epoch, actor, action, target, outcome) VALUES (20, 'operator:x', 'show', '\(c.ids[1])', 'done')")
        expectFinding(try findings(c), .auditUnchained, "audit entry id", "inserted outside callrec")
    }

    @Test func aManifestSignedByAnUnknownKeyIsFound() throws {
        let c = try converted()
        let id = c.ids[0]
        let manifest = try #require(try c.store.manifest(of: id))
        // The intruder rewrites the manifest (another caller) and signs it with a key of their own.
        let body = try #require(manifest.body)
        let forged = Array(String(decoding: body, as: UTF8.self).replacingOccurrences(of: "+4681234567", with: "+4681234500").utf8)
        let rogue = SigningKey()
        let signature = try rogue.signature(for: forged)
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        try sqlite(
            c,
            "DROP TRIGGER manifests_no_update; UPDATE manifests SET body = X'\(hex(forged))', signature = X'\(hex(signature))', sha256 = '\(FileDigest.sha256(bytes: forged))' WHERE recording_id = '\(id)'"
        )
        let found = try findings(c)
        expectFinding(found, .manifestSignature, "manifest \(c.identity.id)#1", "not signed by this recorder")
        expectFinding(found, .manifestLink, "manifest \(c.identity.id)#2", "it does not follow #1")
        let recording = try #require(try c.store.recording(id: id))
        #expect(try RecordingIntegrity.problems(of: recording, files: c.store.files(of: id), in: c.store).contains {
            $0.contains("signature does not verify")
        })
        // A rogue recorder entered in the table: not registered through callrec.
        try sqlite(
            c,
            "INSERT INTO recorders (id, public_key, fingerprint, label, registered_epoch) VALUES ('\(RecorderIdentity.id(of: rogue.publicKey))', '\(rogue.publicKey.pem)', '\(rogue.publicKey.fingerprint)', 'x:/y', 1)"
        )
        expectFinding(try findings(c), .recorderUnregistered, "recorder \(RecorderIdentity.id(of: rogue.publicKey))", "added outside callrec")
    }

    /// Verify reads a page of rows at a time, the audit chain on one thread and the manifests'
    /// pages on others, each page's signatures checked while the next is fetched: whatever the
    /// page size, breaks in both chains and a recording gone are found the same, in one order
    /// (the audit chain's, then the manifests', then the recordings').
    @Test func theFindingsAndTheirOrderDoNotDependOnThePageSize() throws {
        let c = try converted()
        for n in 0..<5 { try c.store.audit("show", target: c.ids[0], outcome: .done, by: Self.admin, at: 10 + Double(n), reason: "r\(n)") }
        let head = try #require(try c.store.auditHead()).seq
        let manifest = try #require(try c.store.manifest(of: c.ids[0]))
        let forged = Array(String(decoding: try #require(manifest.body), as: UTF8.self).replacingOccurrences(of: "+4681234567", with: "+4681234500").utf8)
        let signature = try SigningKey().signature(for: forged)
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        try sqlite(
            c,
            "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TRIGGER manifests_no_update; "
                + "UPDATE audit SET actor = 'operator:someone-else' WHERE seq = \(head - 3); DELETE FROM audit WHERE seq = \(head - 1); "
                + "UPDATE manifests SET body = X'\(hex(forged))', signature = X'\(hex(signature))', sha256 = '\(FileDigest.sha256(bytes: forged))' WHERE recording_id = '\(c.ids[0])'; "
                + "DELETE FROM recording_files WHERE recording_id = '\(c.ids[1])'; DELETE FROM recordings WHERE id = '\(c.ids[1])'")
        var verifier = EvidenceVerifier(catalog: c.store)
        let whole = try verifier.verify().findings
        #expect(whole.map(\.kind) == [.auditAltered, .auditMissing, .manifestSignature, .manifestLink, .recordingGone], "\(whole)")
        for size in [1, 2, 3] {
            verifier.pageSize = size
            let report = try verifier.verify()
            #expect(report.findings == whole, "page size \(size)")
            #expect(report.manifests == 2 && report.signaturesChecked == 2 && report.auditEntries == Int(head) - 1, "page size \(size)")
        }
    }

    @Test func aRecordingWithoutAManifestIsFound() throws {
        let c = try converted()
        let id = c.ids[0]
        try sqlite(c, "DROP TRIGGER manifests_no_update; UPDATE manifests SET withdrawn_as = 'delete', withdrawn_epoch = 5, body = NULL WHERE recording_id = '\(id)'")
        let found = try findings(c)
        expectFinding(found, .recordingUnsigned, "recording \(id)", "no manifest in the chain")
        expectFinding(found, .withdrawalUnexplained, "manifest \(c.identity.id)#1", "withdrawn as 'delete'")
    }

    /// forget erases the parties everywhere — recordings, manifests, audit
    /// entries — and the chains stay whole: verify finds nothing.
    @Test func erasureKeepsTheChainsWholeWithoutThePersonalData() throws {
        let c = try converted(checkpoint: true)
        try c.store.audit("show", target: c.ids[0], outcome: .done, by: Self.admin, at: 10, reason: "complaint from +4681234567")
        let report = try c.store.forget(number: try .parse("+4681234567"), by: Self.admin, reason: "erasure request 118", at: 11)
        #expect(report.erased == [c.ids[0]])
        _ = try Checkpoint.make(c.store, identity: c.identity, at: 12)
        let evidence = try EvidenceVerifier(catalog: c.store).verify()
        #expect(evidence.isClean, "\(evidence.findings)")
        #expect(evidence.manifests == 2 && evidence.signaturesChecked == 1 && evidence.checkpoints == 2)
        let withdrawn = try #require(try c.store.manifests(of: c.ids[0]).first)
        #expect(withdrawn.body == nil && withdrawn.withdrawnAs == "forget" && withdrawn.signature.count == 64)
        // Neither number of the erased call is anywhere in the catalog's tables.
        let dump = try CommandRunner.run("/usr/bin/sqlite3", [c.database, ".dump"]).stdout
        #expect(dump.contains("+4631555010"), "the other call stays")
        #expect(!dump.contains("4681234567") && !dump.contains("4687654321"))
        // The entries about it keep their records: the fact of erasure stays.
        let about = try c.store.auditChain(about: c.ids[0])
        #expect(about.contains { $0.record.action == "forget" && $0.record.outcome == "done" })
        #expect(about.filter { $0.record.action == "show" }.allSatisfy { $0.redacted && $0.reason == nil && $0.salt == nil })
    }
}
