import Benchmark
import CallrecCore
import CallrecTestSupport
import Foundation
import Pipeline

/// End-to-end conversion: a generated 60 s two-leg PCMU call (3000 RTP
/// packets per leg) from capture file to committed Ogg Opus + index +
/// catalog row. The unit of work is one call of 60 s, so
/// `60 / wall time` is the real-time factor per core.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    var call = SyntheticCall()
    call.duration = 60
    call.seed = 42
    let capture = call.build().pcap
    let directory = NSTemporaryDirectory() + "callrec-bench-\(getpid())"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/call-60s.pcap"
    FileManager.default.createFile(atPath: path, contents: Data(capture))

    Benchmark("Convert.call 60s PCMU 2 legs") { benchmark in
        let output = directory + "/out"
        let converter = try Converter(options: ConvertOptions(outputDirectory: output))
        benchmark.startMeasurement()
        let result = converter.convert(path: path, diagnostics: Diagnostics())
        benchmark.stopMeasurement()
        precondition(result.recordings.count == 1, "the benchmark call must convert")
        blackHole(result)
    }
}
