import Catalog
import CatalogPostgres
import CallrecTestSupport
import Foundation

/// Rows and folders for the catalog tests.
enum CatalogFixtures {
    /// A committed recording row (no files on disk).
    static func recording(
        _ id: String, caller: String? = "+4611", callee: String? = "+4622", direction: String = "unknown", start: Double = 1_795_940_130,
        duration: Double = 12.5
    ) -> CatalogRecording {
        CatalogRecording(
            id: id, callID: "'; DROP TABLE recordings; --\(id)", caller: caller, callee: callee, direction: direction,
            start: "2026-11-29T08:15:30.120Z", startEpoch: start, durationS: duration,
            audioPath: "2026/11/29/\(id).opus", indexPath: "2026/11/29/\(id).json", audioBytes: 1234,
            codecs: "PCMU,PCMU", endReason: "bye")
    }

    /// A new catalog in a new folder: an SQLite file there, or a new
    /// database on the test PostgreSQL server for the files there.
    static func store(_ backend: CatalogBackend) throws -> CatalogStore {
        let folder = FixturePaths.temporaryDirectory("catalog")
        return try CatalogStore.open(try backend.newCatalog(folder: folder), folder: folder)
    }

    /// The same catalog opened again (a second process, or a restart).
    static func reopen(_ store: CatalogStore, create: Bool = true) throws -> CatalogStore {
        try CatalogStore.open(store.path, folder: store.folder, storage: store.storage, create: create)
    }

    /// Runs SQL on the catalog's database behind the store's back, as an
    /// operator with the sqlite3 shell or psql would.
    static func tamper(_ store: CatalogStore, _ sql: String, _ arguments: SQLArguments = []) throws {
        try store.write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    /// A recording id of the form convert writes, for day `day` of November 2026.
    static func id(_ n: Int, day: Int = 29) -> String {
        "202611\(day)T0815\(n < 10 ? "0" : "")\(n)Z-0000000\(n % 10)"
    }

    /// A committed recording whose two files exist on disk with their checksums.
    @discardableResult
    static func recordingWithFiles(
        _ store: CatalogStore, id: String, caller: String = "+4611", callee: String = "+4622", start: Double = 1_795_940_130
    ) throws -> CatalogRecording {
        var row = recording(id, caller: caller, callee: callee, start: start)
        let folder = store.folder + "/2026/11/29"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let audio = Array("OggS audio of \(id)".utf8), index = Array("{\"id\":\"\(id)\"}".utf8)
        _ = FileManager.default.createFile(atPath: store.filePath(row.audioPath), contents: Data(audio))
        _ = FileManager.default.createFile(atPath: store.filePath(row.indexPath), contents: Data(index))
        row.audioSHA256 = FileDigest.sha256(bytes: audio)
        row.audioBytes = Int64(audio.count)
        try store.save(
            row,
            files: [
                CatalogFile(recordingID: id, position: 0, path: row.audioPath, bytes: Int64(audio.count), sha256: row.audioSHA256),
                CatalogFile(recordingID: id, position: 1, path: row.indexPath, bytes: Int64(index.count), sha256: FileDigest.sha256(bytes: index)),
            ])
        return row
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Writes `text` to `path`, creating its folder.
    static func write(_ path: String, _ text: String) {
        try? FileManager.default.createDirectory(atPath: String(path[..<path.lastIndex(of: "/")!]), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }
}
