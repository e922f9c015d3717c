import Benchmark
import CallrecCore
import CallrecTestSupport
import Catalog
import CatalogPostgres
import Foundation

/// Retention at scale: `CatalogStore.purge` of 1,000,000 expired recordings
/// (issue 18, item 4), one iteration each, on PostgreSQL and SQLite. The
/// unit of work is the whole purge as `callrec catalog purge` runs it: the
/// held recordings listed and kept, every expired one marked `deleting`,
/// its ledger row's parties cleared, entered in `erased`, its manifest
/// withdrawn, the audit entries about it redacted, an audit entry of its
/// own appended to the chain, its files unlinked (each day folder synced
/// once a batch), its row deleted; the expired ledger rows removed; the
/// erased rows vacuumed (PostgreSQL) or checkpointed (SQLite).
///
/// The generated catalog: `CALLREC_BENCH_PURGE_ROWS` (1,000,000) expired
/// recordings, 2% more expired but under legal hold, 10% more not yet
/// expired; five file rows each (audio, index, peaks, signed manifest and
/// its signature, in day folders as a recorder writes them), a manifest in
/// the chain, a call-ledger row, and an audit entry about one in a hundred.
/// It is loaded once a run and copied for each benchmark (`CREATE DATABASE
/// ... TEMPLATE`, a file copy for SQLite), so each purges the same rows.
///
/// - `purge, no files on disk`: the catalog's share (every unlink finds no
///   file: ENOENT).
/// - `purge, files on disk`: the first `CALLREC_BENCH_PURGE_REAL`
///   (20,000) expired recordings' five files are real (one 4 KiB block
///   each); the difference from the above over their count is the cost a
///   file, which README multiplies out.
/// - baseline: a plain `DELETE` of the same rows (their files' rows go by
///   cascade), with nothing kept, audited, withdrawn or unlinked: the least
///   any purge must cost.
///
/// `CALLREC_BENCH_BACKENDS` (`sqlite,postgresql` unless set) as in
/// CatalogFind; `CALLREC_BENCH_POSTGRES` is not used (each benchmark needs
/// a database of its own from the throw-away server).
let benchmarks: @Sendable () -> Void = {
    let environment = ProcessInfo.processInfo.environment
    let rows = environment["CALLREC_BENCH_PURGE_ROWS"].flatMap(Int.init) ?? 1_000_000
    let real = min(rows, environment["CALLREC_BENCH_PURGE_REAL"].flatMap(Int.init) ?? 20_000)
    let size = rows % 1_000_000 == 0 ? "\(rows / 1_000_000)M" : "\(rows)"
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident], warmupIterations: 0, scalingFactor: .one, maxDuration: .seconds(1),
        maxIterations: 1)
    let catalog = RetentionCatalog(rows: rows)

    for backend in RetentionCatalog.backends() {
        let name = backend == .postgres ? "PostgreSQL" : "SQLite"
        Benchmark("Retention.purge \(size) expired, no files on disk, \(name)", configuration: configuration) { benchmark in
            let store = try catalog.copy(backend)
            benchmark.startMeasurement()
            let report = try store.purge(by: RetentionCatalog.admin, reason: nil, at: RetentionCatalog.now)
            benchmark.stopMeasurement()
            try catalog.check(report, store: store)
        }
        Benchmark("Retention.purge \(size) expired, \(real) of them with their 5 files on disk, \(name)", configuration: configuration) {
            benchmark in
            let store = try catalog.copy(backend)
            try catalog.writeFiles(of: real, in: store.folder)
            benchmark.startMeasurement()
            let report = try store.purge(by: RetentionCatalog.admin, reason: nil, at: RetentionCatalog.now)
            benchmark.stopMeasurement()
            try catalog.check(report, store: store)
            let left = try catalog.filesLeft(of: real, in: store.folder)
            precondition(left == 0, "\(left) files of purged recordings are still on disk")
        }
        Benchmark("Retention.baseline: plain DELETE of the \(size) expired rows, \(name)", configuration: configuration) { benchmark in
            let store = try catalog.copy(backend)
            benchmark.startMeasurement()
            let deleted = try store.write { db in
                try db.execute(
                    sql: "DELETE FROM recordings WHERE retain_until_epoch <= ? AND state = 'committed' AND hold_reason IS NULL",
                    arguments: [RetentionCatalog.now])
            }
            benchmark.stopMeasurement()
            precondition(deleted == rows, "the baseline deleted \(deleted) rows, not \(rows)")
        }
    }
}

/// The generated catalog of the purge benchmarks, loaded once per backend
/// on first use and copied for each benchmark.
final class RetentionCatalog: @unchecked Sendable {
    enum Backend { case sqlite, postgres }

    static let admin = CatalogActor.operator("bench")
    static let firstStart: Double = 1_735_689_600  // 2025-01-01T00:00:00Z
    /// When the purge runs: after every expired recording's retention ended.
    static let now: Double = 1_900_000_000
    static let filesPerRecording = 5

    /// Expired recordings (purged).
    let rows: Int
    /// Expired and under legal hold (kept): one in 51 of the expired.
    var held: Int { (rows + rows / 50) / 51 }
    /// Not yet expired (kept).
    var current: Int { rows / 10 }
    var total: Int { rows + held + current }

    // The benchmarks run one after another on one thread: nothing here is shared between threads.
    private var sqliteTemplate: String?
    private var postgresTemplate: String?
    private var copies = 0

    init(rows: Int) { self.rows = rows }

    /// The backends `CALLREC_BENCH_BACKENDS` names (both unless set); a
    /// backend left out is said on standard error.
    static func backends() -> [Backend] {
        guard let names = ProcessInfo.processInfo.environment["CALLREC_BENCH_BACKENDS"] else { return [.postgres, .sqlite] }
        let chosen = Set(names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        for name in chosen where name != "sqlite" && name != "postgresql" {
            fatalError("CALLREC_BENCH_BACKENDS: '\(name)' is not a backend (sqlite, postgresql)")
        }
        for name in ["sqlite", "postgresql"] where !chosen.contains(name) {
            FileHandle.standardError.write(Data("CALLREC_BENCH_BACKENDS=\(names): \(name) is not measured in this run\n".utf8))
        }
        return (chosen.contains("postgresql") ? [.postgres] : []) + (chosen.contains("sqlite") ? [.sqlite] : [])
    }

    // MARK: The generated rows

    /// Recording `k`: 0..<rows + held expired, one in 51 of them (k % 51 == 50) under legal
    /// hold, so the held are mixed in among those purged; then `current` not expired. 11.5 s
    /// apart, so a day folder holds about 7,500.
    func recording(_ k: Int) -> CatalogRecording {
        let start = Self.firstStart + Double(k) * 11.5
        let id = Self.id(k)
        let folder = Self.dayFolder(start)
        var r = CatalogRecording(
            id: id, callID: "\(k)@pbx.example.com", caller: "+46" + String(700_000_000 + k), callee: "+468" + String(10_000_000 + k % 5_000),
            direction: k % 2 == 0 ? "inbound" : "outbound", start: "", startEpoch: start, durationS: Double(30 + k % 600),
            audioPath: "\(folder)/\(id).opus", indexPath: "\(folder)/\(id).json", audioBytes: 100_000, codecs: "PCMU,PCMU", endReason: "bye")
        // Kept 30 days (a rule's retention), so each row's retention ends at its own time, as
        // 24 months from each start does; the current ones a day after the purge.
        r.retainUntilEpoch = k < rows + held ? start + 30 * 86_400 : Self.now + 86_400 + Double(k)
        if Self.isHeld(k, expired: rows + held) {
            r.holdReason = "case \(k % 7)"
            r.holdBy = "operator:bench"
            r.holdAtEpoch = 1
        }
        return r
    }

    /// Whether recording `k` of the `expired` is under legal hold.
    static func isHeld(_ k: Int, expired: Int) -> Bool { k < expired && k % 51 == 50 }

    /// The `n`th recording the purge erases (skipping the held ones).
    static func purged(_ n: Int) -> Int { n + n / 50 }

    /// `20250101T000011Z-0000000b`: a recording id (a time and 8 hex digits), so audit entries name it.
    static func id(_ k: Int) -> String {
        let t = civil(firstStart + Double(k) * 11.5)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ-%08x", t.year, t.month, t.day, t.hour, t.minute, t.second, k)
    }

    /// `2025/01/01`, the day folder of a recording that started at `start`.
    static func dayFolder(_ start: Double) -> String {
        let t = civil(start)
        return String(format: "%04d/%02d/%02d", t.year, t.month, t.day)
    }

    /// The UTC date and time of `epoch` (CallrecCore's civil-from-days, as the catalog files recordings).
    static func civil(_ epoch: Double) -> CivilTime { CivilTime(epochSeconds: Int64(epoch.rounded(.down))) }

    func files(of r: CatalogRecording) -> [CatalogFile] {
        let stem = String(r.audioPath.dropLast(".opus".count))
        return [".opus", ".json", ".dat", ".manifest.json", ".manifest.sig"].enumerated().map { position, suffix in
            CatalogFile(recordingID: r.id, position: position, path: stem + suffix, bytes: 4096, sha256: String(repeating: "ab", count: 32))
        }
    }

    /// Loads `total` recordings and what hangs off them into `store`, 20,000 per transaction.
    func load(_ store: CatalogStore) throws {
        let began = Date()
        try store.write { db in
            try db.execute(
                sql: "INSERT INTO recorders (id, public_key, fingerprint, label, registered_epoch, head_sequence) VALUES (?, ?, ?, ?, ?, 0)",
                arguments: ["benchrecorder0001", "-----BEGIN PUBLIC KEY-----", "SHA256:bench", "bench:/srv", 1])
        }
        var k = 0
        var previous: String? = nil
        while k < total {
            let end = min(k + 20_000, total)
            let recordings = (k..<end).map(recording)
            try store.insert(recordings)
            var manifestRows: [[SQLValue]] = []
            let body = [UInt8](repeating: 0x7b, count: 400)
            for (offset, r) in recordings.enumerated() {
                let sha = String(format: "%064x", k + offset + 1)
                manifestRows.append([
                    .text("benchrecorder0001"), .integer(Int64(k + offset + 1)), .text(r.id), .text(sha), previous.map { .text($0) } ?? .null,
                    .blob([UInt8](repeating: 1, count: 64)), .blob(body),
                ])
                previous = sha
            }
            let ledgerRows: [[SQLValue]] = recordings.map { r in
                [
                    .text("key-" + r.id), .real(r.startEpoch), .real(r.startEpoch + r.durationS), .text(r.direction), r.caller.sqlValue,
                    r.callee.sqlValue, .integer(1), .text("recorded"), .text(r.id), .real(r.retainUntilEpoch),
                ]
            }
            try store.write { db in
                try db.insert(into: "recording_files", columns: CatalogFile.columns, rows: recordings.flatMap(files).map(\.sqlValues))
                try db.insert(
                    into: "manifests", columns: ["recorder_id", "sequence", "recording_id", "sha256", "previous_sha256", "signature", "body"],
                    rows: manifestRows)
                try db.insert(
                    into: "call_ledger",
                    columns: ["call_key", "start_epoch", "end_epoch", "direction", "caller", "callee", "signalled", "outcome", "recording_id",
                              "retain_until_epoch"],
                    rows: ledgerRows)
                // An audit entry about one recording in a hundred (a play, say), which the purge redacts.
                for r in recordings.enumerated() where (k + r.offset) % 100 == 0 {
                    try CatalogStore.appendAudit(
                        db, at: r.element.startEpoch + 60, actor: .operator("bench"), action: "play", target: r.element.id, outcome: .done,
                        detail: "played by a supervisor")
                }
            }
            k = end
        }
        print("loaded \(total) recordings (\(rows) expired, \(held) held, \(current) current) with \(Self.filesPerRecording) files each "
            + "in \(String(format: "%.1f", Date().timeIntervalSince(began))) s")
    }

    // MARK: Copies

    /// A fresh copy of the loaded catalog, in a folder of its own.
    func copy(_ backend: Backend) throws -> CatalogStore {
        do {
            copies += 1
            let folder = FixturePaths.temporaryDirectory("bench-retention-\(copies)")
            switch backend {
            case .postgres:
                let server = try PostgresServer.shared()
                if postgresTemplate == nil {
                    let url = try server.freshDatabase()
                    do {
                        // Its connections close when the store goes: a template must have none.
                        let loading = try CatalogStore.open(url, folder: folder, storage: "bench")
                        try load(loading)
                    }
                    let name = PostgresServer.databaseName(of: url)
                    try server.psql("VACUUM ANALYZE", database: name)
                    postgresTemplate = name
                }
                let name = "retention_\(copies)"
                var attempt = 0
                while true {
                    do {
                        try server.psql("CREATE DATABASE \(name) TEMPLATE \(postgresTemplate!) STRATEGY FILE_COPY", database: "postgres")
                        break
                    } catch where attempt < 20 {
                        // The loading store's connections may take a moment to end on the server.
                        attempt += 1
                        usleep(250_000)
                    }
                }
                return try CatalogStore.open(server.url(database: name), folder: folder, storage: "bench")
            case .sqlite:
                if sqliteTemplate == nil {
                    let path = FixturePaths.temporaryDirectory("bench-retention-template") + "/catalog.sqlite"
                    do {
                        let loading = try CatalogStore(path: path)
                        try load(loading)
                        // Everything in the database file (the WAL checkpointed and emptied), so a copy of the file is the catalog.
                        try loading.database.reclaimErasedRows(tables: [])
                    }
                    sqliteTemplate = path
                }
                for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: sqliteTemplate! + suffix) {
                    try FileManager.default.copyItem(atPath: sqliteTemplate! + suffix, toPath: folder + "/catalog.sqlite" + suffix)
                }
                return try CatalogStore(path: folder + "/catalog.sqlite")
            }
        }
    }

    // MARK: Files

    /// Writes the five files of the first `count` expired recordings (4 KiB each) under `folder`.
    func writeFiles(of count: Int, in folder: String) throws {
        let bytes = Data(repeating: 0x55, count: 4096)
        var made: Set<String> = []
        for n in 0..<count {
            for file in files(of: recording(Self.purged(n))) {
                let path = folder + "/" + file.path
                let day = String(path[..<path.lastIndex(of: "/")!])
                if made.insert(day).inserted { try FileManager.default.createDirectory(atPath: day, withIntermediateDirectories: true) }
                guard FileManager.default.createFile(atPath: path, contents: bytes) else { throw BenchFailure("\(path): cannot create") }
            }
        }
    }

    /// How many of the first `count` recordings' files are still there.
    func filesLeft(of count: Int, in folder: String) throws -> Int {
        (0..<count).reduce(0) { left, n in
            left + files(of: recording(Self.purged(n))).filter { FileManager.default.fileExists(atPath: folder + "/" + $0.path) }.count
        }
    }

    /// That the purge erased the expired rows and kept the held and current ones.
    func check(_ report: ErasureReport, store: CatalogStore) throws {
        precondition(report.erased.count == rows, "purged \(report.erased.count), not \(rows)")
        precondition(report.kept.count == held, "kept \(report.kept.count) under hold, not \(held)")
        precondition(report.failed.isEmpty, "\(report.failed.count) failed: \(report.failed.first!)")
        let left = try store.count()
        precondition(left == held + current, "\(left) recordings left, not \(held + current)")
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
