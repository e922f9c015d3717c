import CallrecTestSupport
import Foundation
import Testing

/// Runs the built `callrec` binary the way a user does.
@Suite struct CLITests {
    typealias Run = CommandRunner.Run

    func callrec(_ arguments: [String], stdin: [UInt8]? = nil, in directory: String? = nil) throws -> Run {
        try CommandRunner.callrec(arguments, in: directory, stdin: stdin)
    }

    func files(in directory: String) -> [String] {
        (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? []).sorted()
    }

    @Test func convertsTheBundledFixture() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let run = try callrec(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(".opus"))
        #expect(run.stdout.contains("+4681234567 -> +4687654321"))
        #expect(run.stdout.contains("1 recording written"))
        let written = files(in: out)
        #expect(written.filter { $0.hasSuffix(".opus") }.count == 1)
        #expect(written.contains("catalog.sqlite"))
    }

    @Test func readsStandardInput() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.fixture("g711a-2legs-20ms.pcap"))))
        let run = try callrec(["convert", "-", "--out", out, "--json"], stdin: bytes)
        #expect(run.status == 0, "\(run.stderr)")
        let line = try #require(run.stdout.split(separator: "\n").first)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let call = object?["call"] as? [String: Any]
        #expect(call?["caller"] as? String == "+4631555010")
    }

    @Test func missingFileIsOneLineAndExitOne() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let run = try callrec(["convert", "/nonexistent/capture.pcap", "--out", out])
        #expect(run.status == 1)
        #expect(run.problems == "callrec: /nonexistent/capture.pcap: no such file\n")
        #expect(files(in: out).allSatisfy { $0.hasPrefix("catalog.sqlite") || $0.hasPrefix("recorder.") })
    }

    @Test func notACaptureIsOneLineAndExitOne() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let path = try TemporaryFile.write(Array("hello, this is not a capture\n".utf8), name: "readme.pcap")
        let run = try callrec(["convert", path, "--out", out])
        #expect(run.status == 1)
        #expect(run.problems == "callrec: \(path): not a pcap or pcapng capture (unknown magic number) (at byte 0)\n")
    }

    @Test func captureWithoutCallsSaysSo() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        var writer = PcapWriter()
        let a = CallrecCore.Endpoint(address: CallrecCore.IPAddress("10.0.0.1")!, port: 53)
        writer.append(PacketBuilder.ethernetUDP(from: a, to: a, payload: [1, 2, 3]), at: .init(nanoseconds: 0))
        let path = try TemporaryFile.write(writer.bytes)
        let run = try callrec(["convert", path, "--out", out])
        #expect(run.status == 1)
        #expect(run.problems.hasPrefix("callrec: \(path): no calls with audio found (1 packets"))
        #expect(run.problems.split(separator: "\n").count == 1)
        #expect(files(in: out).allSatisfy { $0.hasPrefix("catalog.sqlite") || $0.hasPrefix("recorder.") })
    }

    @Test func oneBadInputDoesNotStopTheOthers() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let run = try callrec(["convert", "/nonexistent.pcap", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", out])
        #expect(run.status == 1)
        #expect(run.stdout.contains("1 recording written"))
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try callrec(["convert"]).status == 2)
        #expect(try callrec(["convert", "x.pcap", "--complexity", "11"]).status == 2)
        #expect(try callrec(["frobnicate"]).status == 2)
        let help = try callrec(["convert", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--out"))
    }
}

import CallrecCore
