import Benchmark
import Catalog
import Foundation

/// Finding calls in a catalog of 1,000,000 generated recordings (one year of
/// a 2,700-calls-a-day firm). The unit of work is one `find` as
/// `callrec catalog find` runs it: the query, and the rows read back. The
/// baseline, measured in the same run, is a filter no index serves (talk
/// time), which must read every row.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 2,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 200
    )

    let rows = 1_000_000
    let store = try! GeneratedCatalog.open(rows: rows)
    let admin = CatalogActor.operator("bench")
    let probe = rows / 2 + 12_345

    func find(
        _ name: String, as actor: CatalogActor = admin, expecting: ClosedRange<Int>, _ edit: @escaping (inout RecordingQuery) -> Void
    ) {
        Benchmark("Catalog.find \(name) among 1M") { benchmark in
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

/// The generated catalog, made once and kept in the temporary folder between runs.
enum GeneratedCatalog {
    static let firstStart: Double = 1_767_225_600  // 2026-01-01T00:00:00Z

    static func caller(_ i: Int) -> String { "+46" + String(700_000_000 + i) }
    static func callee(_ i: Int) -> String { "+468" + String(10_000_000 + i % 5_000) }
    static func callID(_ i: Int) -> String { "\(i)-\(i &* 2_654_435_761 % 1_000_003)@pbx.example.com" }
    /// Calls 11.5 s apart on average: a million calls over about four months.
    static func start(_ i: Int) -> Double { firstStart + Double(i) * 11.5 }

    static func open(rows: Int) throws -> CatalogStore {
        let folder = NSTemporaryDirectory() + "callrec-bench-catalog-v3-\(rows)"
        let done = folder + "/complete"
        if FileManager.default.fileExists(atPath: done) { return try CatalogStore(path: folder + "/catalog.sqlite") }
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let store = try CatalogStore(path: folder + "/catalog.sqlite")
        let directions = ["inbound", "outbound", "internal", "unknown"]
        var i = 0
        while i < rows {
            let end = min(i + 50_000, rows)
            try store.insert((i..<end).map { k in
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
            })
            i = end
        }
        FileManager.default.createFile(atPath: done, contents: Data())
        return store
    }
}
