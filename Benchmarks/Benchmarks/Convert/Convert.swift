import Benchmark
import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import Foundation

/// End-to-end conversion of generated two-leg PCMU calls, from capture file
/// to committed Ogg Opus + index + catalog row. The unit of work is one
/// call, so `call seconds / wall time` is the real-time factor per core.
///
/// The 60 s and 240 s calls differ only in length. The 240 s call has 24,000
/// more packets and ~1,700 more mallocs: those come from the index, which
/// lists every talk spurt (93 more, ~18 mallocs each to build, encode as
/// JSON and file in the catalog), not from the per-packet path, which
/// allocates nothing in steady state.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No peakMemoryResident here: its sampling thread allocates while the call runs,
        // which would blur the malloc counts this suite is about.
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 20,
        // Time varies with the shared machine; mallocs must not (a per-packet allocation would
        // add thousands). Checked against Thresholds/ (p90) by `make bench-check`.
        thresholds: [.mallocCountTotal: .init(relative: [.p50: 5.0, .p90: 5.0], absolute: [.p50: 50, .p90: 50])]
    )

    let directory = FixturePaths.temporaryDirectory("convert")
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

    /// Writes a generated call to a capture file once and returns its path.
    func capture(seconds: Double, impaired: Bool) -> String {
        var call = SyntheticCall()
        call.duration = seconds
        call.seed = 42
        if impaired {
            var impairments = LegImpairments()
            impairments.jitter = 0.03
            impairments.lossRate = 0.01
            impairments.reorderRate = 0.02
            impairments.clockDrift = 0.0005
            call.callerImpairments = impairments
            call.calleeImpairments = impairments
        }
        let path = directory + "/call-\(Int(seconds))s\(impaired ? "-impaired" : "").pcap"
        FileManager.default.createFile(atPath: path, contents: Data(call.build().pcap))
        return path
    }

    for (seconds, impaired) in [(60.0, false), (240.0, false), (60.0, true)] {
        let path = capture(seconds: seconds, impaired: impaired)
        let name = "Convert.call \(Int(seconds))s PCMU 2 legs\(impaired ? " (jitter, loss, reorder, drift)" : "")"
        Benchmark(name) { benchmark in
            // A fresh output folder and catalog each time, so every iteration does the same work.
            let output = directory + "/out-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let converter = try Converter(options: ConvertOptions(outputDirectory: output))
            benchmark.startMeasurement()
            let result = converter.convert(path: path, diagnostics: Diagnostics())
            benchmark.stopMeasurement()
            precondition(result.recordings.count == 1, "the benchmark call must convert")
            blackHole(result)
        }
    }
}
