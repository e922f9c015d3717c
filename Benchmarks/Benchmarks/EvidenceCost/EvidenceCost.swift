import Benchmark
import CallrecTestSupport
import Catalog
import Evidence
import Foundation
import Output

/// What evidence costs (issue 15, item 7).
///
/// The commit: the catalog transaction that enters a recording's row and
/// files as today (the baseline, measured in the same run), against the same
/// transaction with the recording's manifest made, signed (Ed25519) and
/// chained in it, and the manifest's two files written, synced and renamed.
/// The difference is what signing and chaining add to each committed
/// recording; the aim is at most 1 ms of CPU.
///
/// Verify: `catalog verify --chain-only` over the chains of 100,000
/// recordings (every manifest's signature checked, every recording against
/// its manifest, the audit chain walked), without reading any recording's
/// files; the aim is under 10 s.
/// The process's CPU time in microseconds (every thread: SQLite's included).
/// package-benchmark's own `.cpuTotal` counts in the kernel's 10 ms ticks,
/// too coarse for one commit; `CLOCK_PROCESS_CPUTIME_ID` counts nanoseconds.
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

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, cpuMicroseconds, .mallocCountTotal],
        warmupIterations: 5,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 2000
    )

    let directory = FixturePaths.temporaryDirectory("evidence-bench")
    let store = try! CatalogStore(path: directory + "/catalog.sqlite")
    let identity = try! RecorderIdentity.open(keyPath: nil, outputDirectory: directory)
    try! identity.register(in: store, label: "bench:/evidence", by: .operator("bench"), at: 0)
    let signer = ManifestSigner(identity: identity)
    let counter = Counter()

    /// A recording's row and its three files, as the commit enters them.
    @Sendable func recording(_ n: Int) -> (CatalogRecording, [CatalogFile]) {
        let id = "20261129T0815\(String(format: "%02d", n % 60))Z-\(String(format: "%08x", n))"
        var row = CatalogRecording(
            id: id, callID: "bench-\(n)@pbx.example.com", caller: "+4681234567", callee: "+4687654321", direction: "outbound",
            start: "2026-11-29T08:15:30.120Z", startEpoch: 1_795_940_130, durationS: 63.4, audioPath: "2026/11/29/\(id).opus",
            indexPath: "2026/11/29/\(id).json", audioBytes: 240_000, codecs: "PCMU,PCMU", endReason: "bye")
        row.audioSHA256 = String(repeating: "a", count: 64)
        let files = ["\(id).opus", "\(id).peaks.json", "\(id).json"].enumerated().map { k, name in
            CatalogFile(recordingID: id, position: k, path: "2026/11/29/" + name, bytes: 1000 + Int64(k), sha256: String(repeating: "b", count: 64))
        }
        return (row, files)
    }

    @Sendable func manifest(_ row: CatalogRecording, _ files: [CatalogFile]) -> RecordingManifest {
        RecordingManifest(
            recording: row.id, callID: row.callID, caller: row.caller, callee: row.callee, direction: row.direction, start: row.start,
            end: "2026-11-29T08:16:33.520Z",
            files: files.map { .init(name: String($0.path.split(separator: "/").last!), bytes: $0.bytes, sha256: $0.sha256 ?? "") },
            capture: .file(path: "/srv/captures/mirror.pcap", bytes: 1 << 30, sha256: String(repeating: "c", count: 64), packets: 1...6400),
            audio: .init(format: "opus", channels: "stereo", sampleRate: 8000, bitrate: 32000, complexity: 5, opusStreams: "separate"),
            callrecVersion: "0.2.0", recorder: identity.id)
    }

    Benchmark("Evidence.commit transaction, unsigned (baseline)") { benchmark in
        let (row, files) = recording(counter.next())
        try measuringCPU(benchmark) {
            try store.insertPending(row, files: files)
            try store.markCommitted(id: row.id)
        }
    }

    Benchmark("Evidence.commit transaction, manifest signed and chained") { benchmark in
        let (row, files) = recording(counter.next())
        let record = try measuringCPU(benchmark) {
            let record = try store.insertPending(row, files: files) { db in (try signer.chain(manifest(row, files), in: db), [CatalogFile]()) }
            try store.markCommitted(id: row.id)
            return record
        }
        blackHole(record)
    }

    // The manifest's two files, as the commit writes them: written, synced, renamed. Their folder
    // is synced by the call index's rename after them, which the commit did before manifests.
    let folder = directory + "/files"
    try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let body = manifest(recording(0).0, recording(0).1).bytes
    let signature = try! identity.key.signature(for: body)
    Benchmark("Evidence.manifest files written, synced and renamed") { benchmark in
        let n = counter.next()
        try measuringCPU(benchmark) {
            for (name, bytes) in [("\(n).manifest.json", body), ("\(n).manifest.sig", signature)] {
                let file = try AtomicFile(directory: folder, name: name)
                try file.write(bytes)
                try file.sync()
                try file.publish(replacing: false, syncingFolder: false)
            }
        }
    }

    // catalog verify --chain-only over 100,000 recordings' chains.
    let large = 100_000
    let big = LargeCatalog(directory: FixturePaths.temporaryDirectory("evidence-bench-100k"), count: large, recording: recording, manifest: manifest)
    Benchmark(
        "Evidence.verify the chains of 100k recordings (no file read)",
        configuration: .init(metrics: [.wallClock, cpuMicroseconds, .peakMemoryResident], warmupIterations: 0, maxIterations: 3),
        closure: { benchmark in
            let (catalog, _) = try big.open()
            let report = try measuringCPU(benchmark) { try EvidenceVerifier(catalog: catalog).verify() }
            precondition(report.isClean && report.manifests == large && report.signaturesChecked == large, "\(report.findings.prefix(3))")
        }, setup: { _ = try big.open() })
}

/// Numbers for recording ids, unique across the run.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 1_000_000
    func next() -> Int { lock.withLock { value += 1; return value } }
}

/// A catalog of `count` recordings, each with its files and a signed
/// manifest in one recorder's chain, made once.
final class LargeCatalog: @unchecked Sendable {
    let directory: String
    let count: Int
    let recording: @Sendable (Int) -> (CatalogRecording, [CatalogFile])
    let manifest: @Sendable (CatalogRecording, [CatalogFile]) -> RecordingManifest
    private let lock = NSLock()
    private var made: (CatalogStore, RecorderIdentity)?

    init(
        directory: String, count: Int, recording: @escaping @Sendable (Int) -> (CatalogRecording, [CatalogFile]),
        manifest: @escaping @Sendable (CatalogRecording, [CatalogFile]) -> RecordingManifest
    ) {
        self.directory = directory
        self.count = count
        self.recording = recording
        self.manifest = manifest
    }

    func open() throws -> (CatalogStore, RecorderIdentity) {
        try lock.withLock {
            if let made { return made }
            let store = try CatalogStore(path: directory + "/catalog.sqlite")
            let identity = try RecorderIdentity.open(keyPath: nil, outputDirectory: directory)
            try identity.register(in: store, label: "bench:/large", by: .operator("bench"), at: 0)
            let signer = ManifestSigner(identity: identity)
            for chunk in stride(from: 0, to: count, by: 10_000) {
                let rows = (chunk..<min(count, chunk + 10_000)).map(recording)
                try store.insert(rows.map(\.0))
                try store.write { db in
                    try db.insertInBatches(
                        into: "recording_files", columns: ["recording_id", "position", "path", "bytes", "sha256"],
                        rows: rows.flatMap { $0.1 }.map { [.text($0.recordingID), .integer(Int64($0.position)), .text($0.path), .integer($0.bytes), .text($0.sha256!)] },
                        maxArguments: 30_000)
                    for (row, files) in rows {
                        var m = manifest(row, files)
                        m.recorder = identity.id
                        _ = try signer.chain(m, in: db)
                    }
                }
            }
            made = (store, identity)
            return (store, identity)
        }
    }
}
