import Benchmark
import CallMedia
import CallrecCore
import CallrecTestSupport
import Foundation
import LiveRecorder
import Throughput

/// The live recorder's sustained throughput at its default settings (one
/// worker per core): a generated capture of 50 calls at once for 60 s
/// (calls of 20-40 s, PCMU, speech-like audio, new calls starting all the
/// time) read from a file as fast as the recorder takes it, every call
/// written and catalogued.
///
/// Reported beside the time: calls per core (call-seconds recorded per CPU
/// second, all threads), the same for Opus encoding alone of a two-party
/// 8 kHz call at the same settings measured in the same run, and the ratio
/// of the two: how much of the recorder's cost is the encoding it cannot
/// avoid.
let benchmarks: @Sendable () -> Void = {
    let callsPerCore = BenchmarkMetric.custom("calls per core", polarity: .prefersLarger, useScalingFactor: false)
    let opusPerCore = BenchmarkMetric.custom("Opus alone: calls per core", polarity: .prefersLarger, useScalingFactor: false)
    let ratio = BenchmarkMetric.custom("record / Opus alone (%)", polarity: .prefersLarger, useScalingFactor: false)
    let realTime = BenchmarkMetric.custom("calls in real time (this machine)", polarity: .prefersLarger, useScalingFactor: false)
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, callsPerCore, opusPerCore, ratio, realTime],
        warmupIterations: 0,
        scalingFactor: .one,
        maxDuration: .seconds(300),
        maxIterations: 3
    )

    let directory = FixturePaths.temporaryDirectory("bench-record")
    var traffic = TrafficGenerator(concurrentCalls: 50, duration: 60, seed: 3)
    traffic.callLength = 20...40
    let capture = directory + "/traffic.pcap"
    _ = FileManager.default.createFile(atPath: capture, contents: nil)
    let file = FileHandle(forWritingAtPath: capture)!
    let generated = traffic.generate { file.write(Data($0)) }
    try? file.close()

    /// CPU seconds this process has used, every thread.
    func processCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    Benchmark("Record.50 calls at once for 60 s, default settings (\(ProcessInfo.processInfo.activeProcessorCount) workers)") { benchmark in
        // The baseline, in the same run: two minute-long calls through the Ogg Opus writer alone.
        let encode = ThroughputBench.encodingUnit(rate: 8000)
        // Thread CPU time: the baseline runs on one thread.
        let before = threadCPUSeconds()
        for _ in 0..<2 { try encode() }
        let opus = 120 / (threadCPUSeconds() - before)

        let out = directory + "/out-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out))
        settings.statusInterval = 0
        let recorder = try Recorder(settings: settings, input: .file(capture), events: .init(call: { _ in }, message: { _ in }))
        let cpu = processCPU()
        let wall = Date()
        benchmark.startMeasurement()
        let summary = recorder.run()
        benchmark.stopMeasurement()
        let used = processCPU() - cpu
        let elapsed = Date().timeIntervalSince(wall)
        precondition(summary.recorded == generated.calls, "every call must be recorded: \(summary.recorded) of \(generated.calls)")
        let perCore = generated.callSeconds / used
        benchmark.measurement(callsPerCore, Int(perCore.rounded()))
        benchmark.measurement(opusPerCore, Int(opus.rounded()))
        benchmark.measurement(ratio, Int((100 * perCore / opus).rounded()))
        benchmark.measurement(realTime, Int((generated.callSeconds / elapsed).rounded()))
    }
}
