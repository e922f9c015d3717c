import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// A crash loses no audio already captured (issue 17, item 11): the
/// recorder is killed at random points, while packets flow and while a call
/// is being committed, and the next start salvages every call that was in
/// flight up to its last flushed page, each file clean under opusinfo,
/// nothing committed twice.
@Suite struct RecordCrashTests {
    static let hasOpusinfo = FileManager.default.isExecutableFile(atPath: "/usr/bin/opusinfo")

    /// Three calls on one link: one ends with a BYE at 7 s (a commit while
    /// the others run), one runs past the capture without a BYE, one starts
    /// 1.5 s in and ends at 10.5 s.
    static func calls(trial: Int) -> [SyntheticCall] {
        (0..<3).map { k in
            let n = 100 + 3 * trial + k
            var call = SyntheticCall(seed: UInt64(n), duration: [6.0, 12.0, 8.0][k])
            call.callID = "crash-\(n)@example.com"
            call.callerNumber = "+46820000\(n)"
            call.calleeNumber = "+46320000\(n)"
            call.callerMedia.port = UInt16(40_000 + 2 * n)
            call.calleeMedia.port = UInt16(50_000 + 2 * n)
            call.bye = k != 1
            call.start = RecordCLITests.start.advanced(byNanoseconds: Int64([0, 0.3, 1.5][k] * 1e9))
            return call
        }
    }

    /// Seconds of audio in the complete Ogg pages of the file at `path`
    /// (granule of the last whole page, less the pre-skip): what is on disk
    /// now and must survive the crash.
    static func flushedSeconds(_ path: String) -> Double? {
        guard let bytes = FileManager.default.contents(atPath: path).map(Array.init), bytes.count > 27 else { return nil }
        var offset = 0
        var preSkip = 0
        var granule: Int64 = -1
        var pages = 0
        while offset + 27 <= bytes.count, bytes[offset..<(offset + 4)].elementsEqual("OggS".utf8) {
            let segments = Int(bytes[offset + 26])
            guard offset + 27 + segments <= bytes.count else { break }
            let body = bytes[(offset + 27)..<(offset + 27 + segments)].reduce(0) { $0 + Int($1) }
            guard offset + 27 + segments + body <= bytes.count else { break }
            if pages == 0 { preSkip = Int(bytes[offset + 27 + segments + 10]) | Int(bytes[offset + 27 + segments + 11]) << 8 }
            let g = (0..<8).reduce(Int64(0)) { $0 | Int64(bytes[offset + 6 + $1]) << (8 * Int64($1)) }
            if pages >= 2 && g >= 0 { granule = g }
            pages += 1
            offset += 27 + segments + body
        }
        return granule < 0 ? nil : Double(granule - Int64(preSkip)) / 48_000
    }

    func partials(_ out: String) -> [String] {
        ((FileManager.default.enumerator(atPath: out)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(".partial") }.sorted()
    }

    /// The id of a recording from its temporary audio file's path.
    static func id(ofPartial path: String) -> String {
        String(path.split(separator: "/").last!.dropFirst().prefix(25))
    }

    struct Trial: CustomStringConvertible {
        var number: Int
        /// A commit step to die at (`CALLREC_CRASH_AT`), or nil: a SIGKILL at a random point while packets flow.
        var crashAt: String?
        var description: String { "trial \(number)" + (crashAt.map { " (killed at \($0))" } ?? "") }
    }

    static let trials: [Trial] = (0..<20).map { k in
        let steps = ["files-synced", "row-pending", "first-file-renamed", "files-renamed"]
        return Trial(number: k, crashAt: k % 5 == 4 ? steps[(k / 5) % steps.count] : nil)
    }

    // Two halves, each one trial at a time, side by side (the suite is not serialized): the
    // trials are independent (their own folders and processes), and run one after the other
    // they were the last 20 s of make test's test run.
    @Test(.serialized, arguments: trials.filter { $0.number % 2 == 0 })
    func killedAtARandomPointTheNextStartSalvagesEveryCallInFlight(trial: Trial) throws {
        try killAndRestart(trial)
    }

    @Test(.serialized, arguments: trials.filter { $0.number % 2 == 1 })
    func killedAtARandomPointTheNextStartSalvagesEveryCallInFlightToo(trial: Trial) throws {
        try killAndRestart(trial)
    }

    func killAndRestart(_ trial: Trial) throws {
        // Writing to a recorder that died must fail, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        let out = FixturePaths.temporaryDirectory("cli-record-crash")
        let calls = Self.calls(trial: trial.number)
        let generated = calls.map { $0.build() }
        let stream = PcapMerge.merge(generated.map(\.pcap))
        // A quarter second of capture at a time, paced, so the kill falls while packets flow.
        var chunks: [[UInt8]] = [Array(stream.prefix(24))]
        var bucketEnd = RecordCLITests.at(0.25)
        for record in PcapMerge.records(stream) {
            while record.microseconds >= bucketEnd {
                chunks.append([])
                bucketEnd += 250_000
            }
            chunks[chunks.count - 1] += record.bytes
        }
        var rng = SeededRandom(seed: UInt64(1000 + trial.number))
        let killAt = 8 + Int(rng.next() % UInt64(max(1, chunks.count - 10)))
        let environment = trial.crashAt.map { ["CALLREC_CRASH_AT": $0] } ?? [:]
        let recorder = try RecorderProcess(["--out", out, "--flush-interval", "0.5", "--jobs", "2"], environment: environment)
        var flushed: [String: Double] = [:]
        for (k, chunk) in chunks.enumerated() {
            if trial.crashAt == nil && k == killAt {
                // What is on disk now must come back: each call's audio up to its last complete page.
                // (A recorder slowed down by a loaded machine is given time to write its first pages.)
                let deadline = Date().addingTimeInterval(20)
                repeat {
                    for path in partials(out) where path.hasSuffix(".opus.partial") {
                        if let seconds = Self.flushedSeconds(out + "/" + path) { flushed[Self.id(ofPartial: path)] = seconds }
                    }
                    if flushed.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
                } while flushed.isEmpty && Date() < deadline
                recorder.send(SIGKILL)
                break
            }
            do { try recorder.write(chunk) } catch { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        if trial.crashAt != nil { recorder.closeInput() }
        let exit = recorder.waitForExit()
        #expect(exit.killed, "\(trial): \(recorder.stderr)")
        if trial.crashAt != nil {
            for path in partials(out) where path.hasSuffix(".opus.partial") {
                if let seconds = Self.flushedSeconds(out + "/" + path) { flushed[Self.id(ofPartial: path)] = seconds }
            }
        }
        // Calls were in flight with audio on disk (the kill falls at least 2 s in, or at the first commit at 7 s).
        #expect(!flushed.isEmpty, "\(trial): nothing was in flight")
        // Committed before the kill: what the recorder reported, and what its catalog holds as committed
        // (a kill between the catalog's commit and the report line leaves a call committed, unreported).
        var committedBefore = Set(recorder.calls.compactMap { ($0["call"] as? [String: Any])?["id"] as? String })
        let before = try CommandRunner.callrec(["catalog", "find", "--out", out, "--json"])
        if let rows = try? JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [[String: Any]] {
            committedBefore.formUnion(rows.compactMap { $0["id"] as? String })
        }

        let again = try RecorderProcess(["--out", out])
        try again.write(RecordCLITests.empty)
        again.closeInput()
        #expect(again.waitForExit().status == 0, "\(trial): \(again.stderr)")
        #expect(partials(out).isEmpty, "\(trial): \(partials(out)) \(again.stderr)")

        let find = try CommandRunner.callrec(["catalog", "find", "--out", out, "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(find.stdout.utf8)) as? [[String: Any]], "\(find.stdout)")
        // Nothing committed twice: one row per call, and per recording id.
        let callIDs = rows.compactMap { $0["call_id"] as? String }
        #expect(Set(callIDs).count == callIDs.count, "\(trial): \(callIDs)")
        let ids = Set(rows.compactMap { $0["id"] as? String })
        #expect(ids.count == rows.count)
        #expect(committedBefore.isSubset(of: ids), "\(trial)")
        // Every call in flight is back, at least as long as what had been flushed.
        for (id, seconds) in flushed {
            let row = try #require(rows.first { $0["id"] as? String == id }, "\(trial): \(id) not recovered; \(again.stderr)")
            let duration = row["duration_s"] as? Double ?? 0
            #expect(duration >= seconds - 0.001, "\(trial): \(id) \(duration) s < \(seconds) s flushed")
            let reason = row["end_reason"] as? String
            // Cut by the kill and salvaged: "crashed". Committed before the kill, killed mid-commit with the
            // commit completed on the next start, or killed after its files were synced (salvaged complete):
            // the call's own end.
            let finished = committedBefore.contains(id) || again.stderr.contains("completed \(id)")
                || again.stderr.contains("salvaged \(id): complete")
            #expect(finished ? reason != "crashed" : reason == "crashed", "\(trial): \(id) \(reason ?? "-"); \(again.stderr)")
        }
        for row in rows where row["end_reason"] as? String == "crashed" {
            let path = try #require(row["path"] as? String)
            #expect(again.stderr.contains("salvaged \(row["id"] as? String ?? "")"), "\(again.stderr)")
            if Self.hasOpusinfo {
                let info = try CommandRunner.run("/usr/bin/opusinfo", [path])
                let text = info.stdout + info.stderr
                #expect(info.status == 0 && !text.localizedCaseInsensitiveContains("warning")
                    && !text.localizedCaseInsensitiveContains("error"), "\(trial): \(text)")
            }
            // The audio is the call's own: the caller's channel is its speech.
            let k = try #require(calls.firstIndex { $0.callID == row["call_id"] as? String })
            let reader = try OggOpusReader(path: path)
            let decoded = SignalMetrics.decimate(reader.channels[0], by: 6)
            let startText = try #require(row["start"] as? String)
            let offset = try Self.samples(from: startText, to: generated[k].callerFirstPacket)
            let source = SignalMetrics.placed(generated[k].callerAudio, at: offset, length: decoded.count)
            if SignalMetrics.rms(source) > 100 {
                // The caller's own speech (Opus at 16 kbit/s keeps 0.8-0.9 of it), not some other call's or noise (0).
                let match = SignalMetrics.bestCorrelation(decoded, source, maxLag: 16)
                #expect(match.value > 0.6, "\(trial): \(row["id"] ?? "") \(match)")
            }
        }
        let verify = try CommandRunner.callrec(["catalog", "verify", "--out", out])
        #expect(verify.stdout.hasSuffix("nothing to repair\n"), "\(trial): \(verify.stdout)")
    }

    /// 8 kHz samples from the ISO 8601 time `start` to `time`.
    static func samples(from start: String, to time: MediaTime) throws -> Int {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: start))
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        return Int((Double(time.nanoseconds) / 1e6 - ms) * 8)
    }
}
