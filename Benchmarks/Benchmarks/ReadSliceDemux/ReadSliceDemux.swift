import Benchmark
import CPcap
import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Inspection

/// Reading captures: `callrec inspect`'s read + slice + demux (CaptureSource,
/// PacketSlicer, SIP/SDP, stream table, tshark statistics) against a bare
/// libpcap read loop and against `tshark -q -z rtp,streams`, all over the same
/// generated capture in the same run; and peak memory over a 10 MB and a 1 GB
/// capture. The captures are generated in a temporary folder in each
/// benchmark's setup and deleted in its teardown.
///
/// Ratios: packets/s of inspect / packets/s of libpcap (aim >= 0.5), and
/// wall time of tshark / wall time of inspect (aim >= 30).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    // The mallocs of a whole inspect (SIP, SDP, one table entry per stream) do not
    // grow with the packets: the same ~24k for 10 MB, 1M packets and 1 GB.
    // Checked against Thresholds/.
    let mallocs: [BenchmarkMetric: BenchmarkThresholds] = [.mallocCountTotal: .init(relative: [.p50: 5.0, .p90: 5.0], absolute: [.p50: 1000, .p90: 1000])]
    let directory = FixturePaths.temporaryDirectory("read")
    let mixed = directory + "/calls-1M.pcap"
    let small = directory + "/calls-10MB.pcap"
    let large = directory + "/calls-1GB.pcap"
    let packets = 1_000_000

    @Sendable func make(_ path: String, packets: Int) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            try GeneratedCapture(calls: 100).write(to: path, packets: packets)
        }
    }
    @Sendable func remove(_ path: String) async throws {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: directory)  // only once empty
    }

    Benchmark(
        "ReadSliceDemux.inspect 1M packets 100 calls",
        configuration: .init(thresholds: mallocs),
        closure: { benchmark in
            benchmark.startMeasurement()
            let report = Inspector.inspect(.file(mixed), diagnostics: Diagnostics())
            benchmark.stopMeasurement()
            precondition(report.packets == packets && report.streams.count == 200, "the capture must inspect")
            blackHole(report)
        }, setup: { try await make(mixed, packets: packets) })

    Benchmark(
        "ReadSliceDemux.libpcap pcap_next_ex 1M packets (baseline)",
        closure: { benchmark in
            benchmark.startMeasurement()
            let count = LibpcapLoop.count(mixed)
            benchmark.stopMeasurement()
            precondition(count == packets, "libpcap must read the capture")
        }, setup: { try await make(mixed, packets: packets) })

    Benchmark(
        "ReadSliceDemux.tshark -z rtp,streams 1M packets", configuration: .init(maxDuration: .seconds(60), maxIterations: 3),
        closure: { benchmark in
            let tshark = Process()
            tshark.executableURL = URL(fileURLWithPath: "/usr/bin/tshark")
            tshark.arguments = ["-n", "-q", "-r", mixed, "-z", "rtp,streams"]
            tshark.standardOutput = FileHandle.nullDevice
            tshark.standardError = FileHandle.nullDevice
            benchmark.startMeasurement()
            try tshark.run()
            tshark.waitUntilExit()
            benchmark.stopMeasurement()
            precondition(tshark.terminationStatus == 0, "tshark must run")
        }, setup: {
            try await make(mixed, packets: packets)
        }, teardown: { try await remove(mixed) })

    // 10 MB and 1 GB of the same traffic: peak memory and mallocs must not grow with the capture.
    Benchmark(
        "ReadSliceDemux.memory inspect 10 MB", configuration: .init(maxIterations: 3, thresholds: mallocs),
        closure: { _ in
            let report = Inspector.inspect(.file(small), diagnostics: Diagnostics())
            precondition(report.error == nil, "the capture must inspect")
            blackHole(report)
        }, setup: { try await make(small, packets: GeneratedCapture.packets(bytes: 10 << 20)) }, teardown: { try await remove(small) })

    Benchmark(
        "ReadSliceDemux.memory inspect 1 GB", configuration: .init(maxDuration: .seconds(60), maxIterations: 2, thresholds: mallocs),
        closure: { _ in
            let report = Inspector.inspect(.file(large), diagnostics: Diagnostics())
            precondition(report.error == nil, "the capture must inspect")
            blackHole(report)
        }, setup: { try await make(large, packets: GeneratedCapture.packets(bytes: 1 << 30)) }, teardown: { try await remove(large) })
}

/// A bare libpcap read loop: open, pcap_next_ex until the end, count.
enum LibpcapLoop {
    static func count(_ path: String) -> Int {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let pcap = pcap_open_offline(path, &errbuf) else { return -1 }
        defer { pcap_close(pcap) }
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        var n = 0
        while pcap_next_ex(pcap, &header, &data) == 1 { n += 1 }
        return n
    }
}

/// Many concurrent calls as a PBX mirror port sees them: for each call an
/// INVITE with SDP and its 200 with SDP, then 20 ms PCMU from both legs,
/// interleaved (1M packets over 100 calls: 100 s calls, a usual length). Written straight to disk with a small buffer, so that making
/// a 1 GB capture does not itself use memory.
struct GeneratedCapture {
    var calls: Int
    static let frameLength = 14 + 20 + 8 + 12 + 160
    static let recordLength = 16 + frameLength

    /// About how many packets make `bytes` of capture.
    static func packets(bytes: Int) -> Int { bytes / recordLength }

    /// An INVITE or its 200 OK with an SDP body naming `media`, as a SIP phone writes them.
    static func sip(_ startLine: String, call: Int, media: Endpoint) -> [UInt8] {
        let sdp = "v=0\r\no=- \(call) 1 IN IP4 \(media.address)\r\ns=-\r\nc=IN IP4 \(media.address)\r\nt=0 0\r\n"
            + "m=audio \(media.port) RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            + "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
        let text = "\(startLine)\r\nVia: SIP/2.0/UDP 10.2.0.1:5060;branch=z9hG4bK\(call)\r\nMax-Forwards: 70\r\n"
            + "From: <sip:+4681000\(call)@10.2.0.1>;tag=\(call)a\r\nTo: <sip:+4631000\(call)@10.2.0.1>\(startLine.hasPrefix("SIP") ? ";tag=\(call)b" : "")\r\n"
            + "Call-ID: bench-\(call)@callrec\r\nCSeq: 1 INVITE\r\nContact: <sip:+4681000\(call)@10.2.0.1>\r\n"
            + "Content-Type: application/sdp\r\nContent-Length: \(sdp.utf8.count)\r\n\r\n\(sdp)"
        return Array(text.utf8)
    }

    func write(to path: String, packets: Int) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        func flush() {
            file.write(Data(buffer))
            buffer.removeAll(keepingCapacity: true)
        }
        func record(_ frame: [UInt8], _ time: MediaTime) {
            buffer.appendLE32(UInt32(time.nanoseconds / 1_000_000_000))
            buffer.appendLE32(UInt32(time.nanoseconds % 1_000_000_000 / 1000))
            buffer.appendLE32(UInt32(frame.count))
            buffer.appendLE32(UInt32(frame.count))
            buffer += frame
            if buffer.count > (1 << 20) - 4096 { flush() }
        }
        buffer += PcapWriter().bytes  // the 24-byte file header
        let start = MediaTime(seconds: 1_795_000_000, microseconds: 0)
        var written = 0
        var legs: [(from: Endpoint, to: Endpoint, ssrc: UInt32)] = []
        for c in 0..<calls where written < packets {
            let caller = Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(c + 1)), port: UInt16(10_000 + 2 * (c % 20_000)))
            let callee = Endpoint(address: IPAddress(ipv4: 0x0A01_0000 | UInt32(c + 1)), port: UInt16(30_000 + 2 * (c % 10_000)))
            let proxy = Endpoint(address: IPAddress(ipv4: 0x0A02_0001), port: 5060)
            let phone = Endpoint(address: caller.address, port: 5060)
            record(PacketBuilder.ethernetUDP(from: phone, to: proxy, payload: Self.sip("INVITE sip:+4631000\(c)@10.2.0.1 SIP/2.0", call: c, media: caller)), start)
            record(PacketBuilder.ethernetUDP(from: proxy, to: phone, payload: Self.sip("SIP/2.0 200 OK", call: c, media: callee)), start)
            written += 2
            legs.append((caller, callee, UInt32(2 * c + 1)))
            legs.append((callee, caller, UInt32(2 * c + 2)))
        }
        var rng = SeededRandom(seed: 3)
        var k = 0
        let payload = [UInt8](repeating: 0xFF, count: 160)
        while written < packets {
            for leg in legs where written < packets {
                let time = start.advanced(byNanoseconds: 100_000_000 + Int64(k) * 20_000_000 + Int64(rng.uniform(0...2_000_000)))
                let rtp = PacketBuilder.rtp(payloadType: 0, sequence: UInt16(truncatingIfNeeded: k), timestamp: UInt32(truncatingIfNeeded: k * 160), ssrc: leg.ssrc, payload: payload)
                record(PacketBuilder.ethernetUDP(from: leg.from, to: leg.to, payload: rtp), time)
                written += 1
            }
            k += 1
        }
        flush()
    }
}
