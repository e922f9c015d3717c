import Benchmark
import CallrecTestSupport
import Catalog
import CatalogPostgres
import Foundation

/// Finding calls in a catalog of 1,000,000 generated recordings (one year of
/// a 2,700-calls-a-day firm), in SQLite and in PostgreSQL side by side. The
/// unit of work is one `find` as `callrec catalog find` runs it: the query,
/// and the rows read back. The baseline, measured in the same run, is a
/// filter no index serves (talk time), which must read every row.
///
/// And `callrec serve`'s pages over the same catalogs (ServePages.swift).
///
/// And loading recordings in bulk (`CatalogStore.insert`, as an import or
/// this benchmark's own set-up does): PostgreSQL's COPY beside multi-row
/// INSERTs (the baseline) and SQLite's prepared INSERT, 20,000 recordings
/// per iteration into a table with the catalog's indexes.
///
/// PostgreSQL: `CALLREC_BENCH_POSTGRES=postgresql://...` names a database to
/// use (loaded once, kept between runs); otherwise a throw-away server is
/// started (as the tests start it) and loaded in each run.
/// `CALLREC_BENCH_ROWS` changes the million (10,000,000 takes a few minutes
/// to load through COPY). `CALLREC_BENCH_BACKENDS` names the backends to
/// load and measure, `sqlite,postgresql` unless set (10M rows load into
/// SQLite far slower than through COPY: `postgresql` alone runs the finds
/// there and says that SQLite was left out).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 200
    )

    let rows = ProcessInfo.processInfo.environment["CALLREC_BENCH_ROWS"].flatMap(Int.init) ?? 1_000_000
    let size = rows % 1_000_000 == 0 ? "\(rows / 1_000_000)M" : "\(rows)"
    let probe = rows / 2 + 12_345
    let backends = GeneratedCatalog.backends()
    let sqlite = backends.contains("sqlite") ? try! GeneratedCatalog.sqlite(rows: rows) : nil
    let postgres = backends.contains("postgresql") ? try! GeneratedCatalog.postgres(rows: rows) : nil

    for (store, backend) in [(sqlite, ""), (postgres, ", PostgreSQL")] {
        guard let store else { continue }
        finds(in: store, named: "among \(size)\(backend)", probe: probe)
        servePages(in: store, named: "among \(size)\(backend)", probe: probe)
    }
    if let postgres { bulkLoads(postgres: postgres) }
}

/// The finds of `callrec catalog find`, each expecting what the generated catalog holds.
func finds(in store: CatalogStore, named suffix: String, probe: Int) {
    let admin = CatalogActor.operator("bench")
    func find(
        _ name: String, as actor: CatalogActor = admin, expecting: ClosedRange<Int>, _ edit: @escaping (inout RecordingQuery) -> Void
    ) {
        Benchmark("Catalog.find \(name) \(suffix)") { benchmark in
            var query = RecordingQuery(limit: 100)
            edit(&query)
            benchmark.startMeasurement()
            let result = try store.find(query, by: actor, at: 0)
            benchmark.stopMeasurement()
            precondition(expecting.contains(result.recordings.count), "\(name): \(result.recordings.count) rows")
            blackHole(result)
        }
    }

    find("one call by number (either party)", expecting: 1...1) { $0.number = NumberPattern(GeneratedCatalog.caller(probe)) }
    find("by number prefix (10 calls)", expecting: 10...10) { $0.caller = NumberPattern(String(GeneratedCatalog.caller(probe).dropLast()) + "*") }
    find("one call by Call-ID", expecting: 1...1) { $0.callID = GeneratedCatalog.callID(probe) }
    find("one hour of inbound calls", expecting: 1...100) {
        $0.from = GeneratedCatalog.start(probe)
        $0.to = GeneratedCatalog.start(probe) + 3600
        $0.direction = .inbound
    }
    // An agent whose number took 200 of the calls: the query is scoped to them (and checked for withheld matches).
    let agent = CatalogActor.user(CatalogUser(name: "agent", role: .agent, numbers: [NumberPattern(GeneratedCatalog.callee(probe))!]))
    find("one call by number, as an agent", as: agent, expecting: 1...1) { $0.number = NumberPattern(GeneratedCatalog.caller(probe)) }
    find("baseline: talk time (no index, reads every row)", expecting: 1...1) {
        $0.minTalk = 1_000_000
    }
}

/// 20,000 recordings per iteration into an empty table shaped and indexed as
/// `recordings`: COPY and multi-row INSERTs (PostgreSQL), one prepared INSERT
/// per row (SQLite). The unit of work is the whole load; rows per second =
/// 20,000 / the time.
func bulkLoads(postgres: CatalogStore) {
    let batch = 20_000
    let recordings = (0..<batch).map { GeneratedCatalog.recording(10_000_000 + $0) }
    let rows = recordings.map(\.sqlValues)
    let columns = CatalogRecording.columns
    let configuration = Benchmark.Configuration(warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 10)

    func postgresLoad(_ name: String, _ load: @escaping (any SQLConnection) throws -> Void) {
        Benchmark("Catalog.insert 20k recordings, PostgreSQL \(name)", configuration: configuration) { benchmark in
            try postgres.write { db in
                try db.execute(sql: "CREATE TEMPORARY TABLE bulk (LIKE recordings INCLUDING ALL) ON COMMIT DROP")
                benchmark.startMeasurement()
                try load(db)
                benchmark.stopMeasurement()
            }
        }
    }
    postgresLoad("COPY") { db in try db.insert(into: "bulk", columns: columns, rows: rows) }
    // The baseline: as many rows per statement as the protocol binds (65,535 values).
    postgresLoad("multi-row INSERT (baseline)") { db in
        try db.insertInBatches(into: "bulk", columns: columns, rows: rows, maxArguments: 65_535)
    }
    Benchmark("Catalog.insert 20k recordings, SQLite", configuration: configuration) { benchmark in
        let folder = FixturePaths.temporaryDirectory("bench-bulk")
        let store = try CatalogStore(path: folder + "/catalog.sqlite")
        benchmark.startMeasurement()
        try store.insert(recordings)
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// The generated catalog: the same rows in SQLite and PostgreSQL.
enum GeneratedCatalog {
    static let firstStart: Double = 1_767_225_600  // 2026-01-01T00:00:00Z

    static func caller(_ i: Int) -> String { "+46" + String(700_000_000 + i) }
    static func callee(_ i: Int) -> String { "+468" + String(10_000_000 + i % 5_000) }
    static func callID(_ i: Int) -> String { "\(i)-\(i &* 2_654_435_761 % 1_000_003)@pbx.example.com" }
    /// Calls 11.5 s apart on average: a million calls over about four months.
    static func start(_ i: Int) -> Double { firstStart + Double(i) * 11.5 }

    static let directions = ["inbound", "outbound", "internal", "unknown"]

    /// Recording `k`.
    static func recording(_ k: Int) -> CatalogRecording {
        var r = CatalogRecording(
            id: String(format: "G%09d", k), callID: callID(k), caller: caller(k), callee: callee(k),
            direction: directions[k % 4], start: "", startEpoch: start(k), durationS: Double(30 + k % 600),
            audioPath: "2026/01/01/G\(k).opus", indexPath: "2026/01/01/G\(k).json", audioBytes: 100_000,
            codecs: "PCMU,PCMU", endReason: "bye")
        r.callerTalkS = Double(k % 300)
        r.calleeTalkS = k == 777 ? 1_000_000 : Double(k % 200)
        r.dtmfCount = k % 7 == 0 ? 1 : 0
        r.silenceShare = Double(k % 100) / 100
        return r
    }

    /// The backends `CALLREC_BENCH_BACKENDS` names (`sqlite`, `postgresql`,
    /// comma-separated; both unless set). A name it does not know stops the
    /// run, and a backend left out is said on standard error, so a run never
    /// measures less than it appears to.
    static func backends() -> Set<String> {
        guard let names = ProcessInfo.processInfo.environment["CALLREC_BENCH_BACKENDS"] else { return ["sqlite", "postgresql"] }
        let chosen = Set(names.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        for name in chosen where name != "sqlite" && name != "postgresql" {
            fatalError("CALLREC_BENCH_BACKENDS: '\(name)' is not a backend (sqlite, postgresql)")
        }
        for name in ["sqlite", "postgresql"] where !chosen.contains(name) {
            FileHandle.standardError.write(Data("CALLREC_BENCH_BACKENDS=\(names): \(name) is not measured in this run\n".utf8))
        }
        return chosen
    }

    /// Inserts recordings 0..<rows, 50,000 per transaction; returns the seconds it took.
    static func load(_ store: CatalogStore, rows: Int) throws -> Double {
        let began = Date()
        var i = 0
        while i < rows {
            let end = min(i + 50_000, rows)
            try store.insert((i..<end).map(recording))
            i = end
        }
        return Date().timeIntervalSince(began)
    }

    /// The SQLite catalog, made once and kept in the temporary folder between runs.
    static func sqlite(rows: Int) throws -> CatalogStore {
        let folder = NSTemporaryDirectory() + "callrec-bench-catalog-v3-\(rows)"
        let done = folder + "/complete"
        if FileManager.default.fileExists(atPath: done) { return try CatalogStore(path: folder + "/catalog.sqlite") }
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try CatalogStore(path: folder + "/catalog.sqlite")
        let seconds = try load(store, rows: rows)
        print("loaded \(rows) recordings into SQLite in \(String(format: "%.1f", seconds)) s")
        FileManager.default.createFile(atPath: done, contents: Data())
        return store
    }

    /// The PostgreSQL catalog: the database `CALLREC_BENCH_POSTGRES` names
    /// (loaded unless it already holds `rows` recordings), or a new one on a
    /// throw-away server.
    static func postgres(rows: Int) throws -> CatalogStore {
        let folder = FixturePaths.temporaryDirectory("bench-postgres")
        let url = try ProcessInfo.processInfo.environment["CALLREC_BENCH_POSTGRES"] ?? PostgresServer.shared().freshDatabase()
        let store = try CatalogStore.open(url, folder: folder, storage: "bench")
        if try store.count() == rows { return store }
        try store.write { db in try db.execute(sql: "TRUNCATE recordings CASCADE") }
        let seconds = try load(store, rows: rows)
        try store.write { db in try db.execute(sql: "ANALYZE recordings") }
        print("loaded \(rows) recordings into PostgreSQL through COPY in \(String(format: "%.1f", seconds)) s")
        return store
    }
}
