import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import CatalogPostgres
import Conversion
import Foundation
import Testing

/// `convert --jobs N`: the calls of a capture spread over worker threads
/// give exactly what one thread gives — on both catalog backends.
@Suite struct ParallelConvertTests {
    /// A generated capture: calls on 8 lines at once, 3-6 s each, new ones starting all the time.
    static let capture: (path: String, calls: Int) = {
        var traffic = TrafficGenerator(concurrentCalls: 8, duration: 14, seed: 18)
        traffic.callLength = 3...6
        var pcap: [UInt8] = []
        let generated = traffic.generate { pcap.append(contentsOf: $0) }
        return (try! TemporaryFile.write(pcap, name: "traffic.pcap"), generated.calls)
    }()

    /// One conversion of the capture with `jobs` workers into a new folder and catalog, the
    /// recordings signed with `key` (nil: the folder's own, made now).
    func convert(jobs: Int, backend: CatalogBackend, key: String?) throws -> (
        result: Converter.InputResult, out: String, catalog: CatalogStore, diagnostics: Diagnostics
    ) {
        let out = FixturePaths.temporaryDirectory("parallel-\(jobs)")
        let catalog = try CatalogStore.open(try backend.newCatalog(folder: out), folder: out)
        // Some calls recorded, the others skipped (a sample by Call-ID): ledger rows of both kinds, interleaved.
        _ = try catalog.addRule(RecordingRule(action: .record, samplePercent: 70), by: .operator("test"), at: 0)
        _ = try catalog.addRule(RecordingRule(action: .skip), by: .operator("test"), at: 0)
        var options = ConvertOptions(outputDirectory: out)
        options.signingKeyPath = key
        let converter = try Converter(options: options, catalog: catalog, jobs: jobs)
        let diagnostics = Diagnostics()
        return (converter.convert(path: Self.capture.path, diagnostics: diagnostics), out, catalog, diagnostics)
    }

    /// SHA-256 of every file of the recordings (audio, peaks, index, signed manifest), by path.
    func digests(_ folder: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for path in (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? [] where path.hasPrefix("2026/") {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder), !isFolder.boolValue {
                out[path] = try FileDigest.sha256(path: folder + "/" + path)
            }
        }
        return out
    }

    /// Every row of `table` as text, `leaving` out the columns that differ between two catalogs of
    /// the same content (a key of the catalog's own, where the files are stored), in `order`
    /// (nil: sorted, so the order of the commits does not count).
    func rows(_ catalog: CatalogStore, _ table: String, leaving: Set<String> = [], order: String? = nil) throws -> [String] {
        let found = try catalog.database.read { db in
            try db.query(sql: "SELECT * FROM \(table)" + (order.map { " ORDER BY \($0)" } ?? ""), arguments: [])
        }
        let lines = found.map { row in
            zip(row.columns.names, row.values).filter { !leaving.contains($0.0) }.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        }
        return order == nil ? lines.sorted() : lines
    }

    @Test(arguments: CatalogBackend.all)
    func twoOrFourJobsGiveWhatOneGives(backend: CatalogBackend) throws {
        let one = try convert(jobs: 1, backend: backend, key: nil)
        #expect(one.result.error == nil)
        let recorded = one.result.recordings.count
        #expect(recorded > 5 && recorded < Self.capture.calls, "a sample of \(Self.capture.calls) calls: \(recorded)")
        let key = one.out + "/recorder.key"
        let files = try digests(one.out)
        // Audio, peaks, index, manifest and its signature.
        #expect(files.count == recorded * 5)
        let ledger = try rows(one.catalog, "call_ledger", leaving: ["call_key"])
        #expect(ledger.count == Self.capture.calls)
        #expect(ledger.filter { $0.contains("outcome='skipped_by_rule'") }.count == Self.capture.calls - recorded)

        for jobs in [2, 4] {
            let many = try convert(jobs: jobs, backend: backend, key: key)
            #expect(many.result.error == nil)
            // The same ids, committed in the same order; the same bytes in every file.
            #expect(many.result.recordings.map(\.id) == one.result.recordings.map(\.id), "jobs \(jobs)")
            #expect(try digests(many.out) == files, "jobs \(jobs)")
            // The same rows: recordings and their files as they were entered (where the files
            // are stored differs: each run had a folder of its own), the ledger (its keys are
            // each catalog's own HMAC), and the manifest chain in its order.
            for table in ["recordings", "recording_files"] {
                #expect(try rows(many.catalog, table, leaving: ["storage"]) == rows(one.catalog, table, leaving: ["storage"]), "\(table), jobs \(jobs)")
            }
            #expect(try rows(many.catalog, "call_ledger", leaving: ["call_key"]) == ledger, "jobs \(jobs)")
            #expect(try rows(many.catalog, "manifests", order: "sequence") == rows(one.catalog, "manifests", order: "sequence"), "jobs \(jobs)")
            #expect(many.result.packets == one.result.packets)
            // Every count the same (the workers' merged in); the notes too, perhaps in another order.
            #expect(many.diagnostics.nonZero.map { "\($0.0.name) \($0.1)" } == one.diagnostics.nonZero.map { "\($0.0.name) \($0.1)" })
            #expect(many.diagnostics.notes.sorted() == one.diagnostics.notes.sorted())
        }
    }
}
