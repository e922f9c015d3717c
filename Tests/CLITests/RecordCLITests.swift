import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// `callrec record -` fed through a pipe as `tcpdump -U -w -` feeds it:
/// calls written as they end, signals, crashes and the repairs after them.
@Suite struct RecordCLITests {
    static let start = MediaTime(seconds: 1_795_000_000, microseconds: 0)

    /// Call `n`: its own Call-ID, parties and media ports; media for `seconds`, from 1.04 s after `offset`.
    static func call(_ n: Int, seconds: Double, bye: Bool = true, offset: Double = 0) -> [UInt8] {
        var call = SyntheticCall(seed: UInt64(n), duration: seconds)
        call.callID = "record-\(n)@example.com"
        call.callerNumber = "+46810000\(n)"
        call.calleeNumber = "+46310000\(n)"
        call.callerMedia.port = UInt16(40_000 + 2 * n)
        call.calleeMedia.port = UInt16(50_000 + 2 * n)
        call.bye = bye
        call.start = start.advanced(byNanoseconds: Int64(offset * 1e9))
        return call.build().pcap
    }

    /// Microseconds since the epoch `seconds` after `start`.
    static func at(_ seconds: Double) -> Int64 {
        start.nanoseconds / 1000 + Int64(seconds * 1e6)
    }

    /// A capture with no packets: the file header alone.
    static let empty = Array(PcapWriter().bytes)

    func files(_ out: String, ending suffix: String) -> [String] {
        ((FileManager.default.enumerator(atPath: out)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    func verify(_ out: String) throws -> CommandRunner.Run {
        try CommandRunner.callrec(["catalog", "verify", "--out", out])
    }

    /// `catalog verify` of the recordings `at` names.
    func verify(_ at: [String]) throws -> CommandRunner.Run {
        try CommandRunner.callrec(["catalog", "verify"] + at)
    }

    @Test(arguments: CatalogBackend.all)
    func writesEachCallWhenItEndsNotWhenTheInputEnds(backend: CatalogBackend) throws {
        let (out, at) = try catalogPlace(backend, "cli-record")
        // Call 1 lasts 3 s and says BYE at 4.09 s; call 2 runs on for 20 s.
        let stream = PcapMerge.merge([Self.call(1, seconds: 3), Self.call(2, seconds: 20, offset: 0.5)])
        let (head, tail) = PcapMerge.split(stream, at: Self.at(5))
        let recorder = try RecorderProcess(at)
        try recorder.write(head)
        // The input is still open: call 1 is written because it ended.
        #expect(recorder.wait(timeout: 60) { lines, _ in !lines.isEmpty }, "\(recorder.stderr)")
        let first = try #require(recorder.calls.first)
        #expect(first["call_id"] as? String == "record-1@example.com")
        #expect(first["outcome"] as? String == "recorded")
        #expect(first["end_reason"] as? String == "bye")
        #expect(first["seq"] as? Int == 1)
        #expect(first["signalling"] as? String == "sip")
        #expect(first["caller"] as? String == "+468100001")
        #expect((first["packets"] as? [Int])?.count == 2)
        let audio = try #require(first["audio"] as? String)
        #expect(FileManager.default.fileExists(atPath: audio))
        #expect(FileManager.default.fileExists(atPath: first["index"] as? String ?? ""))
        #expect((first["call"] as? [String: Any])?["duration_s"] as? Double ?? 0 > 2.9)
        // Its catalog row is there too, while the recorder runs.
        let find = try CommandRunner.callrec(["catalog", "find"] + at + ["--json"])
        #expect(find.stdout.contains("record-1@example.com"))
        #expect(!find.stdout.contains("record-2@example.com"))

        try recorder.write(tail)
        recorder.closeInput()
        let exit = recorder.waitForExit()
        #expect(exit.status == 0, "\(recorder.stderr)")
        #expect(recorder.calls.map { $0["call_id"] as? String } == ["record-1@example.com", "record-2@example.com"])
        #expect(recorder.calls.last?["end_reason"] as? String == "bye")
        #expect(recorder.stderr.contains("callrec: stopped (end of input): 2 recorded"))
        #expect(try verify(at).stdout.hasSuffix("2 recordings healthy, nothing to repair\n"))
    }

    @Test func readsAPcapngStreamAsDumpcapWritesIt() throws {
        let out = FixturePaths.temporaryDirectory("cli-record")
        let stream = PcapngWriter(rewriting: PcapMerge.merge([Self.call(14, seconds: 2), Self.call(15, seconds: 3, offset: 1)]))
        let recorder = try RecorderProcess(["--out", out])
        // In small pieces, as a pipe delivers them.
        for start in stride(from: 0, to: stream.bytes.count, by: 1500) {
            try recorder.write(Array(stream.bytes[start..<min(start + 1500, stream.bytes.count)]))
        }
        #expect(recorder.wait(timeout: 60) { lines, _ in lines.count == 2 }, "\(recorder.stderr)")
        recorder.closeInput()
        #expect(recorder.waitForExit().status == 0, "\(recorder.stderr)")
        #expect(recorder.calls.map { $0["end_reason"] as? String } == ["bye", "bye"])
        #expect(recorder.calls.allSatisfy { $0["outcome"] as? String == "recorded" })
    }

    @Test func aSilentInputStillEndsIdleCallsByTheWallClock() throws {
        let out = FixturePaths.temporaryDirectory("cli-record")
        // Half a second: the recorder moves a silent input's clock on after a second of wall time,
        // so the call ends then, not after waiting out a longer timeout.
        let recorder = try RecorderProcess(["--out", out, "--idle-timeout", "0.5"])
        // No BYE, and nothing after the media: only the wall clock can end it.
        try recorder.write(Self.call(3, seconds: 2, bye: false))
        #expect(recorder.wait(timeout: 30) { lines, _ in !lines.isEmpty }, "\(recorder.stderr)")
        #expect(recorder.calls.first?["end_reason"] as? String == "timeout")
        #expect(recorder.calls.first?["outcome"] as? String == "recorded")
        recorder.closeInput()
        #expect(recorder.waitForExit().status == 0)
        #expect(recorder.calls.count == 1)
    }

    @Test func sigusr1PrintsStatusAndSigtermCommitsTheCallsInFlightAsCut() throws {
        let out = FixturePaths.temporaryDirectory("cli-record")
        let recorder = try RecorderProcess(["--out", out, "--status-interval", "0"])
        try recorder.write(Self.call(4, seconds: 4, bye: false))
        let inFlight = recorder.wait(timeout: 30) { _, stderr in
            if stderr.contains("calls: 1 in flight") { return true }
            recorder.send(SIGUSR1)
            Thread.sleep(forTimeInterval: 0.2)
            return false
        }
        #expect(inFlight, "\(recorder.stderr)")
        #expect(recorder.lines.isEmpty)
        recorder.send(SIGTERM)
        let exit = recorder.waitForExit()
        #expect(exit.status == 0 && !exit.killed, "\(recorder.stderr)")
        #expect(recorder.stderr.contains("SIGTERM: stopping"))
        let call = try #require(recorder.calls.first)
        #expect(call["end_reason"] as? String == "cut")
        #expect(call["outcome"] as? String == "recorded")
        #expect(files(out, ending: ".partial").isEmpty)
        #expect(try verify(out).stdout.hasSuffix("1 recording healthy, nothing to repair\n"))
        #expect(!FileManager.default.fileExists(atPath: out + "/.callrec-record.running"))
    }

    @Test(arguments: CatalogBackend.all)
    func afterSIGKILLNothingLooksCompleteAndTheNextStartSalvagesTheCallInFlight(backend: CatalogBackend) throws {
        let (out, at) = try catalogPlace(backend, "cli-record")
        let recorder = try RecorderProcess(at)
        try recorder.write(Self.call(5, seconds: 6, bye: false))
        // The recording is under way: its audio is being written under a temporary name, its first pages on disk.
        let writing = recorder.wait(timeout: 60) { _, _ in
            files(out, ending: ".opus.partial").contains { path in
                ((try? FileManager.default.attributesOfItem(atPath: out + "/" + path)[.size] as? Int) ?? 0) > 2000
            }
        }
        #expect(writing)
        recorder.send(SIGKILL)
        #expect(recorder.waitForExit().killed)
        #expect(files(out, ending: ".opus").isEmpty, "a killed recorder left a file that looks complete")
        #expect(!files(out, ending: ".partial").isEmpty)
        #expect(FileManager.default.fileExists(atPath: out + "/.callrec-record.running"))

        let again = try RecorderProcess(at)
        try again.write(Self.empty)
        again.closeInput()
        #expect(again.waitForExit().status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("the previous recorder in \(out) did not stop cleanly; repaired: "), "\(again.stderr)")
        #expect(again.stderr.contains("1 recording cut by the crash salvaged"), "\(again.stderr)")
        #expect(files(out, ending: ".partial").isEmpty)
        // The call in flight is kept as far as it was written, and marked as cut by the crash.
        let find = try CommandRunner.callrec(["catalog", "find", "--json"] + at)
        #expect(find.stdout.contains("record-5@example.com") && find.stdout.contains("\"end_reason\":\"crashed\""), "\(find.stdout)")
        #expect(try verify(at).stdout.hasSuffix(": intact\n1 recording healthy, nothing to repair\n"))
    }

    @Test(arguments: CatalogBackend.all, [("row-pending", "1 interrupted commit completed"), ("files-synced", "1 recording cut by the crash salvaged")])
    func aCrashInsideACommitIsSettledAtTheNextStart(backend: CatalogBackend, crash: (step: String, found: String)) throws {
        let (step, found) = crash
        let (out, at) = try catalogPlace(backend, "cli-record")
        let recorder = try RecorderProcess(at, environment: ["CALLREC_CRASH_AT": step])
        try recorder.write(Self.call(6, seconds: 2))
        recorder.closeInput()
        #expect(recorder.waitForExit().killed)

        let again = try RecorderProcess(at)
        try again.write(Self.empty)
        again.closeInput()
        #expect(again.waitForExit().status == 0, "\(again.stderr)")
        #expect(again.stderr.contains(found), "\(again.stderr)")
        #expect(files(out, ending: ".partial").isEmpty)
        #expect(try verify(at).stdout.hasSuffix(": intact\n1 recording healthy, nothing to repair\n"))
    }

    @Test func recordingRulesSkipCallsAndAreReadAgainWhileRecording() throws {
        let out = FixturePaths.temporaryDirectory("cli-record")
        let add = try CommandRunner.callrec(["catalog", "rules", "add", "--out", out, "--skip", "--remote", "+463100007", "--name", "supplier"])
        #expect(add.status == 0, "\(add.stderr)")
        let recorder = try RecorderProcess(["--out", out, "--local-prefix", "+4681", "--rules-interval", "0.2"])
        try recorder.write(PcapMerge.merge([Self.call(7, seconds: 2), Self.call(8, seconds: 2, offset: 0.2)]))
        #expect(recorder.wait(timeout: 60) { lines, _ in lines.count == 2 }, "\(recorder.stderr)")
        let skipped = try #require(recorder.calls.first { $0["call_id"] as? String == "record-7@example.com" })
        #expect(skipped["outcome"] as? String == "skipped")
        #expect(skipped["rule"] as? Int == 1)
        #expect(skipped["audio"] == nil)
        #expect(recorder.calls.last?["outcome"] as? String == "recorded")

        // A rule added now applies to the calls that start after the recorder reads the rules again (--rules-interval).
        let later = try CommandRunner.callrec(["catalog", "rules", "add", "--out", out, "--skip", "--remote", "+463100009"])
        #expect(later.status == 0, "\(later.stderr)")
        #expect(recorder.wait(timeout: 30) { _, stderr in stderr.contains("callrec: recording rules changed: 2 rules") }, "\(recorder.stderr)")
        var next = Self.call(9, seconds: 2, offset: 10)
        next.removeFirst(24)
        try recorder.write(next)
        recorder.closeInput()
        #expect(recorder.waitForExit().status == 0, "\(recorder.stderr)")
        #expect(recorder.calls.map { $0["outcome"] as? String } == ["skipped", "recorded", "skipped"])
        #expect(files(out, ending: ".opus").count == 1)
    }

    @Test func aStreamThatIsNotACaptureIsOneLineAndExitOne() throws {
        let out = FixturePaths.temporaryDirectory("cli-record")
        let recorder = try RecorderProcess(["--out", out])
        try recorder.write(Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8))
        recorder.closeInput()
        #expect(recorder.waitForExit().status == 1)
        #expect(recorder.stderr.contains("callrec: <stdin>: not a pcap or pcapng capture"), "\(recorder.stderr)")
    }

    /// 200 calls at once through a pipe, as fast as the recorder takes them (the short soak;
    /// `make soak` runs an hour): every call written, in order, the catalog and the files in
    /// agreement, and resident memory flat once the calls are in flight.
    @Test func twoHundredConcurrentCallsThroughAPipe() throws {
        var traffic = TrafficGenerator(concurrentCalls: 200, duration: 40, seed: 9)
        traffic.callLength = 8...16
        let out = FixturePaths.temporaryDirectory("cli-record-soak")
        let report = try SoakRun.run(callrec: FixturePaths.callrecBinary, traffic: traffic, output: out)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.generated.peakConcurrent == 200)
        #expect(report.generated.calls > 400)
        #expect(report.recorded == report.generated.calls, "\(report.summary)")
        #expect(report.inOrder)
        #expect(report.audioFiles == report.generated.calls)
        #expect(report.temporaryFiles == 0)
        #expect(report.verify.hasSuffix("\(report.generated.calls) recordings healthy, nothing to repair\n"), "\(report.verify)")
        #expect(report.rssGrowth < 0.25, "\(report.summary)")
    }

    /// A recorder on a small tmpfs that has written call `n` (2 s); the disk is then filled
    /// to the last byte and call `n + 1` (6 s, starting at 4 s) fed to it.
    func recorderOnAFullDisk(_ n: Int, diskFullWait: Int) throws -> (TinyDisk, String, RecorderProcess) {
        let disk = try #require(TinyDisk.make(kilobytes: 8192))
        let out = disk.path + "/calls"
        let recorder = try RecorderProcess(["--out", out, "--disk-full-wait", "\(diskFullWait)"])
        let stream = PcapMerge.merge([Self.call(n, seconds: 2), Self.call(n + 1, seconds: 6, offset: 4)])
        let (head, tail) = PcapMerge.split(stream, at: Self.at(4))
        try recorder.write(head)
        #expect(recorder.wait(timeout: 60) { lines, _ in lines.count == 1 }, "\(recorder.stderr)")
        disk.fill()
        try recorder.write(tail)
        return (disk, out, recorder)
    }

    /// The recorder on a disk that fills up (a real tmpfs, so it needs the right to mount one):
    /// it pauses, says so, and goes on when space returns, losing nothing.
    @Test(.enabled(if: TinyDisk.available, "needs the right to mount a tmpfs (root)"))
    func aFullDiskPausesRecordingUntilSpaceReturns() throws {
        let (disk, out, recorder) = try recorderOnAFullDisk(10, diskFullWait: 60)
        #expect(recorder.wait(timeout: 60) { _, stderr in stderr.contains("callrec: disk full writing ") }, "\(recorder.stderr)")
        #expect(recorder.lines.count == 1)
        disk.free()
        #expect(recorder.wait(timeout: 60) { lines, _ in lines.count == 2 }, "\(recorder.stderr)")
        #expect(recorder.stderr.contains("callrec: disk space is back after "))
        recorder.closeInput()
        #expect(recorder.waitForExit().status == 0, "\(recorder.stderr)")
        #expect(recorder.calls.map { $0["outcome"] as? String } == ["recorded", "recorded"])
        #expect(files(out, ending: ".partial").isEmpty)
        #expect(try verify(out).stdout.hasSuffix("2 recordings healthy, nothing to repair\n"))
    }

    @Test(.enabled(if: TinyDisk.available, "needs the right to mount a tmpfs (root)"))
    func aDiskThatStaysFullStopsTheRecorderKeepingWhatWasWritten() throws {
        let (disk, out, recorder) = try recorderOnAFullDisk(12, diskFullWait: 1)
        let exit = recorder.waitForExit()
        #expect(exit.status == 1 && !exit.killed, "\(recorder.stderr)")
        #expect(recorder.stderr.contains("callrec: disk still full after 1 s"), "\(recorder.stderr)")
        #expect(recorder.stderr.contains("callrec: stopped (disk full): 1 recorded"), "\(recorder.stderr)")
        let failed = try #require(recorder.calls.last)
        #expect(failed["outcome"] as? String == "failed")
        #expect((failed["error"] as? String)?.contains("No space left on device") == true)
        disk.free()
        #expect(files(out, ending: ".partial").isEmpty)
        #expect(try verify(out).stdout.hasSuffix("1 recording healthy, nothing to repair\n"))
        // The call given up on is dropped, in the ledger or (its disk full too) said on standard error.
        let coverage = try CommandRunner.callrec(["catalog", "coverage", "--out", out, "--failures"])
        #expect(
            coverage.stdout.contains("dropped (disk full: ") || recorder.stderr.contains("could not be entered in the ledger as dropped (disk full: "),
            "\(coverage.stdout)\(recorder.stderr)")
    }
}

/// `callrec record --interface`: a generated call replayed over loopback while the recorder captures it live.
@Suite(.enabled(if: LoopbackSender.canCaptureOnLoopback, "needs permission to capture on lo"), .serialized)
struct RecordLiveCLITests {
    @Test func recordsALiveInterfaceCallByCallUntilStopped() throws {
        let base = UInt16(45_000 + getpid() % 500 * 8)
        let call = LiveInterfaceCLITests.call(base: base)
        let out = FixturePaths.temporaryDirectory("cli-record-live")
        let recorder = try RecorderProcess(
            ["--interface", "lo", "--filter", "udp and portrange \(base)-\(base + 7)", "--out", out, "--status-interval", "0"], input: nil)
        #expect(recorder.wait(timeout: 60) { _, stderr in stderr.contains("callrec: listening on lo") }, "\(recorder.stderr)")
        try LiveInterfaceCLITests.replay(call)
        // Written when its BYE is captured, while the capture goes on.
        #expect(recorder.wait(timeout: 30) { lines, _ in !lines.isEmpty }, "\(recorder.stderr)")
        let line = try #require(recorder.calls.first)
        #expect(line["call_id"] as? String == call.callID)
        #expect(line["end_reason"] as? String == "bye")
        #expect(line["outcome"] as? String == "recorded")
        #expect(line["packets"] as? [Int] == [50, 50])
        recorder.send(SIGUSR1)
        #expect(recorder.wait(timeout: 10) { _, stderr in stderr.contains("callrec: status: ") })
        #expect(recorder.stderr.contains("calls: 0 in flight, 1 recorded"))
        #expect(recorder.stderr.contains(", 0 dropped"))
        recorder.send(SIGTERM)
        #expect(recorder.waitForExit().status == 0, "\(recorder.stderr)")
        #expect(recorder.stderr.contains("callrec: recording interface lo into \(out)"))
    }
}
