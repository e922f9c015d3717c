import Benchmark
import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Pipeline

/// The cost of finding calls, apart from decoding and encoding audio: each
/// benchmark runs `CaptureProcessor` over a capture whose media is SRTP
/// without keys in the SDP (so nothing is decrypted, decoded or encoded and
/// only slicing, SIP, routing and stream statistics remain), against the
/// baseline of reading and slicing the same capture. The unit of work is
/// named in each benchmark.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    let directory = FixturePaths.temporaryDirectory("finding")
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    // A 300 s two-leg SRTP call (15 000 packets per leg), with and without its SIP.
    var call = SyntheticCall()
    call.duration = 300
    call.seed = 42
    call.srtp = true
    call.srtpKeys = .absent  // DTLS-SRTP: nothing to decrypt with, so nothing is decoded
    let signalled = write(call.build().pcap, "srtp-300s.pcap")
    call.signalled = false
    let unsignalled = write(call.build().pcap, "srtp-300s-rtp-only.pcap")

    // 200 calls whose SIP runs over TCP in 536-byte segments, each rejected with 486:
    // signalling only, so that nothing is written (a file's fsync would dwarf the parsing).
    var calls: [UInt8] = []
    for k in 0..<200 {
        var short = SyntheticCall(seed: UInt64(k), duration: 0.1)
        short.finalStatus = 486
        short.transport = .tcp(segmentSize: 536)
        short.callID = "bench-\(k)@example.com"
        short.callerMedia.port = UInt16(20_000 + 2 * k)
        // Each call on a connection of its own.
        short.callerSignalling.port = UInt16(30_000 + k)
        short.start = short.start.advanced(byNanoseconds: Int64(k) * 2_000_000_000)
        let pcap = short.build().pcap
        calls += k == 0 ? pcap : Array(pcap.dropFirst(24))
    }
    let tcp = write(calls, "tcp-200-calls.pcap")

    // 100 000 INVITEs with distinct Call-IDs, 20 000 a second, against a limit of 10 000 calls.
    var flood = PcapWriter()
    let scanner = Endpoint(address: IPAddress("203.0.113.66")!, port: 5060)
    let pbx = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
    for n in 0..<100_000 {
        let invite = "INVITE sip:100@192.0.2.1 SIP/2.0\r\ni: flood-\(n)\r\nf: <sip:scan@203.0.113.66>;tag=1\r\n"
            + "t: <sip:100@192.0.2.1>\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n"
        flood.append(PacketBuilder.ethernetUDP(from: scanner, to: pbx, payload: Array(invite.utf8)),
                     at: call.start.advanced(byNanoseconds: Int64(n) * 50_000))
    }
    let floodPath = write(flood.bytes, "flood-100k.pcap")

    func slice(_ path: String) throws -> Int {
        let diagnostics = Diagnostics()
        let slicer = PacketSlicer(diagnostics: diagnostics)
        let source = try CaptureSource(path: path)
        var bytes = 0
        try source.forEachPacket { packet in
            if let datagram = slicer.slice(packet) { bytes &+= datagram.payload.count }
        }
        return bytes
    }

    func find(_ path: String) throws -> Diagnostics {
        let diagnostics = Diagnostics()
        let processor = CaptureProcessor(options: ConvertOptions(outputDirectory: directory + "/out"), diagnostics: diagnostics) { _ in }
        let source = try CaptureSource(path: path)
        try source.forEachPacket { try processor.process($0) }
        try processor.finish()
        return diagnostics
    }

    Benchmark("Find.baseline read+slice 300s call") { benchmark in
        blackHole(try slice(signalled))
    }
    Benchmark("Find.route 300s SRTP call with SIP") { benchmark in
        let d = try find(signalled)
        precondition(d[.callsEncrypted] == 1 && d[.rtpEncrypted] == 30_000)
    }
    Benchmark("Find.baseline read+slice 300s call without SIP") { benchmark in
        blackHole(try slice(unsignalled))
    }
    Benchmark("Find.pair 300s SRTP call without SIP") { benchmark in
        let d = try find(unsignalled)
        precondition(d[.callsEncrypted] == 1 && d[.rtpEncrypted] == 30_000)
    }
    Benchmark("Find.baseline read+slice 200 calls SIP/TCP") { benchmark in
        blackHole(try slice(tcp))
    }
    Benchmark("Find.SIP over TCP 200 calls") { benchmark in
        let d = try find(tcp)
        precondition(d[.sipMessages] == 200 * 5 && d[.callsWithoutMedia] == 200)
    }
    Benchmark("Find.baseline read+slice 100k INVITEs") { benchmark in
        blackHole(try slice(floodPath))
    }
    Benchmark("Find.flood 100k INVITEs, limit 10k") { benchmark in
        let d = try find(floodPath)
        precondition(d[.callsDroppedOverLimit] == 90_000)
    }
}
