import Foundation

/// Feeds generated traffic (`TrafficGenerator`) through a pipe into a
/// running `callrec record -`, as fast as it takes it, while sampling the
/// recorder's resident memory; then checks what it wrote: a JSON line and a
/// committed recording for every call, the lines in order, no temporary
/// file left, and `catalog verify` finding the catalog and the files in
/// agreement. The soak test (short) and `make soak` (an hour) both run it.
public enum SoakRun {
    /// What one run saw.
    public struct Report: Sendable {
        /// What the generator wrote.
        public var generated: TrafficGenerator.Summary
        /// The recorder's exit status, and what it printed on stderr.
        public var status: Int32
        public var stderr: String
        /// JSON lines by outcome, and whether their `seq` ran 1, 2, 3, ... in order.
        public var outcomes: [String: Int]
        public var inOrder: Bool
        /// Final audio files, temporary files and call indexes left in the output folder.
        public var audioFiles: Int
        public var temporaryFiles: Int
        /// What `callrec catalog verify` printed, and its status.
        public var verify: String
        public var verifyStatus: Int32
        /// Wall-clock seconds from the first byte to the recorder's exit.
        public var wallSeconds: Double
        /// CPU seconds the recorder used (all its threads).
        public var cpuSeconds: Double
        /// Resident memory samples: (seconds since start, bytes).
        public var rss: [(Double, Int)]
        /// Paced runs: seconds of traffic (the overload's end, from the start), and
        /// how far behind its schedule the feeder's writes were held back, at most and at its last write.
        public var paced = false
        public var trafficSeconds = 0.0
        public var feederLagMax = 0.0
        public var feederLagEnd = 0.0
        /// Seconds from the start at which the last call's line arrived.
        public var lastCallLineAt = 0.0
        /// The overload steps the recorder printed (`{"overload": ...}`), each with the seconds from the start it arrived at.
        public var overloadSteps: [(at: Double, event: String, from: Int, to: Int, behind: Double)] = []

        /// Calls written (outcome `recorded`).
        public var recorded: Int { outcomes["recorded", default: 0] }

        /// The median resident size over a span of the run (fractions 0...1 of its samples).
        public func medianRSS(from: Double, to: Double) -> Int {
            let values = rss.dropFirst(Int(Double(rss.count) * from)).prefix(max(1, Int(Double(rss.count) * (to - from))))
                .map(\.1).sorted()
            return values.isEmpty ? 0 : values[values.count / 2]
        }

        /// The growth of resident memory from the second quarter of the run to its last quarter, as a fraction.
        public var rssGrowth: Double {
            let early = medianRSS(from: 0.25, to: 0.5)
            let late = medianRSS(from: 0.75, to: 1.0)
            return early > 0 ? Double(late - early) / Double(early) : 0
        }

        /// The largest resident size seen.
        public var peakRSS: Int { rss.map(\.1).max() ?? 0 }

        /// The largest resident size in the first and the second half of the traffic (a paced run's overload).
        public var peakRSSHalves: (first: Int, second: Int) {
            let half = trafficSeconds / 2
            return (
                rss.filter { $0.0 < half }.map(\.1).max() ?? 0, rss.filter { $0.0 >= half && $0.0 <= trafficSeconds }.map(\.1).max() ?? 0
            )
        }

        /// Seconds after the traffic ended (a paced run: the overload) until the last call was written.
        public var backlogSeconds: Double { max(0, lastCallLineAt - trafficSeconds) }

        /// A paced run's lines: the feeder, the steps, memory over time, the backlog.
        public var pacedSummary: String {
            var lines = [
                "paced: \(Int(trafficSeconds)) s of traffic at its capture times; the feeder was held back by the pipe up to "
                    + "\(String(format: "%.1f", feederLagMax)) s, \(String(format: "%.1f", feederLagEnd)) s at its last write",
                "backlog: the last call written \(String(format: "%.1f", lastCallLineAt)) s after the start, "
                    + "\(String(format: "%.1f", backlogSeconds)) s after the traffic ended",
            ]
            let steps = overloadSteps.map {
                "\(String(format: "%.0f", $0.at)) s \($0.event) \($0.from)->\($0.to) (\(String(format: "%.1f", $0.behind)) s behind)"
            }
            lines.append("overload steps (\(overloadSteps.count)): " + (steps.isEmpty ? "none" : steps.joined(separator: ", ")))
            var series: [String] = []
            var next = 0.0
            for (at, bytes) in rss where at >= next {
                series.append("\(Int(at)) s \(bytes / 1_000_000) MB")
                next = (at / 30).rounded(.down) * 30 + 30
            }
            let halves = peakRSSHalves
            lines.append(
                "memory over time: " + series.joined(separator: ", ") + "; peak in the traffic's first half \(halves.first / 1_000_000) MB, "
                    + "second half \(halves.second / 1_000_000) MB")
            return lines.joined(separator: "\n")
        }

        /// Concurrent calls the recorder kept up with in real time, and per CPU second.
        public var callsSustained: Double { generated.callSeconds / wallSeconds }
        public var callsPerCore: Double { generated.callSeconds / max(cpuSeconds, 0.001) }

        /// A few lines for a person.
        public var summary: String {
            """
            generated: \(generated.calls) calls, \(generated.peakConcurrent) at once at most, \(Int(generated.callSeconds)) call-seconds, \
            \(generated.packets) packets, \(generated.bytes / 1_000_000) MB
            recorder: exit \(status), \(String(format: "%.1f", wallSeconds)) s wall, \(String(format: "%.1f", cpuSeconds)) s CPU; \
            lines \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), in order: \(inOrder)
            output: \(audioFiles) audio files, \(temporaryFiles) temporary files; verify (exit \(verifyStatus)): \
            \(verify.split(separator: "\n").last.map(String.init) ?? "")
            speed: \(String(format: "%.0f", callsSustained)) calls in real time on this machine, \
            \(String(format: "%.0f", callsPerCore)) calls per core (call-seconds per CPU second)
            memory: peak \(peakRSS / 1_000_000) MB, median \(medianRSS(from: 0.25, to: 0.5) / 1_000_000) MB in the second quarter, \
            \(medianRSS(from: 0.75, to: 1.0) / 1_000_000) MB in the last (\(String(format: "%+.1f", rssGrowth * 100)) %)
            """
        }
    }

    /// Runs `callrec record - --out output arguments...` on `traffic`.
    /// - Parameters:
    ///   - callrec: the binary.
    ///   - sampleInterval: seconds between two memory samples.
    ///   - progress: told of each memory sample (seconds, bytes), for long runs.
    ///   - pace: write each packet once the wall clock reaches its capture time (from the first), as a
    ///     live link delivers it; a recorder that falls behind holds the writer back (the pipe fills).
    ///   - tail: seconds the input stays open, silent, after the traffic (a quiet tail).
    public static func run(
        callrec: String, traffic: TrafficGenerator, output: String, arguments: [String] = [], sampleInterval: Double = 0.5,
        pace: Bool = false, tail: Double = 0, progress: (@Sendable (Double, Int) -> Void)? = nil
    ) throws -> Report {
        let began = Date()
        // As fast as it takes it, the run measures what the configured complexity sustains: the overload
        // control stays off (it would lower the complexity as soon as the recorder runs slower than real time).
        // Paced, it is what is measured.
        let control = pace ? [] : ["--overload-lag", "0"]
        let recorder = try RecorderProcess(["--out", output, "--status-interval", "0"] + control + arguments, binary: callrec)
        let pid = recorder.pid
        let samples = Samples()
        let sampling = DispatchGroup()
        DispatchQueue.global().async(group: sampling) {
            while recorder.process.isRunning {
                if let rss = residentBytes(pid: pid) {
                    let at = Date().timeIntervalSince(began)
                    samples.add(at, rss, cpuSeconds(pid: pid))
                    progress?(at, rss)
                }
                Thread.sleep(forTimeInterval: sampleInterval)
            }
        }
        // As fast as the recorder takes it, or at the capture times: each write waits while the pipe is full.
        var writeError: (any Error)? = nil
        var lagMax = 0.0
        var lagEnd = 0.0
        let generated = traffic.generate(chunkBytes: pace ? 64 << 10 : 1 << 20, chunkSeconds: pace ? 0.02 : .infinity) { chunk, at in
            guard writeError == nil else { return }
            if pace {
                let wait = at - Date().timeIntervalSince(began)
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            }
            do {
                try recorder.write(chunk)
            } catch {
                writeError = error
            }
            if pace {
                lagEnd = max(0, Date().timeIntervalSince(began) - at)
                lagMax = max(lagMax, lagEnd)
            }
        }
        if tail > 0 { Thread.sleep(forTimeInterval: tail) }
        recorder.closeInput()
        let (status, _) = recorder.waitForExit(timeout: 1e9)
        let wall = Date().timeIntervalSince(began)
        sampling.wait()
        if let writeError { throw writeError }

        var outcomes: [String: Int] = [:]
        var inOrder = true
        var expected = 1
        let arrivals = recorder.lineArrivals
        var lastCallLine = 0.0
        var steps: [(at: Double, event: String, from: Int, to: Int, behind: Double)] = []
        for (k, line) in recorder.lines.enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                outcomes["unparsable", default: 0] += 1
                continue
            }
            let at = k < arrivals.count ? arrivals[k].timeIntervalSince(began) : wall
            // The signed checkpoints and the overload steps among the lines are not calls.
            if object["checkpoint"] != nil { continue }
            if let step = object["overload"] as? [String: Any] {
                steps.append(
                    (at, step["event"] as? String ?? "?", step["from"] as? Int ?? -1, step["to"] as? Int ?? -1, step["behind_s"] as? Double ?? 0))
                continue
            }
            lastCallLine = max(lastCallLine, at)
            outcomes[object["outcome"] as? String ?? "?", default: 0] += 1
            if (object["seq"] as? Int) != expected { inOrder = false }
            expected += 1
        }
        var audio = 0
        var temporary = 0
        for path in (FileManager.default.enumerator(atPath: output)?.allObjects as? [String]) ?? [] {
            let name = (path as NSString).lastPathComponent
            if name.hasSuffix(".partial") { temporary += 1 } else if name.hasSuffix(".opus") { audio += 1 }
        }
        let verify = try CommandRunner.callrec(["catalog", "verify", "--out", output, "--dry-run"])
        var report = Report(
            generated: generated, status: status, stderr: recorder.stderr, outcomes: outcomes, inOrder: inOrder,
            audioFiles: audio, temporaryFiles: temporary, verify: verify.stdout + verify.stderr, verifyStatus: verify.status,
            wallSeconds: wall, cpuSeconds: samples.lastCPU, rss: samples.values)
        report.paced = pace
        report.trafficSeconds = traffic.duration
        report.feederLagMax = lagMax
        report.feederLagEnd = lagEnd
        report.lastCallLineAt = lastCallLine
        report.overloadSteps = steps
        return report
    }

    /// VmRSS of a process, from /proc (Linux).
    static func residentBytes(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kB = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kB * 1024
    }

    /// User + system CPU seconds of a process, from /proc (Linux).
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Memory and CPU samples taken on another thread.
    private final class Samples: @unchecked Sendable {
        // SAFETY: guarded by `lock`.
        private let lock = NSLock()
        private var rss: [(Double, Int)] = []
        private var cpu = 0.0
        func add(_ at: Double, _ bytes: Int, _ cpuSeconds: Double?) {
            lock.lock()
            rss.append((at, bytes))
            if let cpuSeconds { cpu = cpuSeconds }
            lock.unlock()
        }
        var values: [(Double, Int)] {
            lock.lock()
            defer { lock.unlock() }
            return rss
        }
        var lastCPU: Double {
            lock.lock()
            defer { lock.unlock() }
            return cpu
        }
    }
}
