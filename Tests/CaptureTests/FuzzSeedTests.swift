import CallrecCore
import CallrecTestSupport
import Capture
import SIP
import Foundation
import Testing

/// The hand-made seeds of the capture fuzzer's corpus (Fuzz/corpus/capture/seed-*):
/// one small capture per format, link layer and defect the reader and slicer
/// handle. The files must equal what these builders make; run with
/// CALLREC_RECORD_GOLDEN=1 to rewrite them.
@Suite struct FuzzSeedTests {
    static let a = Endpoint(address: IPAddress("192.0.2.1")!, port: 40_000)
    static let b = Endpoint(address: IPAddress("192.0.2.2")!, port: 50_000)
    static let a6 = Endpoint(address: IPAddress("2001:db8::1")!, port: 5060)
    static let b6 = Endpoint(address: IPAddress("2001:db8::2")!, port: 5060)
    static let t0 = MediaTime(seconds: 1_700_000_000, nanoseconds: 0)

    static func rtp(_ k: Int, pt: UInt8 = 0) -> [UInt8] {
        PacketBuilder.rtp(payloadType: pt, sequence: UInt16(k), timestamp: UInt32(k * 160), ssrc: 0x1234_5678, marker: k == 0, payload: [UInt8](repeating: 0xFF, count: 40))
    }

    static func at(_ k: Int) -> MediaTime { t0.advanced(byNanoseconds: Int64(k) * 20_000_000) }

    static let sdpInvite: [UInt8] = {
        let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        let head = "INVITE sip:bob@192.0.2.2 SIP/2.0\r\nCall-ID: fuzz-seed-1\r\nCSeq: 1 INVITE\r\nFrom: <sip:alice@192.0.2.1>;tag=1\r\n"
            + "To: <sip:bob@192.0.2.2>\r\nContent-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }()

    static var seeds: [(String, [UInt8])] {
        var list: [(String, [UInt8])] = []
        var p = PcapWriter()
        p.append(PacketBuilder.ethernetUDP(from: a, to: b, payload: sdpInvite), at: t0)
        for k in 0..<3 { p.append(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(k)), at: at(k)) }
        list.append(("seed-pcap-sip-rtp", p.bytes))

        p = PcapWriter(linkType: 113, nanosecond: true, bigEndian: true)
        let ip = PacketBuilder.ipv4UDP(from: a, to: b, payload: rtp(1, pt: 8))
        p.append([UInt8](repeating: 0, count: 14) + [0x08, 0x00] + ip, at: t0)
        p.append([UInt8](repeating: 0, count: 14) + [0x08, 0x00] + PacketBuilder.ipv4UDP(from: a, to: b, payload: rtp(2, pt: 8)), at: at(1))
        list.append(("seed-pcap-ns-be-sll", p.bytes))

        var n = PcapngWriter()
        n.interface(linkType: 1)
        n.interface(linkType: 276, resolution: 9)
        n.interface(linkType: 101, resolution: 0x80 | 20, offsetSeconds: 3)
        n.interface(linkType: 0)
        n.packet(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(0), vlan: 7), at: t0, interface: 0)
        n.block(0x0000_0BAD, [1, 2, 3])
        n.packet([0x08, 0x00] + [UInt8](repeating: 0, count: 18) + ip, at: at(1), interface: 1)
        n.packet(ip, at: at(2), interface: 2)
        n.simplePacket(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(3)))
        n.packet([2, 0, 0, 0] + PacketBuilder.ipv4UDP(from: a, to: b, payload: rtp(4)), at: at(4), interface: 3)
        n.block(5, [UInt8](repeating: 0, count: 16))
        n.block(0x4242, [9])
        list.append(("seed-pcapng-multilink", n.bytes))

        n = PcapngWriter(bigEndian: true)
        n.interface(linkType: 1)
        n.obsoletePacket(PacketBuilder.ethernetUDP(from: a6, to: b6, payload: rtp(0)), at: t0)
        n.section()
        n.interface(linkType: 229)
        n.packet(PacketBuilder.ipv6UDP(from: a6, to: b6, payload: sdpInvite), at: at(1))
        list.append(("seed-pcapng-sections-ipv6", n.bytes))

        p = PcapWriter(linkType: 101)
        for (k, fragment) in PacketBuilder.ipv4Fragments(from: a, to: b, payload: sdpInvite, identification: 77, fragmentSize: 128).enumerated().reversed() {
            p.append(fragment, at: at(k))
        }
        list.append(("seed-pcap-ipv4-fragments", p.bytes))

        p = PcapWriter(linkType: 229)
        for (k, fragment) in PacketBuilder.ipv6Fragments(from: a6, to: b6, payload: sdpInvite, identification: 78, fragmentSize: 96, hopByHop: true).enumerated() {
            p.append(fragment, at: at(k))
        }
        list.append(("seed-pcap-ipv6-fragments", p.bytes))

        p = PcapWriter()
        let sent = PacketBuilder.ipv4UDP(from: a, to: b, payload: rtp(0))
        p.append(PacketBuilder.ethernet(sent), at: t0)
        p.append(PacketBuilder.ethernet(PacketBuilder.icmpPortUnreachable(from: b.address, quoting: sent)), at: at(1))
        list.append(("seed-pcap-icmp-quote", p.bytes))

        p = PcapWriter()
        p.append(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(0)), at: t0)
        p.raw([0xEE, 0xEE, 0, 1, 2, 3, 0x40, 0x0D, 0x03, 0, 7, 7, 7])
        p.append(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(1)), at: at(1))
        p.append(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(2)), at: at(2), capturedLength: 30)
        p.raw([1, 2, 3])
        list.append(("seed-pcap-garbage-cut", p.bytes))

        n = PcapngWriter()
        n.interface(linkType: 1)
        n.packet(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(0)), at: t0)
        n.raw([6, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3])
        n.packet(PacketBuilder.ethernetUDP(from: a, to: b, payload: rtp(1)), at: at(1))
        list.append(("seed-pcapng-garbage-cut", Array(n.bytes.dropLast(7))))
        return list
    }

    static let directory = FixturePaths.repositoryRoot + "/Fuzz/corpus/capture/"

    @Test func seedsAreCurrent() throws {
        let record = ProcessInfo.processInfo.environment["CALLREC_RECORD_GOLDEN"] == "1"
        for (name, bytes) in Self.seeds {
            let path = Self.directory + name
            if record {
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }
            let committed = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(Array(committed) == bytes, "\(name) differs from its builder; rewrite with CALLREC_RECORD_GOLDEN=1")
            #expect(bytes.count <= 16_384, "\(name) is longer than the fuzzer's -max_len")
        }
    }

    /// Every seed reads to its end: the corpus starts from inputs that reach deep code.
    @Test func seedsReadWithoutAnError() throws {
        for (name, bytes) in Self.seeds {
            let diagnostics = Diagnostics()
            let reader = try CaptureFileReader(bytes: bytes, name: name, diagnostics: diagnostics)
            let slicer = PacketSlicer(diagnostics: diagnostics)
            var datagrams = 0
            var sip = 0
            try reader.forEachPacket { packet in
                guard let d = slicer.slice(packet) else { return }
                datagrams += 1
                if SIPMessage.looksLikeSIP(d.payload), SIPMessage.parse(d.payload)?.message.hasSDP == true { sip += 1 }
            }
            #expect(datagrams > 0, "\(name)")
            if name.contains("sip") || name.contains("fragments") { #expect(sip == 1, "\(name)") }
        }
    }
}
