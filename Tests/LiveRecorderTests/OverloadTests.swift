import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Foundation
@testable import LiveRecorder
import Output
import Testing

/// The recorder under overload: the control's decisions on their own, and a
/// whole run whose worker is held back so that a paced input falls behind.
@Suite struct OverloadTests {
    /// A look `at` seconds, the front `lag` seconds behind a paced input (capture = wall − lag).
    static func look(
        _ control: inout OverloadControl, at t: Double, lag: Double, read: Double = 1, work: Double = 1
    ) -> OverloadControl.Step? {
        control.look(now: t, routedAt: t, capture: t - lag, readFill: read, workFill: work)
    }

    @Test func theControlStepsDownWhileBehindAndUpOnceCaughtUp() {
        var settings = OverloadSettings()
        settings.lag = 2
        settings.downAfter = 5
        settings.upAfter = 30
        var control = OverloadControl(configured: 5, settings: settings, now: 0)
        #expect(control.levels == [5, 3, 1, 0])
        // Keeping up: the least lag seen is the baseline.
        #expect(Self.look(&control, at: 0, lag: 0.1, read: 0, work: 0) == nil)
        var steps: [OverloadControl.Step] = []
        // Falling behind: 0.5 s more every second, queues full.
        for t in stride(from: 1.0, through: 40, by: 0.5) {
            if let step = Self.look(&control, at: t, lag: 0.1 + 0.5 * t) { steps.append(step) }
        }
        #expect(steps.map(\.event) == [.down, .down, .down, .stillBehind], "\(steps)")
        #expect(steps.prefix(3).map { [$0.from, $0.to] } == [[5, 3], [3, 1], [1, 0]])
        // Each step waited for 5 s behind.
        #expect(steps[0].lag > 2)
        #expect(control.current == 0 && control.lowest == 0)
        // The backlog drains: lag falls (no step), then the queues empty; after 30 s clear, one step up each 30 s.
        steps = []
        for t in stride(from: 40.5, through: 60, by: 0.5) {
            if let step = Self.look(&control, at: t, lag: max(0.1, 20 - (t - 40)), read: 0.9, work: 0.9) { steps.append(step) }
        }
        #expect(steps.isEmpty, "a falling lag is given its time: \(steps)")
        for t in stride(from: 60.5, through: 160, by: 0.5) {
            if let step = Self.look(&control, at: t, lag: 0.1, read: 0, work: 0.05) { steps.append(step) }
        }
        #expect(steps.map(\.event) == [.up, .up, .up])
        #expect(steps.map(\.to) == [1, 3, 5])
        #expect(control.current == 5 && control.stepsDown == 3 && control.stepsUp == 3 && control.lowest == 0)
        // Then the input goes silent for an hour: its last packet's capture time stays, the queues
        // are empty, and nothing is behind (the status line would otherwise count the silence).
        _ = control.look(now: 3760, routedAt: 160, capture: 159.9, readFill: 0, workFill: 0)
        #expect(control.lag == 0)
        // A packet waiting in a queue is behind by its capture time again.
        _ = control.look(now: 3761, routedAt: 3760.5, capture: 3758, readFill: 0.01, workFill: 0)
        #expect(abs(control.lag - 2.9) < 0.001)  // 3 s since capture, less the 0.1 s baseline
    }

    @Test func anInputReplayedFasterThanRealTimeIsNeverBehind() {
        var control = OverloadControl(configured: 5, settings: OverloadSettings(), now: 0)
        // Ten seconds of capture a second, queues full all the time (the writer is held back).
        for t in stride(from: 0.0, through: 120, by: 0.5) {
            #expect(control.look(now: t, routedAt: t - 0.2, capture: 10 * t, readFill: 1, workFill: 1) == nil)
        }
        #expect(control.current == 5)
        // A lag without full queues (the writer of the pipe stalled, then caught up) is no overload either.
        var paced = OverloadControl(configured: 5, settings: OverloadSettings(), now: 0)
        for t in stride(from: 0.0, through: 60, by: 0.5) {
            #expect(Self.look(&paced, at: t, lag: t < 1 ? 0 : 10, read: 0.1, work: 0.2) == nil)
        }
    }

    @Test func aStepUpUndoneAtOnceWaitsLongerBeforeTheNext() {
        var settings = OverloadSettings()
        settings.downAfter = 1
        settings.upAfter = 10
        var control = OverloadControl(configured: 1, settings: settings, now: 0)
        var t = 0.0
        _ = Self.look(&control, at: t, lag: 0, read: 0, work: 0)
        var ups: [Double] = []
        var lag = 0.0
        // The load is just above complexity 1: at 1 the lag grows, at 0 it holds (queues empty).
        while t < 400 {
            t += 0.5
            lag = control.current == 1 ? lag + 0.5 : 0
            let step = Self.look(&control, at: t, lag: lag, read: control.current == 1 ? 1 : 0, work: control.current == 1 ? 1 : 0)
            if step?.event == .up { ups.append(t) }
        }
        let gaps = zip(ups.dropFirst(), ups).map { $0 - $1 }
        #expect(gaps.count >= 3)
        #expect(gaps.first! < gaps.last!, "\(gaps)")
        #expect(gaps.last! <= 16 * 10 + 10)
    }

    /// A paced input (written at its capture times through a FIFO) with a
    /// worker that stalls 0.3 s at every commit: the recorder falls behind,
    /// steps complexity down, says so on standard error and among the JSON
    /// lines, and steps back up once the traffic is over and it has caught
    /// up. Every call is committed, its index lists the complexities its
    /// audio was encoded with and its manifest the lowest, and verify finds
    /// every file as committed.
    @Test func aRecorderThatFallsBehindAPacedInputLowersComplexityAndRecordsEveryCall() throws {
        var traffic = TrafficGenerator(concurrentCalls: 10, duration: 5, seed: 11)
        traffic.callLength = 1...2
        traffic.pause = 0.1...0.3
        let fifo = FixturePaths.temporaryDirectory("overload-fifo") + "/capture"
        #expect(mkfifo(fifo, 0o600) == 0)
        let out = FixturePaths.temporaryDirectory("overload")
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out), jobs: 1)
        settings.statusInterval = 0
        settings.checkpointInterval = 0
        settings.packetQueueBytes = 8 << 10
        settings.workerQueueBytes = 2 << 10
        settings.overload.lag = 0.3
        settings.overload.downAfter = 0.4
        settings.overload.upAfter = 0.3
        settings.overload.interval = 0.1
        settings.afterCommitStep = { step in if step == .committed { Thread.sleep(forTimeInterval: 0.3) } }
        let collected = Lines()
        // The traffic in chunks of at most 20 ms of capture, each with its time.
        var chunks: [([UInt8], Double)] = []
        let generated = traffic.generate(chunkBytes: 16 << 10, chunkSeconds: 0.02) { chunk, at in chunks.append((Array(chunk), at)) }
        // The feeder: each chunk once the wall clock reaches its time, then 5 s of silence (the backlog drains).
        let feeder = Thread { [chunks] in
            let fd = open(fifo, O_WRONLY)
            precondition(fd >= 0)
            let began = monotonicSeconds()
            for (chunk, at) in chunks {
                let wait = at - (monotonicSeconds() - began)
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                var offset = 0
                while offset < chunk.count {
                    let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress! + offset, chunk.count - offset) }
                    precondition(n > 0)
                    offset += n
                }
            }
            Thread.sleep(forTimeInterval: 5)
            close(fd)
        }
        feeder.start()
        let summary: Recorder.Summary
        do {
            let recorder = try Recorder(settings: settings, input: .file(fifo), events: collected.events)
            summary = recorder.run()
        }
        let calls = generated.calls
        #expect(calls >= 10, "\(calls)")
        #expect(summary.reason == .endOfInput)
        #expect(summary.recorded == calls && summary.failed == 0)
        #expect(collected.calls.map(\.sequence) == Array(1...max(1, calls)))

        // Each step said twice: among the JSON lines, and on standard error.
        let steps = collected.overload.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .compactMap { $0["overload"] as? [String: Any] }
        let downs = steps.filter { $0["event"] as? String == "complexity_down" }
        let ups = steps.filter { $0["event"] as? String == "complexity_up" }
        #expect(downs.first?["from"] as? Int == 5 && downs.first?["to"] as? Int == 3, "\(steps)")
        #expect(!ups.isEmpty, "caught up after the traffic: \(steps)")
        #expect((downs.first?["behind_s"] as? Double ?? 0) > 0.3)
        #expect(summary.complexityStepsDown == downs.count && summary.complexityStepsUp == ups.count)
        #expect(collected.log.filter { $0.hasPrefix("callrec: overload: falling behind") }.count == downs.count)
        #expect(collected.log.contains { $0.hasPrefix("callrec: overload: caught up") })
        #expect(collected.log.last?.contains("overload: Opus complexity lowered \(downs.count) time") == true)

        // What each call was encoded with: in its index (when lowered), the lowest in its manifest.
        var lowered = 0
        for call in collected.calls {
            let id = try #require(call.id)
            let path = try #require(call.index)
            let index = try CallIndex.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            let manifest = try String(contentsOfFile: path.replacingOccurrences(of: ".json", with: ".manifest.json"), encoding: .utf8)
            let lowest = index.opusComplexity?.map(\.complexity).min() ?? 5
            #expect(manifest.contains("\"complexity\":\(lowest)") || manifest.contains("\"complexity\": \(lowest)"), "\(id)")
            if let spans = index.opusComplexity {
                lowered += 1
                #expect(spans.first?.fromS == 0)
                #expect(zip(spans.dropFirst(), spans).allSatisfy { $0.fromS >= $1.fromS && $0.complexity != $1.complexity })
            }
            // The stream stays one valid Ogg Opus stream across the changes: it decodes to the index's length.
            let audio = try OggOpusReader(path: (path as NSString).deletingLastPathComponent + "/" + (index.audio ?? ""))
            #expect(abs(audio.duration - index.durationS) < 0.001, "\(id)")
        }
        #expect(lowered > 0)
        let catalog = try CatalogStore(path: out + "/" + CatalogStore.fileName)
        let report = try catalog.verify(dryRun: true, importer: nil, by: .operator("test"), at: Date().timeIntervalSince1970)
        #expect(report.healthy == calls)
    }

    final class Lines: @unchecked Sendable {
        // SAFETY: guarded by `lock`.
        private let lock = NSLock()
        private var finished: [FinishedCall] = []
        private var steps: [String] = []
        private var messages: [String] = []
        var events: Recorder.Events {
            Recorder.Events(
                call: { call in self.lock.withLock { self.finished.append(call) } },
                message: { line in self.lock.withLock { self.messages.append(line) } },
                overload: { line in self.lock.withLock { self.steps.append(line) } })
        }
        var calls: [FinishedCall] { lock.withLock { finished } }
        var overload: [String] { lock.withLock { steps } }
        var log: [String] { lock.withLock { messages } }
    }
}
