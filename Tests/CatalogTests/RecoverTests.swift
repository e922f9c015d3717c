import Catalog
import CallrecTestSupport
import Foundation
import Testing

/// `recover`: what the live recorder runs at start — verify's repairs of
/// what a crash left, without reading the committed recordings.
@Suite struct RecoverTests {
    typealias F = CatalogFixtures
    let admin = CatalogActor.operator("test")

    func write(_ path: String, _ text: String) { F.write(path, text) }

    /// A pending row whose two files are complete under their temporary names.
    func pending(_ store: CatalogStore, _ n: Int) throws -> CatalogRecording {
        let row = F.recording(F.id(n))
        let contents = ["audio \(n)", "index \(n)"]
        for (i, path) in [row.audioPath, row.indexPath].enumerated() {
            write(CatalogStore.temporaryPath(of: store.filePath(path)), contents[i])
        }
        try store.insertPending(row, files: [row.audioPath, row.indexPath].enumerated().map { i, path in
            CatalogFile(
                recordingID: row.id, position: i, path: path, bytes: Int64(contents[i].utf8.count),
                sha256: FileDigest.sha256(bytes: Array(contents[i].utf8)))
        })
        return row
    }

    @Test(arguments: CatalogBackend.all)
    func completesInterruptedCommitsAndRemovesLeftoversWithoutReadingCommittedFiles(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        try F.recordingWithFiles(store, id: F.id(1))
        // A committed file changed behind the catalog's back: verify's business, not recover's.
        write(store.filePath("2026/11/29/\(F.id(1)).opus"), "tampered")
        let row = try pending(store, 2)
        let leftover = "2026/11/29/.\(F.id(3)).opus.partial"
        write(store.filePath(leftover), "half a recording")

        let report = try store.recover(scanFolders: true, by: admin, at: 1)
        #expect(report.pendingCompleted == [row.id])
        #expect(report.temporaryFilesRemoved == [leftover])
        #expect(report.healthy == 0 && report.damaged.isEmpty)
        #expect(try store.allRecordings().map(\.id) == [F.id(1), row.id])
        #expect(F.exists(store.filePath(row.audioPath)) && !F.exists(store.filePath(leftover)))
        #expect(try store.auditLog(by: admin, at: 2).contains { $0.action == "verify" && $0.target == row.id })
        #expect(try store.recover(scanFolders: true, by: admin, at: 3).isClean)
    }

    @Test(arguments: CatalogBackend.all)
    func withoutAScanTemporaryFilesStay(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let leftover = "2026/11/29/.\(F.id(3)).opus.partial"
        write(store.filePath(leftover), "half a recording")
        #expect(try store.recover(scanFolders: false, by: admin, at: 1).isClean)
        #expect(F.exists(store.filePath(leftover)))
    }

    @Test(arguments: CatalogBackend.all)
    func refusesWhileAWriterHoldsTheCatalog(backend: CatalogBackend) throws {
        let store = try F.store(backend)
        let lock = try store.writerLock()
        #expect(throws: CatalogError.self) { try store.recover(scanFolders: true, by: admin, at: 1) }
        withExtendedLifetime(lock) {}
    }

    /// SQLite on a full disk (a real tmpfs) fails with SQLITE_FULL, rolled back: the recorder waits and tries again.
    @Test(.enabled(if: TinyDisk.available, "needs the right to mount a tmpfs (root)"))
    func knowsADiskFullErrorFromSQLite() throws {
        let disk = try #require(TinyDisk.make(kilobytes: 2048))
        let store = try CatalogStore(path: disk.path + "/catalog.sqlite")
        disk.fill()
        var failure: (any Error)? = nil
        do {
            for n in 1...200 { try store.save(F.recording(F.id(n % 60 + 1, day: 10 + n % 18))) }
        } catch {
            failure = error
        }
        #expect(failure.map(CatalogStore.isDiskFull) == true, "\(String(describing: failure))")
        #expect(!CatalogStore.isDiskFull(CatalogError(.io, "x")))
        disk.free()
        try store.save(F.recording(F.id(1)))
        #expect(try store.recording(id: F.id(1)) != nil)
    }
}
