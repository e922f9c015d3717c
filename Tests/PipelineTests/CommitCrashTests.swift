import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Conversion
import Evidence
import Foundation
import Output
import Testing

/// The commit of files and catalog row, interrupted at each step: by a crash
/// (the on-disk state at that moment, copied as the crash image) or by a
/// failure (disk full, an I/O error). Afterwards the recording exists in
/// both files and catalog, or in neither.
@Suite struct CommitCrashTests {
    static let fixture = FixturePaths.fixture("g711u-2legs-20ms.pcap")
    static let admin = CatalogActor.operator("test")

    /// Relative paths of every file under `folder`, the catalog's own files left out.
    static func files(_ folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
            .filter { !$0.hasPrefix("catalog.sqlite") && !$0.hasPrefix("image") && !$0.hasPrefix("recorder.") }
            .filter { (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0)[.type] as? FileAttributeType) == .typeRegular }
            .sorted()
    }

    /// Copies `folder` as a crash would leave it: the files and the database
    /// with its write-ahead log (the shared-memory index is rebuilt on open).
    static func crashImage(of folder: String, to image: String) throws {
        try FileManager.default.createDirectory(atPath: image, withIntermediateDirectories: true)
        for item in try FileManager.default.contentsOfDirectory(atPath: folder) where item != "image" && item != "catalog.sqlite-shm" {
            try FileManager.default.copyItem(atPath: folder + "/" + item, toPath: image + "/" + item)
        }
    }

    /// Every committed row has every file with its checksum; no temporary
    /// file and no recording file without a row is left; the audit and
    /// manifest chains are whole and agree with the rows and files.
    static func expectConsistent(_ folder: String) throws -> [CatalogRecording] {
        let store = try CatalogStore(path: folder + "/catalog.sqlite")
        let evidence = try EvidenceVerifier(catalog: store).verify()
        #expect(evidence.isClean, "\(evidence.findings)")
        let rows = try store.allRecordings()
        #expect(try store.count() == rows.count, "only committed rows remain")
        var claimed: [String] = []
        for row in rows {
            for file in try store.files(of: row.id) {
                claimed.append(file.path)
                #expect(try FileDigest.sha256(path: store.filePath(file.path)) == file.sha256)
            }
        }
        #expect(files(folder) == claimed.sorted())
        return rows
    }

    @Test(arguments: CommitStep.allCases)
    func crashAtEveryStepIsRepairedToAllOrNothing(step: CommitStep) throws {
        let out = FixturePaths.temporaryDirectory("callrec-crash")
        let image = out + "/image"
        let converter = try Converter(options: ConvertOptions(outputDirectory: out)) { at in
            if at == step { try Self.crashImage(of: out, to: image) }
        }
        let result = converter.convert(path: Self.fixture, diagnostics: Diagnostics())
        #expect(result.error == nil && result.recordings.count == 1)
        let id = try #require(result.recordings.first?.id)

        let store = try CatalogStore(path: image + "/catalog.sqlite")
        let report = try store.verify(dryRun: false, importer: CatalogImport.recording, by: Self.admin, at: 0)
        switch step {
        case .filesSynced:
            // No row yet: the temporary files go, and with them the recording.
            #expect(report.temporaryFilesRemoved.count == 3)  // audio, peaks, index
            #expect(try Self.expectConsistent(image).isEmpty)
        case .rowPending, .manifestWritten, .firstFileRenamed, .filesRenamed:
            // The row says what the files must be; they are complete (the manifest's, if
            // a crash came before they were synced, written again from the catalog), so
            // the commit is finished.
            #expect(report.pendingCompleted == [id])
            #expect(try Self.expectConsistent(image).map(\.id) == [id])
        case .committed:
            #expect(report.isClean)
            #expect(try Self.expectConsistent(image).map(\.id) == [id])
        }
        #expect(try store.verify(dryRun: false, importer: nil, by: Self.admin, at: 1).isClean)
        // The repaired recording is the one an uninterrupted run commits.
        #expect(try store.recording(id: id).map(\.audioSHA256) ?? nil == (step == .filesSynced ? nil : result.recordings[0].audioSHA256))
    }

    struct InjectedFailure: Error {}

    @Test(arguments: [CommitStep.filesSynced, .rowPending, .manifestWritten, .firstFileRenamed, .filesRenamed])
    func failureAtEveryStepLeavesNeither(step: CommitStep) throws {
        let out = FixturePaths.temporaryDirectory("callrec-fail")
        do {
            let converter = try Converter(options: ConvertOptions(outputDirectory: out)) { at in
                if at == step { throw InjectedFailure() }
            }
            let result = converter.convert(path: Self.fixture, diagnostics: Diagnostics())
            #expect(result.recordings.isEmpty)
            #expect(result.error != nil)
        }
        #expect(try Self.expectConsistent(out).isEmpty)
        #expect(Self.files(out).isEmpty)
        #expect(try CatalogStore(path: out + "/catalog.sqlite").verify(dryRun: true, importer: nil, by: Self.admin, at: 0).isClean)
    }

    /// Converting the same capture again never replaces the recording: the
    /// call is reported as recorded already, and a held one says it is held.
    @Test func reconvertingNeverReplacesARecording() throws {
        let out = FixturePaths.temporaryDirectory("callrec-again")
        let first = try Converter(options: ConvertOptions(outputDirectory: out)).convert(path: Self.fixture, diagnostics: Diagnostics())
        let id = try #require(first.recordings.first?.id)
        let audio = out + "/" + (try #require(try CatalogStore(path: out + "/catalog.sqlite").recording(id: id))).audioPath
        let before = try FileDigest.sha256(path: audio)
        let seen = Diagnostics()
        let again = try Converter(options: ConvertOptions(outputDirectory: out)).convert(path: Self.fixture, diagnostics: seen)
        #expect(again.recordings.isEmpty && again.error == nil)
        #expect(seen[.callsAlreadyRecorded] == 1)
        #expect(seen.notes.contains { $0.contains("recording \(id) exists already") }, "\(seen.notes)")
        #expect(try FileDigest.sha256(path: audio) == before)
        #expect(try Self.expectConsistent(out).map(\.id) == [id])

        let converter = try Converter(options: ConvertOptions(outputDirectory: out))
        try converter.catalog.hold(id: id, reason: "case 4", by: Self.admin, at: 1)
        let diagnostics = Diagnostics()
        let held = converter.convert(path: Self.fixture, diagnostics: diagnostics)
        #expect(held.recordings.isEmpty)
        #expect(diagnostics.notes.contains { $0.contains("legal hold") })
        #expect(try FileDigest.sha256(path: audio) == before)
        #expect(try Self.expectConsistent(out).map(\.id) == [id])
    }

    /// A complete recording whose row was lost (a catalog restored from an
    /// older copy) is catalogued again from its call index, checksums and all.
    @Test func recordingWithoutARowIsCataloguedFromItsIndex() throws {
        let out = FixturePaths.temporaryDirectory("callrec-orphan")
        let summary = try #require(
            try Converter(options: ConvertOptions(outputDirectory: out)).convert(path: Self.fixture, diagnostics: Diagnostics()).recordings.first)
        let catalog = try CatalogStore(path: out + "/catalog.sqlite")
        let original = try #require(try catalog.recording(id: summary.id))
        let files = try catalog.files(of: summary.id)
        try catalog.write { db in try db.execute(sql: "DELETE FROM recordings") }
        let report = try catalog.verify(dryRun: false, importer: CatalogImport.recording, by: Self.admin, at: 0)
        #expect(report.orphansCatalogued == [summary.id])
        let restored = try #require(try catalog.recording(id: summary.id))
        #expect(restored.audioSHA256 == original.audioSHA256)
        #expect(restored.caller == original.caller && restored.startEpoch == original.startEpoch && restored.durationS == original.durationS)
        #expect(try catalog.files(of: summary.id) == files)
        #expect(try Self.expectConsistent(out).map(\.id) == [summary.id])
    }

    /// The decision a call's rules made is lost with its row (a catalog
    /// restored from an older copy) or with the process (a crash before the
    /// row): verify judges the call it rebuilds or salvages against the
    /// catalog's rules, so a call a --require rule matches is required in
    /// the ledger again, not left out of the coverage it must meet, and it
    /// is kept as long as that rule says (seven years here), not the default.
    @Test(arguments: [false, true])
    func aRebuiltOrSalvagedCallIsJudgedAgainstTheRequireRules(salvaged: Bool) throws {
        let out = FixturePaths.temporaryDirectory("callrec-orphan-required")
        let image = out + "/image"
        let sevenYears = Retention(amount: 7, unit: .years)
        let rule = try CatalogStore(path: out + "/catalog.sqlite").addRule(
            RecordingRule(name: "desk", action: .record, retention: sevenYears, required: true), by: Self.admin, at: 0)
        // The converter (and its hold on the catalog) is gone before verify runs.
        let summary = try #require(
            try Converter(options: ConvertOptions(outputDirectory: out)) { at in
                if salvaged && at == .filesSynced { try Self.crashImage(of: out, to: image) }
            }.convert(path: Self.fixture, diagnostics: Diagnostics()).recordings.first)
        let folder = salvaged ? image : out
        let catalog = try CatalogStore(path: folder + "/catalog.sqlite")
        if !salvaged {
            #expect(try catalog.coverage(CoverageQuery(), by: Self.admin, at: 0).total.required == 1)
            // The row and the call's ledger row are lost.
            try catalog.write { db in
                try db.execute(sql: "DELETE FROM recordings")
                try db.execute(sql: "DELETE FROM call_ledger")
            }
        }
        #expect(try catalog.ledgerCount() == 0)
        let report = try catalog.verify(
            dryRun: false, importer: CatalogImport.recording, salvager: RecordingSalvage(signer: nil).salvager, by: Self.admin, at: 0)
        #expect(salvaged ? report.salvaged.map(\.id) == [summary.id] : report.orphansCatalogued == [summary.id], "\(report)")
        let coverage = try catalog.coverage(CoverageQuery(by: .rule), by: Self.admin, at: 0)
        #expect(coverage.total.seen == 1 && coverage.total.recorded == 1)
        #expect(coverage.total.required == 1 && coverage.total.requiredComplete == 1)
        #expect(coverage.groups.map(\.name) == [String(rule.id)])
        let row = try #require(try catalog.recording(id: summary.id))
        #expect(row.ruleID == rule.id)
        #expect(row.retainUntilEpoch == sevenYears.until(from: row.startEpoch))
        #expect(row.retainUntilEpoch > Retention.default.until(from: row.startEpoch))
        #expect(try catalog.read { db in try db.scalar(Double.self, sql: "SELECT retain_until_epoch FROM call_ledger") } == row.retainUntilEpoch)
    }

    /// verify never settles a commit a running convert is making: it waits for the convert to finish.
    @Test func verifyRefusesWhileAConvertIsWriting() throws {
        let out = FixturePaths.temporaryDirectory("callrec-busy")
        do {
            let converter = try Converter(options: ConvertOptions(outputDirectory: out))
            #expect(throws: CatalogError(.busy, "\(out)/catalog.sqlite: a convert is writing to this catalog; run verify when it has finished")) {
                _ = try CatalogStore(path: out + "/catalog.sqlite").verify(dryRun: false, importer: nil, by: Self.admin, at: 0)
            }
            withExtendedLifetime(converter) {}
        }
        #expect(try CatalogStore(path: out + "/catalog.sqlite").verify(dryRun: false, importer: nil, by: Self.admin, at: 0).isClean)
    }

    /// Erasure sticks: converting the capture again, or restoring the files, does not bring the recording back.
    @Test func anErasedRecordingIsNotWrittenAgain() throws {
        let out = FixturePaths.temporaryDirectory("callrec-erased")
        let first = try Converter(options: ConvertOptions(outputDirectory: out)).convert(path: Self.fixture, diagnostics: Diagnostics())
        let id = try #require(first.recordings.first?.id)
        let audio = try Data(contentsOf: URL(fileURLWithPath: first.recordings[0].audioPath))
        let index = try Data(contentsOf: URL(fileURLWithPath: first.recordings[0].indexPath))
        let catalog = try CatalogStore(path: out + "/catalog.sqlite")
        _ = try catalog.forget(number: try .parse("+4687654321"), by: Self.admin, reason: "erasure request", at: 1)

        let diagnostics = Diagnostics()
        let again = try Converter(options: ConvertOptions(outputDirectory: out)).convert(path: Self.fixture, diagnostics: diagnostics)
        #expect(again.recordings.isEmpty && again.error == nil)
        #expect(diagnostics.notes.contains { $0.hasPrefix("recording \(id) was erased (forget, ") })
        #expect(Self.files(out).isEmpty)

        // Files restored from a backup are removed, not catalogued.
        _ = FileManager.default.createFile(atPath: first.recordings[0].audioPath, contents: audio)
        _ = FileManager.default.createFile(atPath: first.recordings[0].indexPath, contents: index)
        let report = try catalog.verify(dryRun: false, importer: CatalogImport.recording, by: Self.admin, at: 2)
        #expect(report.orphansCatalogued.isEmpty && report.orphanFilesRemoved.count == 2)
        #expect(try Self.expectConsistent(out).isEmpty)
    }
}
