import CallrecCore
import CallrecTestSupport
import Catalog
import Foundation
import CallMedia
import Commit
import Conversion
@testable import LiveRecorder
import Testing

/// The live recorder's parts, in process: the queues between its threads,
/// the ledger that keeps the output in order, and whole runs over a
/// capture file (the pipe, signals and crashes are in the CLI tests).
@Suite struct RecorderTests {
    // MARK: - HandoffQueue

    @Test func aQueueDeliversEveryElementWithItsBytesInOrderAcrossThreads() {
        // A small ring, so it wraps and fills many times: the producer waits for the consumer.
        let queue = HandoffQueue<Int>(capacity: 16, byteCapacity: 1000)
        let count = 20_000
        DispatchQueue.global().async {
            var bytes = [UInt8](repeating: 0, count: 300)
            for k in 0..<count {
                let length = k % 7 == 0 ? 0 : 1 + k % 299
                for i in 0..<length { bytes[i] = UInt8(truncatingIfNeeded: k &+ i) }
                let result = bytes.withUnsafeBytes { queue.push(k, bytes: UnsafeRawBufferPointer(rebasing: $0[0..<length]), wait: true) }
                precondition(result == .queued)
            }
            queue.finishInput()
        }
        var next = 0
        var wrong = 0
        while queue.pop(timeout: 5, { k, bytes in
            let length = k % 7 == 0 ? 0 : 1 + k % 299
            if k != next || bytes.count != length { wrong += 1 }
            for i in 0..<bytes.count where bytes[i] != UInt8(truncatingIfNeeded: k &+ i) { wrong += 1 }
            next += 1
        }) != .finished {}
        #expect(next == count)
        #expect(wrong == 0)
        #expect(queue.dropped == 0)
        #expect(queue.fill.peak > 0.5)
    }

    /// The ring's bytes after a batch of empty elements: elements pushed
    /// while the consumer holds such a batch keep their bytes until they are
    /// popped (the ring once went back to its start then, and the batch's
    /// release moved its start past bytes still queued, so a later element
    /// was written over them).
    @Test func bytesPushedWhileTheConsumerHoldsOnlyEmptyElementsStayIntact() {
        let queue = HandoffQueue<Int>(capacity: 16, byteCapacity: 100)
        let lengths = [10, 0, 50, 50, 5]
        var queued: [Int] = []
        func push(_ k: Int) {
            let bytes = [UInt8](repeating: UInt8(k), count: lengths[k])
            // Whether it fits is the ring's business; what it queued must come out as it went in.
            if bytes.withUnsafeBytes({ queue.push(k, bytes: $0, wait: false) }) == .queued { queued.append(k) }
        }
        var seen: [(Int, [UInt8])] = []
        push(0)
        // Holding element 0, the producer queues an empty element after its bytes.
        #expect(queue.pop(timeout: 0) { k, bytes in seen.append((k, Array(bytes))); push(1) } == .delivered(1))
        // Holding only the empty element, the producer queues 50 bytes.
        #expect(queue.pop(timeout: 0) { k, bytes in seen.append((k, Array(bytes))); push(2) } == .delivered(1))
        // More, to the ring's end and round to its start.
        push(3)
        push(4)
        while queue.pop(timeout: 0, { k, bytes in seen.append((k, Array(bytes))) }) != .timedOut {}
        #expect(queued.starts(with: [0, 1, 2]) && queued.contains(4), "\(queued)")
        #expect(seen.map(\.0) == queued)
        for (k, bytes) in seen {
            #expect(bytes == [UInt8](repeating: UInt8(k), count: lengths[k]), "element \(k)'s bytes")
        }
    }

    @Test func aFullQueueDropsAndCountsWhenTheProducerWillNotWait() {
        let queue = HandoffQueue<Int>(capacity: 4, byteCapacity: 100)
        let bytes = [UInt8](repeating: 7, count: 40)
        let results = (0..<6).map { k in bytes.withUnsafeBytes { queue.push(k, bytes: $0, wait: false) } }
        // Two of 40 bytes fit in 100; the third does not.
        #expect(results == [.queued, .queued, .dropped, .dropped, .dropped, .dropped])
        #expect(queue.dropped == 4)
        var seen: [Int] = []
        #expect(queue.pop(timeout: 0) { k, _ in seen.append(k) } == .delivered(2))
        #expect(seen == [0, 1])
        #expect(queue.pop(timeout: 0.01) { _, _ in } == .timedOut)
        // An element larger than the ring can never fit: dropped, not waited for.
        let huge = [UInt8](repeating: 1, count: 101)
        #expect(huge.withUnsafeBytes { queue.push(9, bytes: $0, wait: true) } == .dropped)
        queue.finishInput()
        #expect(bytes.withUnsafeBytes { queue.push(10, bytes: $0, wait: true) } == .closed)
        #expect(queue.pop(timeout: nil) { _, _ in } == .finished)
    }

    @Test func abandoningAQueueWakesAWaitingProducer() {
        let queue = HandoffQueue<Int>(capacity: 1, byteCapacity: 64)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(queue.push(1, bytes: empty, wait: true) == .queued)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { queue.abandon() }
        #expect(queue.push(2, bytes: empty, wait: true) == .closed)
        #expect(queue.pop(timeout: 1) { _, _ in } == .finished)
    }

    // MARK: - CallLedger

    @Test func theLedgerEmitsLinesInTheOrderCallsEndedWhateverOrderTheyFinish() {
        final class Lines: @unchecked Sendable {
            var sequences: [Int] = []
        }
        let lines = Lines()
        let ledger = CallLedger { lines.sequences.append($0.sequence) }
        func call(_ n: Int, _ outcome: FinishedCall.Outcome) -> FinishedCall {
            var report = CallReport(
                callID: "c\(n)", caller: nil, callee: nil, direction: "unknown", signalled: true, endReason: "bye", finalStatus: nil,
                legs: [], outcome: .notRecorded, recording: nil)
            report.sequence = n
            var line = FinishedCall(report)
            line.outcome = outcome
            return line
        }
        ledger.add(call(2, .recorded))
        ledger.add(call(3, .skipped))
        #expect(lines.sequences.isEmpty, "2 and 3 wait for 1")
        ledger.add(call(1, .failed))
        #expect(lines.sequences == [1, 2, 3])
        ledger.add(call(5, .noMedia))
        ledger.flush()
        #expect(lines.sequences == [1, 2, 3, 5])
        #expect(ledger.counts == CallLedger.Counts(recorded: 1, skipped: 1, encrypted: 0, noMedia: 1, failed: 1))
    }

    // MARK: - Whole runs

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var calls: [FinishedCall] = []
        private var messages: [String] = []
        var events: Recorder.Events {
            Recorder.Events(
                call: { call in self.lock.withLock { self.calls.append(call) } },
                message: { line in self.lock.withLock { self.messages.append(line) } })
        }
        var lines: [FinishedCall] { lock.withLock { calls } }
        var log: [String] { lock.withLock { messages } }
    }

    /// Runs the recorder over `capture` into a new folder.
    func record(_ capture: String, jobs: Int, configure: (inout Recorder.Settings) -> Void = { _ in }) throws -> (
        Recorder.Summary, Collected, String
    ) {
        let out = FixturePaths.temporaryDirectory("recorder")
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out), jobs: jobs)
        settings.statusInterval = 0
        configure(&settings)
        let collected = Collected()
        let recorder = try Recorder(settings: settings, input: .file(capture), events: collected.events)
        return (recorder.run(), collected, out)
    }

    /// SHA-256 of every recording file under `folder`, by relative path (the
    /// signed manifests aside: each recorder's are its own, signed with its key).
    func digests(_ folder: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for path in (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? []
        where path.hasPrefix("2026/") && !path.contains(".manifest.") {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder), !isFolder.boolValue {
                out[path] = try FileDigest.sha256(path: folder + "/" + path)
            }
        }
        return out
    }

    @Test func theSameInputGivesTheSameFilesAndLinesWithOneWorkerOrFourAndAsConvert() throws {
        var traffic = TrafficGenerator(concurrentCalls: 12, duration: 20, seed: 4)
        traffic.callLength = 4...8
        var pcap: [UInt8] = []
        let generated = traffic.generate { pcap.append(contentsOf: $0) }
        let capture = try TemporaryFile.write(pcap)

        let (one, linesOne, outOne) = try record(capture, jobs: 1)
        let (four, linesFour, outFour) = try record(capture, jobs: 4)
        #expect(one.reason == .endOfInput && four.reason == .endOfInput)
        #expect(one.recorded == generated.calls && four.recorded == generated.calls)
        #expect(linesOne.lines.map(\.sequence) == Array(1...generated.calls))
        func strip(_ lines: [FinishedCall], _ out: String) -> [String] {
            lines.map { $0.jsonLine.replacingOccurrences(of: out, with: "OUT") }
        }
        #expect(strip(linesOne.lines, outOne) == strip(linesFour.lines, outFour))
        let files = try digests(outOne)
        #expect(files.count == generated.calls * 3, "audio, index and peaks per call")
        #expect(try digests(outFour) == files)

        let converter = try Converter(options: ConvertOptions(outputDirectory: FixturePaths.temporaryDirectory("recorder-convert")))
        let converted = converter.convert(path: capture, diagnostics: Diagnostics())
        #expect(converted.recordings.count == generated.calls)
        #expect(try digests(converter.options.outputDirectory) == files)
        #expect(linesOne.log.first?.hasPrefix("callrec: recorder ") == true, "which key signs, first")
        #expect(linesOne.log.dropFirst().first == "callrec: recording \(capture) into \(outOne) with 1 worker")
        #expect(linesOne.log.last?.hasPrefix("callrec: stopped (end of input): \(generated.calls) recorded") == true)
    }

    @Test func aFloodOfCallIDsAndStreamsIsCappedAndCountedWhileTheRealCallIsRecorded() throws {
        var writer = PcapWriter()
        let scanner = Endpoint(address: IPAddress("203.0.113.66")!, port: 5060)
        let pbx = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
        var call = SyntheticCall(seed: 5, duration: 4)
        call.start = MediaTime(seconds: 1_795_000_000, microseconds: 0)
        for n in 0..<3000 {
            let at = call.start.advanced(byNanoseconds: Int64(n) * 1_000_000)
            let invite = "INVITE sip:100@192.0.2.1 SIP/2.0\r\ni: flood-\(n)\r\nf: <sip:scan@203.0.113.66>;tag=1\r\n"
                + "t: <sip:100@192.0.2.1>\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n"
            writer.append(PacketBuilder.ethernetUDP(from: scanner, to: pbx, payload: Array(invite.utf8)), at: at)
            // And a broken device spraying RTP-looking datagrams from new ports and SSRCs.
            let rtp = PacketBuilder.rtp(payloadType: 0, sequence: 1, timestamp: 0, ssrc: UInt32(n), payload: [UInt8](repeating: 0xFF, count: 160))
            writer.append(
                PacketBuilder.ethernetUDP(
                    from: Endpoint(address: scanner.address, port: UInt16(20_000 + n)), to: Endpoint(address: pbx.address, port: 30_000),
                    payload: rtp),
                at: at.advanced(byNanoseconds: 500_000))
        }
        let capture = try TemporaryFile.write(PcapMerge.merge([writer.bytes, call.build().pcap]))
        let (summary, lines, _) = try record(capture, jobs: 2) { $0.convert.maxCalls = 100 }
        #expect(summary.recorded == 1)
        #expect(lines.lines.first { $0.outcome == .recorded }?.callID == call.callID)
        let counters = Dictionary(uniqueKeysWithValues: summary.counters.map { ($0.name, $0.value) })
        #expect(counters["calls_dropped_over_limit", default: 0] >= 2900)
        #expect(counters["rtp_streams_over_limit", default: 0] > 1000)
        // The 100 that got in never sent media: each ends (at the end of the input) without media.
        #expect(summary.noMedia == 99 || summary.noMedia == 100)
    }

    @Test func theStatusLineSaysWhatIsInFlightAndWhatWasWritten() throws {
        let out = FixturePaths.temporaryDirectory("recorder")
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out), jobs: 1)
        settings.statusInterval = 0
        let collected = Collected()
        let recorder = try Recorder(settings: settings, input: .file("/nonexistent"), events: collected.events)
        let line = recorder.statusLine(
            Recorder.FrontState(packets: 1234, callsInFlight: 7, dialogs: 7, candidateStreams: 0, callsOverLimit: 3),
            packetRate: 250, at: monotonicSeconds() + 3725)
        #expect(line.hasPrefix("callrec: status: up 1h02m; calls: 7 in flight, 0 recorded, 0 skipped by rule"))
        #expect(line.contains("packets: 1234 read (250/s), 0 dropped"))
        #expect(line.contains("over limits: 3 calls, 0 RTP streams, 0 TCP flows"))
        let summary = recorder.run()
        #expect(summary.reason == .inputFailed)
        #expect(summary.error == "/nonexistent: no such file")
    }

    /// A reader of the output that stops reading holds up nothing but the lines: every call is
    /// still written, the lines beyond a short queue are dropped and counted, and the run ends.
    @Test func aStuckReaderOfTheOutputNeverHoldsUpRecording() throws {
        var traffic = TrafficGenerator(concurrentCalls: 5, duration: 12, seed: 8)
        traffic.callLength = 2...4
        var pcap: [UInt8] = []
        let generated = traffic.generate { pcap.append(contentsOf: $0) }
        let capture = try TemporaryFile.write(pcap)
        let out = FixturePaths.temporaryDirectory("recorder")
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out), jobs: 2)
        settings.statusInterval = 0
        settings.lineQueueLength = 2
        settings.lineFlushTimeout = 0.5
        let never = DispatchSemaphore(value: 0)
        let recorder = try Recorder(
            settings: settings, input: .file(capture), events: .init(call: { _ in never.wait() }, message: { _ in }))
        let summary = recorder.run()
        #expect(generated.calls >= 10)
        #expect(summary.recorded == generated.calls)
        // The stuck writer holds one line (or two, taken together), the queue at most two: the rest,
        // and the closing checkpoint's line (it is on standard error too), are dropped.
        #expect((generated.calls - 2...generated.calls - 1).contains(summary.linesDropped), "\(summary.linesDropped)")
        #expect(try digests(out).keys.filter { $0.hasSuffix(".opus") }.count == generated.calls)
    }

    /// A live interface never waits for the recorder: a burst beyond its queue is dropped and
    /// counted, so every packet sent is either processed or counted as dropped, none lost unseen.
    @Test(.enabled(if: LoopbackSender.canCaptureOnLoopback, "needs permission to capture on lo"))
    func aBurstOnALiveInterfaceIsProcessedOrCountedAsDropped() throws {
        let port = UInt16(39_000 + getpid() % 500 * 2)
        let out = FixturePaths.temporaryDirectory("recorder-live")
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out), jobs: 1)
        settings.statusInterval = 0
        // Room for about 20 packets before the front, and little before the one worker.
        settings.packetQueueBytes = 4096
        settings.workerQueueBytes = 2048
        let collected = Collected()
        let recorder = try Recorder(
            settings: settings, input: .interface("lo", filter: "udp and dst port \(port)"), events: collected.events)
        let sent = 5000
        DispatchQueue.global().async {
            // Sent once libpcap captures (the recorder says so), polled: the log has no wait of its own.
            let deadline = monotonicSeconds() + 60
            while !collected.log.contains(where: { $0.hasPrefix("callrec: listening on lo") }) && monotonicSeconds() < deadline {
                usleep(10_000)
            }
            let udp = LoopbackSender()
            let payload = [UInt8](repeating: 0xFF, count: 160)
            for k in 0..<sent {
                // One RTP stream without signalling: a call, decoded and encoded by the worker.
                udp.send(
                    PacketBuilder.rtp(
                        payloadType: 0, sequence: UInt16(k), timestamp: UInt32(k * 160), ssrc: 0x1234_5678, payload: payload),
                    from: port + 1, to: port)
            }
            usleep(500_000)
            recorder.stop()
        }
        let summary = recorder.run()
        #expect(summary.reason == .stopped, "\(String(describing: summary.error))")
        #expect(summary.dropped.queue > 0, "the burst should have overrun a 4 KB queue")
        // Everything libpcap delivered was processed or dropped from the queue, counted; everything
        // sent was delivered or dropped by the kernel, counted (on lo the kernel counts both copies).
        #expect(summary.packets + summary.dropped.queue == summary.captured, "\(summary.packets) \(summary.captured) \(summary.dropped)")
        #expect(summary.captured + summary.dropped.kernel >= sent, "\(summary.captured) \(summary.dropped)")
        #expect(collected.log.last?.contains("packets dropped") == true)
    }
}
