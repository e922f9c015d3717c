import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Testing

/// `callrec inspect`, standard input and `--interface`, through the built binary.
@Suite struct InspectCLITests {
    typealias Run = CommandRunner.Run

    /// Starts the binary; `whileRunning` runs with it started (e.g. sending traffic), then `interrupt` sends SIGINT.
    func callrec(_ arguments: [String], stdin: [UInt8]? = nil, interrupt: Bool = false, whileRunning: () -> Void = {}) throws -> Run {
        try CommandRunner.callrec(arguments, stdin: stdin, interrupt: interrupt, whileRunning: whileRunning)
    }

    func json(_ run: Run) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    @Test func printsCallsAndStreams() throws {
        let run = try callrec(["inspect", FixturePaths.fixture("g711u-2legs-20ms.pcap")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("pcap, Ethernet, 607 packets"))
        #expect(run.stdout.contains("1 call\n"))
        #expect(run.stdout.contains("+4681234567 -> +4687654321"))
        #expect(run.stdout.contains("2 RTP streams"))
        #expect(run.stdout.contains("192.0.2.10:40000"))
    }

    @Test func jsonHasTheDocumentedFields() throws {
        let run = try callrec(["inspect", "--json", FixturePaths.fixture("g711a-2legs-20ms.pcap")])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try json(run)
        let calls = try #require(object["calls"] as? [[String: Any]])
        #expect(calls.count == 1)
        #expect(calls[0]["call_id"] as? String != nil)
        #expect(calls[0]["caller"] as? String == "+4631555010")
        #expect(calls[0]["codecs"] as? [String] == ["PCMA"])
        #expect(calls[0]["end_reason"] as? String == "bye")
        let streams = try #require(object["streams"] as? [[String: Any]])
        #expect(streams.count == 2)
        for key in ["src", "dst", "ssrc", "payload_type", "codec", "packets", "lost", "duplicates", "out_of_order",
                    "max_delta_ms", "mean_jitter_ms", "max_jitter_ms"] {
            #expect(streams[0][key] != nil, "\(key)")
        }
        let ssrc = try #require(streams[0]["ssrc"] as? String)
        #expect(ssrc.range(of: "^0x[0-9A-F]{8}$", options: .regularExpression) != nil)
        #expect(streams[0]["codec"] as? String == "PCMA")
        #expect(streams[0]["packets"] as? Int == 300)
        #expect(streams[0]["found_by"] as? String == "sdp")
    }

    @Test func readsAPcapngFromStandardInputAsFromAFile() throws {
        // The fixture rewritten as pcapng, piped in: the same report as the file gives.
        let pcap = Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.fixture("g711u-2legs-20ms.pcap"))))
        let writer = PcapngWriter(rewriting: pcap, bigEndian: true)
        let piped = try json(try callrec(["inspect", "--json", "-"], stdin: writer.bytes))
        let file = try json(try callrec(["inspect", "--json", FixturePaths.fixture("g711u-2legs-20ms.pcap")]))
        #expect(piped["input"] as? String == "<stdin>")
        #expect(piped["format"] as? String == "pcapng")
        #expect(piped["packets"] as? Int == 607)
        let a = try JSONSerialization.data(withJSONObject: piped["streams"]!, options: .sortedKeys)
        let b = try JSONSerialization.data(withJSONObject: file["streams"]!, options: .sortedKeys)
        #expect(a == b)
    }

    @Test func filtersAFile() throws {
        let run = try callrec(["inspect", "--json", "--filter", "udp port 5060", FixturePaths.fixture("g711u-2legs-20ms.pcap")])
        let object = try json(run)
        #expect((object["streams"] as? [Any])?.isEmpty == true)
        #expect((object["calls"] as? [Any])?.count == 1)
        #expect((object["counters"] as? [String: Int])?["capture_packets_filtered"] == 600)
    }

    @Test func badInputIsOneLineAndExitOne() throws {
        let path = try TemporaryFile.write(Array("hello\n".utf8), name: "notes.pcapng")
        let run = try callrec(["inspect", path])
        #expect(run.status == 1)
        #expect(run.stderr == "callrec: \(path): not a pcap or pcapng capture (unknown magic number) (at byte 0)\n")
        #expect(try callrec(["inspect"]).status == 2)
        #expect(try callrec(["inspect", "x.pcap", "--interface", "lo"]).status == 2)
        let help = try callrec(["inspect", "--help"])
        #expect(help.stdout.contains("--interface"))
        #expect(help.stdout.contains("Examples:"))
    }

    @Test func callsCompleteBeforeAReadErrorAreStillWritten() throws {
        let (path, _, sectionAt) = try BrokenCapture.callThenUnknownSection()
        let out = FixturePaths.temporaryDirectory("cli-cut")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try callrec(["convert", path, "--out", out])
        #expect(run.status == 1)
        #expect(run.problems == "callrec: \(path): pcapng section version 3.0 is not supported (at byte \(sectionAt), after packet 107)\n")
        #expect(run.stdout.contains("1 recording written"))
    }

    @Test func garbageInTheMiddleIsANoteNotAFailure() throws {
        var call = SyntheticCall()
        call.duration = 1
        var bytes = call.build().pcap
        // 100 bytes of garbage after the 10th record.
        let reader = try CaptureFileReader(bytes: bytes, diagnostics: Diagnostics())
        var offset = 24
        for _ in 0..<10 { offset += 16 + (try reader.next()!.bytes.count) }
        bytes.insert(contentsOf: [UInt8](repeating: 0xEE, count: 100), at: offset)
        let path = try TemporaryFile.write(bytes)
        let run = try callrec(["inspect", path])
        #expect(run.status == 0)
        #expect(run.stderr == "callrec: note: \(path): skipped 100 bytes that are not capture records at byte \(offset)\n")
        #expect(run.stdout.contains("1 call"))
    }
}

/// `--interface`: a generated call replayed over loopback while callrec captures it.
@Suite(.enabled(if: LoopbackSender.canCaptureOnLoopback, "needs permission to capture on lo"), .serialized)
struct LiveInterfaceCLITests {
    /// A one-second call between two loopback endpoints on ports unlikely to be in use.
    static func call(base: UInt16) -> SyntheticCall {
        var call = SyntheticCall()
        let lo = IPAddress("127.0.0.1")!
        call.callerSignalling = Endpoint(address: lo, port: base)
        call.calleeSignalling = Endpoint(address: lo, port: base + 2)
        call.callerMedia = Endpoint(address: lo, port: base + 4)
        call.calleeMedia = Endpoint(address: lo, port: base + 6)
        call.duration = 1
        call.ringing = 0.2
        return call
    }

    /// Sends the call's UDP datagrams over loopback at the pace of their capture times.
    static func replay(_ call: SyntheticCall) throws {
        let reader = try CaptureFileReader(bytes: call.build().pcap, diagnostics: Diagnostics())
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        let sender = LoopbackSender()
        var first: MediaTime? = nil
        let started = Date()
        try reader.forEachPacket { packet in
            guard let d = slicer.slice(packet) else { return }
            let due = packet.timestamp.seconds(since: first ?? packet.timestamp)
            if first == nil { first = packet.timestamp }
            let wait = due - Date().timeIntervalSince(started)
            if wait > 0 { usleep(UInt32(wait * 1e6)) }
            sender.send(Array(d.payload), from: d.source.port, to: d.destination.port)
        }
    }

    /// Runs `callrec COMMAND arguments` on `lo`, replays `call` once it listens, and stops it with SIGINT.
    func run(_ command: String, _ arguments: [String], call: SyntheticCall) throws -> InspectCLITests.Run {
        let process = try RecorderProcess(arguments, command: command, input: nil)
        #expect(process.wait(timeout: 60) { _, stderr in stderr.contains("callrec: listening on lo") }, "\(process.stderr)")
        try? Self.replay(call)
        usleep(300_000)  // the last datagrams on their way through lo to libpcap
        process.send(SIGINT)
        let exit = process.waitForExit()
        return InspectCLITests.Run(status: exit.status, killed: exit.killed, stdout: process.stdout, stderr: process.stderr)
    }

    @Test func inspectsALiveInterfaceUntilInterrupted() throws {
        let base = UInt16(43_000 + getpid() % 500 * 8)
        let call = Self.call(base: base)
        let result = try run("inspect", ["--json", "--interface", "lo", "--filter", "udp and portrange \(base)-\(base + 7)"], call: call)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try InspectCLITests().json(result)
        #expect(object["format"] as? String == "live")
        let calls = try #require(object["calls"] as? [[String: Any]])
        #expect(calls.first?["call_id"] as? String == call.callID)
        #expect(calls.first?["end_reason"] as? String == "bye")
        let streams = try #require(object["streams"] as? [[String: Any]])
        #expect(streams.map { $0["packets"] as? Int } == [50, 50])
        #expect(streams.allSatisfy { $0["found_by"] as? String == "sdp" && $0["lost"] as? Int == 0 })
    }

    @Test func convertsALiveInterfaceUntilInterrupted() throws {
        let base = UInt16(47_000 + getpid() % 500 * 8)
        let call = Self.call(base: base)
        let out = FixturePaths.temporaryDirectory("cli-live")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let result = try run("convert", ["--interface", "lo", "--filter", "udp and portrange \(base)-\(base + 7)", "--out", out, "--json"], call: call)
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first)
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let index = try #require(object["call"] as? [String: Any])
        #expect(index["call_id"] as? String == call.callID)
        #expect(index["end_reason"] as? String == "bye")
        let channels = try #require(index["channels"] as? [[String: Any]])
        #expect(channels.map { $0["packets"] as? Int } == [50, 50])
        let audio = try #require(object["audio"] as? String)
        #expect(FileManager.default.fileExists(atPath: audio))
    }
}
