import Benchmark
import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import Foundation

/// `convert --jobs`: a generated capture of 50 calls (50 lines at once,
/// 20-30 s each, PCMU, speech-like audio) converted with one job and with
/// two, in the same iteration, each into a fresh folder and catalog: every
/// call written, indexed, signed and catalogued.
///
/// The measured time is the two-job run's. Beside it, from the same
/// iteration: the one-job run's wall time, the speed-up (one job's wall time
/// over two jobs', x100), and the CPU time per call of each (all threads of
/// the process) and their ratio: what the hand-off to the workers costs.
/// The order of the two runs alternates between iterations, so neither
/// always finds the caches warm.
let benchmarks: @Sendable () -> Void = {
    let oneJobWall = BenchmarkMetric.custom("1 job: wall time (ms)", polarity: .prefersSmaller, useScalingFactor: false)
    let speedUp = BenchmarkMetric.custom("speed-up, 1 job / 2 jobs wall time (x100)", polarity: .prefersLarger, useScalingFactor: false)
    let cpuOne = BenchmarkMetric.custom("1 job: CPU per call (ms)", polarity: .prefersSmaller, useScalingFactor: false)
    let cpuTwo = BenchmarkMetric.custom("2 jobs: CPU per call (ms)", polarity: .prefersSmaller, useScalingFactor: false)
    let cpuRatio = BenchmarkMetric.custom("CPU per call, 2 jobs / 1 job (%)", polarity: .prefersSmaller, useScalingFactor: false)
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .peakMemoryResident, oneJobWall, speedUp, cpuOne, cpuTwo, cpuRatio],
        warmupIterations: 0,
        scalingFactor: .one,
        maxDuration: .seconds(600),
        maxIterations: 4
    )

    let directory = FixturePaths.temporaryDirectory("bench-convert-jobs")
    // 50 lines, one call each: every call fits in 34 s (start within 1 s, ringing up to 2 s,
    // 30 s of media), and no second one does.
    var traffic = TrafficGenerator(concurrentCalls: 50, duration: 34, seed: 50)
    traffic.callLength = 20...30
    let capture = directory + "/50-calls.pcap"
    _ = FileManager.default.createFile(atPath: capture, contents: nil)
    let file = FileHandle(forWritingAtPath: capture)!
    let generated = traffic.generate { file.write(Data($0)) }
    try? file.close()
    precondition(generated.calls == 50, "the capture must hold 50 calls, not \(generated.calls)")

    /// CPU seconds this process has used, every thread.
    func processCPU() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// Converts the capture with `jobs` workers into a fresh folder; wall and CPU seconds.
    func convert(jobs: Int, measured benchmark: Benchmark? = nil) throws -> (wall: Double, cpu: Double) {
        let out = directory + "/out-\(jobs)-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let converter = try Converter(options: ConvertOptions(outputDirectory: out), jobs: jobs)
        let cpu = processCPU()
        let wall = monotonicSeconds()
        benchmark?.startMeasurement()
        let result = converter.convert(path: capture, diagnostics: Diagnostics())
        benchmark?.stopMeasurement()
        let times = (wall: monotonicSeconds() - wall, cpu: processCPU() - cpu)
        precondition(result.error == nil && result.recordings.count == generated.calls, "every call must be recorded")
        return times
    }

    var iteration = 0
    Benchmark("ConvertJobs.50 calls, 2 jobs against 1 (\(ProcessInfo.processInfo.activeProcessorCount) cores)") { benchmark in
        iteration += 1
        let one: (wall: Double, cpu: Double), two: (wall: Double, cpu: Double)
        if iteration % 2 == 1 {
            one = try convert(jobs: 1)
            two = try convert(jobs: 2, measured: benchmark)
        } else {
            two = try convert(jobs: 2, measured: benchmark)
            one = try convert(jobs: 1)
        }
        let calls = Double(generated.calls)
        benchmark.measurement(oneJobWall, Int((one.wall * 1000).rounded()))
        benchmark.measurement(speedUp, Int((100 * one.wall / two.wall).rounded()))
        benchmark.measurement(cpuOne, Int((one.cpu / calls * 1000).rounded()))
        benchmark.measurement(cpuTwo, Int((two.cpu / calls * 1000).rounded()))
        benchmark.measurement(cpuRatio, Int((100 * two.cpu / one.cpu).rounded()))
    }
}
