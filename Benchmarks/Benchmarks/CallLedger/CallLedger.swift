import Benchmark
import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Catalog
import CatalogPostgres
import Foundation
import Pipeline

/// What the call ledger costs (issue 16, item 6).
///
/// Per call: the catalog transaction that enters a recording's row and
/// files (the baseline, measured in the same run) against the same
/// transaction with the call's ledger row in it, as `RecordingCommitter`
/// makes it; and a call without a recording, whose ledger row is a
/// transaction of its own. The aim: under 0.5 ms per call.
///
/// Per packet: the ledger adds nothing to the router or the catalog per
/// packet (a call's row is made once, when the call ends). Its one piece of
/// per-packet code is the leg's `MediaSpan` (one comparison and store of the
/// packet's arrival time in `CallSession.receive`, which per-leg
/// completeness is judged from); it cannot be switched off without losing
/// that judgement, so it is measured on its own over the same packets'
/// times, beside the whole per-packet path of the same call through
/// `CaptureProcessor` (slicing, SIP, routing, jitter buffer, decoding,
/// mixing, Opus) in the same run: the ratio is the ledger's share.
///
/// Coverage: `callrec catalog coverage` over one month of a ledger of
/// 1,000,000 calls (a firm's four months, a call every 11.5 s; about
/// 225,000 in the month), generated straight in SQL, in SQLite and
/// PostgreSQL: the counts, the counts per day, and `--failures` (the first
/// 1000). The baseline is a bare `count(*)` of the month's rows through the
/// same index. The aim: under 1 s.
///
/// PostgreSQL: `CALLREC_BENCH_POSTGRES=postgresql://...` names a database to
/// use; otherwise a throw-away server is started (as the tests start it).
/// `CALLREC_BENCH_LEDGER_ROWS` changes the million.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, cpuMicroseconds, .mallocCountTotal],
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 2000
    )
    perCall()
    perPacket()

    let rows = ProcessInfo.processInfo.environment["CALLREC_BENCH_LEDGER_ROWS"].flatMap(Int.init) ?? 1_000_000
    let size = rows % 1_000_000 == 0 ? "\(rows / 1_000_000)M" : "\(rows)"
    let sqlite = try! GeneratedLedger.sqlite(rows: rows)
    let postgres = try! GeneratedLedger.postgres(rows: rows)
    for (store, backend) in [(sqlite, ""), (postgres, ", PostgreSQL")] {
        coverage(in: store, named: "a month of \(size) calls\(backend)")
    }
}

/// The process's CPU time in microseconds (every thread: SQLite's included).
func processCPUMicroseconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return time.tv_sec * 1_000_000 + time.tv_nsec / 1000
}

/// CPU time of the measured part of each iteration.
let cpuMicroseconds = BenchmarkMetric.custom("CPU (process, us)")

/// Runs `body` and records its CPU time as `cpuMicroseconds`.
func measuringCPU<T>(_ benchmark: Benchmark, _ body: () throws -> T) rethrows -> T {
    let start = processCPUMicroseconds()
    benchmark.startMeasurement()
    let result = try body()
    benchmark.stopMeasurement()
    benchmark.measurement(cpuMicroseconds, processCPUMicroseconds() - start)
    return result
}

/// The commit with and without its ledger row, and a row alone (SQLite, as convert and record use it by default).
func perCall() {
    let directory = FixturePaths.temporaryDirectory("ledger-bench")
    let store = try! CatalogStore(path: directory + "/catalog.sqlite")
    let counter = Counter()

    @Sendable func recording(_ n: Int) -> (CatalogRecording, [CatalogFile]) {
        let id = "20261129T0815\(String(format: "%02d", n % 60))Z-\(String(format: "%08x", n))"
        var row = CatalogRecording(
            id: id, callID: "bench-\(n)@pbx.example.com", caller: "+4681234567", callee: "+4687654321", direction: "outbound",
            start: "2026-11-29T08:15:30.120Z", startEpoch: 1_795_940_130 + Double(n), durationS: 63.4, audioPath: "2026/11/29/\(id).opus",
            indexPath: "2026/11/29/\(id).json", audioBytes: 240_000, codecs: "PCMU,PCMU", endReason: "bye")
        row.audioSHA256 = String(repeating: "a", count: 64)
        let files = ["\(id).opus", "\(id).peaks.json", "\(id).json"].enumerated().map { k, name in
            CatalogFile(recordingID: id, position: k, path: "2026/11/29/" + name, bytes: 1000 + Int64(k), sha256: String(repeating: "b", count: 64))
        }
        return (row, files)
    }

    @Sendable func entry(_ row: CatalogRecording, outcome: LedgerEntry.Outcome = .recorded) -> LedgerEntry {
        var entry = LedgerEntry(
            callID: row.callID, startEpoch: row.startEpoch, endEpoch: row.startEpoch + row.durationS, direction: row.direction,
            caller: row.caller, callee: row.callee, signalled: true, outcome: outcome, retainUntilEpoch: row.startEpoch + 63_072_000)
        entry.ruleID = 3
        entry.required = true
        if outcome == .recorded { entry.recordingID = row.id }
        return entry
    }

    Benchmark("Ledger.commit transaction, without a ledger row (baseline)") { benchmark in
        let (row, files) = recording(counter.next())
        try measuringCPU(benchmark) {
            try store.insertPending(row, files: files)
            try store.markCommitted(id: row.id)
        }
    }

    Benchmark("Ledger.commit transaction, with the call's ledger row") { benchmark in
        let (row, files) = recording(counter.next())
        let ledger = entry(row)
        try measuringCPU(benchmark) {
            _ = try store.insertPending(row, files: files) { db in
                try CatalogStore.addToLedger(db, ledger)
                return ((), [CatalogFile]())
            }
            try store.markCommitted(id: row.id)
        }
    }

    Benchmark("Ledger.row of a call without a recording, its own transaction") { benchmark in
        let ledger = entry(recording(counter.next()).0, outcome: .notAnswered)
        try measuringCPU(benchmark) { try store.addToLedger(ledger) }
    }
}

/// The ledger's share of the per-packet path: a 60 s two-leg PCMU call
/// (6000 RTP packets) through `CaptureProcessor`, and the legs' media spans
/// over the same 6000 arrival times.
func perPacket() {
    let directory = FixturePaths.temporaryDirectory("ledger-packets")
    var call = SyntheticCall()
    call.duration = 60
    call.seed = 42
    let path = directory + "/call-60s.pcap"
    FileManager.default.createFile(atPath: path, contents: Data(call.build().pcap))
    // The RTP packets' arrival times and senders, in capture order, read once.
    var arrivals: [(time: MediaTime, leg: Int)] = []
    let slicer = PacketSlicer(diagnostics: Diagnostics())
    try! CaptureSource(path: path).forEachPacket { packet in
        guard let datagram = slicer.slice(packet), datagram.payload.count > 12, datagram.source.port != 5060 else { return }
        arrivals.append((packet.timestamp, datagram.source == call.callerMedia ? 0 : 1))
    }
    precondition(arrivals.count == 6000, "\(arrivals.count) RTP packets")
    let packets = arrivals  // a constant, for the benchmarks' sendable closures

    Benchmark("Ledger.per packet: a 60 s call's 6000 packets through CaptureProcessor (the whole path, baseline)") { benchmark in
        let diagnostics = Diagnostics()
        let processor = CaptureProcessor(options: ConvertOptions(outputDirectory: directory + "/out"), diagnostics: diagnostics) { _ in }
        let source = try CaptureSource(path: path)
        try measuringCPU(benchmark) {
            try source.forEachPacket { try processor.process($0) }
            try processor.finish()
        }
        precondition(diagnostics[.rtpPackets] == 6000)
    }

    Benchmark("Ledger.per packet: the legs' media spans over the same 6000 packets (what the ledger adds)") { benchmark in
        var caller: MediaSpan? = nil
        var callee: MediaSpan? = nil
        measuringCPU(benchmark) {
            for arrival in packets {
                // As CallSession.receive keeps them, per leg.
                if arrival.leg == 0 {
                    if caller == nil { caller = MediaSpan(at: arrival.time) } else { caller!.extend(to: arrival.time) }
                } else {
                    if callee == nil { callee = MediaSpan(at: arrival.time) } else { callee!.extend(to: arrival.time) }
                }
            }
        }
        blackHole(caller)
        blackHole(callee)
    }
}

/// `catalog coverage` over one month of the generated ledger (March 2026).
func coverage(in store: CatalogStore, named suffix: String) {
    let admin = CatalogActor.operator("bench")
    let month = CoverageQuery(from: GeneratedLedger.monthFrom, to: GeneratedLedger.monthTo)
    let expected = GeneratedLedger.callsIn(from: GeneratedLedger.monthFrom, to: GeneratedLedger.monthTo)
    let configuration = Benchmark.Configuration(warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 50)

    Benchmark("Ledger.coverage \(suffix)", configuration: configuration) { benchmark in
        let report = try measuringCPU(benchmark) { try store.coverage(month, by: admin, at: 0) }
        precondition(report.total.seen == expected, "\(report.total.seen) calls, not \(expected)")
    }
    Benchmark("Ledger.coverage --by day, \(suffix)", configuration: configuration) { benchmark in
        var query = month
        query.by = .day
        let report = try measuringCPU(benchmark) { try store.coverage(query, by: admin, at: 0) }
        precondition(report.groups.count == 31 && report.total.seen == expected, "\(report.groups.count) days")
    }
    Benchmark("Ledger.coverage --failures (first 1000), \(suffix)", configuration: configuration) { benchmark in
        let failures = try measuringCPU(benchmark) { try store.coverageFailures(month, limit: 1000, by: admin, at: 0) }
        precondition(failures.count == 1000)
    }
    Benchmark("Ledger.count(*) of the month (baseline), \(suffix)", configuration: configuration) { benchmark in
        let n = try measuringCPU(benchmark) {
            try store.read { db in
                try db.scalar(
                    Int.self, sql: "SELECT count(*) FROM call_ledger WHERE start_epoch >= ? AND start_epoch < ?",
                    arguments: [GeneratedLedger.monthFrom, GeneratedLedger.monthTo])
            }
        }
        precondition(n == expected)
    }
}

/// Numbers for recording ids, unique across the run.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 1_000_000
    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// A ledger of generated calls, inserted by one SQL statement: call `i`
/// starts at 2026-01-01 + 11.5 i s; every third is required (a desk's rule);
/// one in 50 unanswered, one in 97 skipped by a rule, one in 211 dropped, one
/// in 401 SRTP without keys, the rest recorded, one in 13 of those one-sided,
/// one in 17 with gaps, one in 29 cut.
enum GeneratedLedger {
    static let firstStart: Double = 1_767_225_600  // 2026-01-01T00:00:00Z
    static let monthFrom: Double = 1_772_323_200  // 2026-03-01T00:00:00Z
    static let monthTo: Double = 1_775_001_600  // 2026-04-01T00:00:00Z

    /// How many generated calls start in [from, to).
    static func callsIn(from: Double, to: Double) -> Int {
        let first = Int(((from - firstStart) / 11.5).rounded(.up))
        let last = Int(((to - firstStart) / 11.5).rounded(.up))
        return last - first
    }

    static func insert(_ store: CatalogStore, rows: Int) throws {
        let postgres = store.dialect.kind != .sqlite
        let key = postgres ? "'g' || lpad(i::text, 9, '0')" : "printf('g%09d', i)"
        let outcome = """
            CASE WHEN i % 50 = 0 THEN 'not_answered' WHEN i % 97 = 0 THEN 'skipped_by_rule' WHEN i % 211 = 0 THEN 'dropped' \
            WHEN i % 401 = 0 THEN 'encrypted_no_key' ELSE 'recorded' END
            """
        let recorded = "(i % 50 <> 0 AND i % 97 <> 0 AND i % 211 <> 0 AND i % 401 <> 0)"
        let select = """
            SELECT \(key), \(firstStart) + i * 11.5, \(firstStart) + i * 11.5 + 30 + i % 600, \
            CASE i % 4 WHEN 0 THEN 'inbound' WHEN 1 THEN 'outbound' WHEN 2 THEN 'internal' ELSE 'unknown' END, \
            CASE WHEN i % 97 = 0 THEN NULL ELSE '+46' || (700000000 + i) END, CASE WHEN i % 97 = 0 THEN NULL ELSE '+468' || (10000000 + i % 5000) END, \
            1, \(outcome), CASE WHEN i % 50 <> 0 AND i % 97 <> 0 AND i % 211 = 0 THEN 'max-calls: 10000 calls in flight' ELSE NULL END, \
            CASE WHEN i % 3 = 0 THEN 2 ELSE 1 END, CASE WHEN i % 3 = 0 AND i % 50 <> 0 AND i % 97 <> 0 THEN 1 ELSE 0 END, \
            CASE WHEN \(recorded) THEN 'G' || i ELSE NULL END, \
            CASE WHEN \(recorded) AND i % 13 <> 0 AND i % 17 <> 0 AND i % 29 <> 0 THEN 1 ELSE 0 END, \
            CASE WHEN \(recorded) AND i % 13 = 0 THEN 1 ELSE 0 END, CASE WHEN \(recorded) AND i % 17 = 0 THEN 4.5 ELSE 0 END, \
            CASE WHEN \(recorded) AND i % 29 = 0 THEN 1 ELSE 0 END, \(firstStart) + i * 11.5 + 63072000
            """
        let columns = """
            call_ledger (call_key, start_epoch, end_epoch, direction, caller, callee, signalled, outcome, detail, rule_id, required, \
            recording_id, complete, one_sided, gaps_s, cut, retain_until_epoch)
            """
        try store.write { db in
            if postgres {
                try db.execute(sql: "INSERT INTO \(columns) \(select) FROM generate_series(0, \(rows - 1)) AS i")
                try db.execute(sql: "ANALYZE call_ledger")
            } else {
                try db.execute(
                    sql: "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < \(rows - 1)) "
                        + "INSERT INTO \(columns) \(select) FROM n")
                try db.execute(sql: "ANALYZE")
            }
        }
    }

    /// The SQLite ledger, made once and kept in the temporary folder between runs.
    static func sqlite(rows: Int) throws -> CatalogStore {
        let folder = NSTemporaryDirectory() + "callrec-bench-ledger-v1-\(rows)"
        let done = folder + "/complete"
        if FileManager.default.fileExists(atPath: done) { return try CatalogStore(path: folder + "/catalog.sqlite") }
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try CatalogStore(path: folder + "/catalog.sqlite")
        let began = Date()
        try insert(store, rows: rows)
        print("generated a ledger of \(rows) calls in SQLite in \(String(format: "%.1f", Date().timeIntervalSince(began))) s")
        FileManager.default.createFile(atPath: done, contents: Data())
        return store
    }

    /// The PostgreSQL ledger: the database `CALLREC_BENCH_POSTGRES` names, or a new one on a throw-away server.
    static func postgres(rows: Int) throws -> CatalogStore {
        let folder = FixturePaths.temporaryDirectory("bench-ledger-postgres")
        let url = try ProcessInfo.processInfo.environment["CALLREC_BENCH_POSTGRES"] ?? PostgresServer.shared().freshDatabase()
        let store = try CatalogStore.open(url, folder: folder, storage: "bench")
        if try store.ledgerCount() == rows { return store }
        try store.write { db in try db.execute(sql: "TRUNCATE call_ledger") }
        let began = Date()
        try insert(store, rows: rows)
        print("generated a ledger of \(rows) calls in PostgreSQL in \(String(format: "%.1f", Date().timeIntervalSince(began))) s")
        return store
    }
}
