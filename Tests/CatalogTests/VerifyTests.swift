import Catalog
import CallrecTestSupport
import Foundation
import Testing

/// `verify` on states a crash or outside hands leave.
@Suite struct VerifyTests {
    typealias F = CatalogFixtures
    let admin = CatalogActor.operator("test")

    func write(_ path: String, _ text: String) { F.write(path, text) }

    @Test(arguments: CatalogBackend.all)
    func cleanCatalogNeedsNothing(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try F.recordingWithFiles(store, id: F.id(1))
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.isClean && report.healthy == 1)
    }

    @Test(arguments: CatalogBackend.all)
    func removesTemporaryFilesWithoutARow(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let temp = store.filePath("2026/11/29/.\(F.id(1)).opus.partial")
        write(temp, "half a recording")
        let dry = try store.verify(dryRun: true, importer: nil, by: admin, at: 1)
        #expect(dry.temporaryFilesRemoved == ["2026/11/29/.\(F.id(1)).opus.partial"])
        #expect(F.exists(temp))
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.temporaryFilesRemoved.count == 1)
        #expect(!F.exists(temp))
        #expect(try store.verify(dryRun: false, importer: nil, by: admin, at: 2).isClean)
    }

    @Test(arguments: CatalogBackend.all)
    func removesARowWhoseFilesAreGone(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try F.recordingWithFiles(store, id: F.id(1))
        try FileManager.default.removeItem(atPath: store.filePath("2026/11/29/\(F.id(1)).opus"))
        try FileManager.default.removeItem(atPath: store.filePath("2026/11/29/\(F.id(1)).json"))
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.rowsWithoutFiles == [F.id(1)])
        #expect(try store.recording(id: F.id(1)) == nil)
        #expect(try store.auditLog(by: admin, at: 2).contains { $0.action == "verify" && $0.target == F.id(1) })
    }

    @Test(arguments: CatalogBackend.all)
    func marksAChecksumMismatchDamagedAndKeepsIt(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try F.recordingWithFiles(store, id: F.id(1))
        let audio = store.filePath("2026/11/29/\(F.id(1)).opus")
        write(audio, "tampered")
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.damaged.map(\.id) == [F.id(1)])
        #expect(report.damaged[0].why == "SHA-256 differs: 2026/11/29/\(F.id(1)).opus")
        #expect(try store.recording(id: F.id(1))?.damaged == true)
        #expect(F.exists(audio))
        // Restored from a copy: the mark goes.
        write(audio, "OggS audio of \(F.id(1))")
        #expect(try store.verify(dryRun: false, importer: nil, by: admin, at: 2).healthy == 1)
        #expect(try store.recording(id: F.id(1))?.damaged == false)
    }

    @Test(arguments: CatalogBackend.all)
    func removesFilesWithoutARowWhenNoCompleteRecordingCanBeRebuilt(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let lone = store.filePath("2026/11/29/\(F.id(5)).opus")
        let unrelated = store.filePath("2026/11/29/notes.txt")
        write(lone, "audio without index")
        write(unrelated, "not ours")
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.orphanFilesRemoved == ["2026/11/29/\(F.id(5)).opus"])
        #expect(!F.exists(lone))
        #expect(F.exists(unrelated))
    }

    @Test(arguments: CatalogBackend.all)
    func cataloguesACompleteRecordingWithoutARow(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let id = F.id(6)
        write(store.filePath("2026/11/29/\(id).opus"), "audio")
        write(store.filePath("2026/11/29/\(id).json"), "index")
        let importer: OrphanImporter = { indexPath, catalog in
            #expect(indexPath == catalog.filePath("2026/11/29/\(id).json"))
            var row = F.recording(id)
            row.audioSHA256 = FileDigest.sha256(bytes: Array("audio".utf8))
            return (row, [
                CatalogFile(recordingID: id, position: 0, path: row.audioPath, bytes: 5, sha256: row.audioSHA256),
                CatalogFile(recordingID: id, position: 1, path: row.indexPath, bytes: 5, sha256: FileDigest.sha256(bytes: Array("index".utf8))),
            ])
        }
        let report = try store.verify(dryRun: false, importer: importer, by: admin, at: 1)
        #expect(report.orphansCatalogued == [id])
        #expect(try store.allRecordings().map(\.id) == [id])
        #expect(try store.verify(dryRun: false, importer: importer, by: admin, at: 2).isClean)
    }

    /// A pending row is completed when every file is complete under either
    /// name, and rolled back when one is missing or its checksum differs.
    @Test(arguments: CatalogBackend.all, [
        ("both temporary", ["t", "t"], true),
        ("audio renamed", ["f", "t"], true),
        ("both renamed", ["f", "f"], true),
        ("index missing", ["t", "-"], false),
        ("audio truncated", ["x", "t"], false),
        ("converted again: old finals beside new temporaries", ["ot", "ot"], true),
    ])
    func settlesAnInterruptedCommit(backend: CatalogBackend, state: (label: String, files: [String], completes: Bool)) throws {
        let (label, files, completes) = state
        let store = try F.store(backend)
        let id = F.id(7)
        var row = F.recording(id)
        let contents = ["audio bytes", "index bytes"]
        let paths = [row.audioPath, row.indexPath]
        for (i, state) in files.enumerated() {
            let final = store.filePath(paths[i])
            switch state {
            case "t": write(CatalogStore.temporaryPath(of: final), contents[i])
            case "f": write(final, contents[i])
            case "x": write(CatalogStore.temporaryPath(of: final), "audio by")
            case "ot":
                write(final, "an older conversion")
                write(CatalogStore.temporaryPath(of: final), contents[i])
            default: break
            }
        }
        row.audioSHA256 = FileDigest.sha256(bytes: Array(contents[0].utf8))
        try store.insertPending(row, files: (0..<2).map {
            CatalogFile(recordingID: id, position: $0, path: paths[$0], bytes: Int64(contents[$0].utf8.count), sha256: FileDigest.sha256(bytes: Array(contents[$0].utf8)))
        })
        #expect(try store.allRecordings().isEmpty, "a pending row is not visible")
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.pendingCompleted == (completes ? [id] : []), "\(label)")
        #expect(report.pendingRolledBack == (completes ? [] : [id]), "\(label)")
        #expect(try store.allRecordings().map(\.id) == (completes ? [id] : []))
        for (i, path) in paths.enumerated() {
            #expect(F.exists(store.filePath(path)) == completes, "\(label): \(path)")
            if completes { #expect(FileManager.default.contents(atPath: store.filePath(path)) == Data(contents[i].utf8), "\(label)") }
            #expect(!F.exists(CatalogStore.temporaryPath(of: store.filePath(path))), "\(label): temporary \(path)")
        }
        #expect(try store.verify(dryRun: false, importer: nil, by: admin, at: 2).isClean)
    }

    /// A deletion interrupted after the row was marked: verify finishes it, files and row.
    @Test(arguments: CatalogBackend.all)
    func finishesAnInterruptedDeletion(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try F.recordingWithFiles(store, id: F.id(8))
        try F.recordingWithFiles(store, id: F.id(9))
        try F.tamper(store, "UPDATE recordings SET state = 'deleting' WHERE id = ?", [F.id(8)])
        try FileManager.default.removeItem(atPath: store.filePath("2026/11/29/\(F.id(8)).opus"))  // the crash came after the first unlink
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.deletionsFinished == [F.id(8)])
        #expect(try store.recording(id: F.id(8)) == nil)
        #expect(!F.exists(store.filePath("2026/11/29/\(F.id(8)).json")))
        #expect(try store.allRecordings().map(\.id) == [F.id(9)])
    }

    @Test(arguments: CatalogBackend.all)
    func rejectsNamesThatAreNotRecordingFiles(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        for name in ["20261129T081501Z-0000000g.opus", "2026112T081501Z-00000001.opus", "x.opus"] {
            write(store.filePath("2026/11/29/" + name), "x")
        }
        let report = try store.verify(dryRun: false, importer: nil, by: admin, at: 1)
        #expect(report.isClean)
    }
}
