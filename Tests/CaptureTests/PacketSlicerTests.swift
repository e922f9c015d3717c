import CallrecCore
import CallrecTestSupport
import Capture
import Testing

@Suite struct PacketSlicerTests {
    let a = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
    let b = Endpoint(address: IPAddress("192.0.2.2")!, port: 5062)

    func slice(_ frame: [UInt8], link: LinkType = .ethernet, originalLength: Int? = nil, diagnostics: Diagnostics = Diagnostics()) -> (Endpoint, Endpoint, [UInt8])? {
        frame.withUnsafeBytes { raw in
            let packet = RawPacket(timestamp: MediaTime(nanoseconds: 0), bytes: raw, originalLength: originalLength ?? frame.count, linkType: link, number: 1)
            guard let d = PacketSlicer(diagnostics: diagnostics).slice(packet) else { return nil }
            return (d.source, d.destination, Array(d.payload))
        }
    }

    @Test func ethernetIPv4UDP() throws {
        let frame = PacketBuilder.ethernetUDP(from: a, to: b, payload: [1, 2, 3])
        let (src, dst, payload) = try #require(slice(frame))
        #expect(src == a)
        #expect(dst == b)
        #expect(payload == [1, 2, 3])
    }

    @Test func ethernetPaddingIsNotPayload() throws {
        let frame = PacketBuilder.ethernetUDP(from: a, to: b, payload: [7]) + [0, 0, 0, 0, 0, 0]
        #expect(try #require(slice(frame)).2 == [7])
    }

    @Test func vlanAndQinQTags() throws {
        let tagged = PacketBuilder.ethernetUDP(from: a, to: b, payload: [9], vlan: 100)
        #expect(try #require(slice(tagged)).2 == [9])
        // Add an outer 802.1ad tag in front of the 802.1Q one.
        var qinq = Array(tagged[0..<12]) + [0x88, 0xA8, 0x00, 0x0A]
        qinq += tagged[12...]
        #expect(try #require(slice(qinq)).2 == [9])
    }

    @Test func ipv6() throws {
        let v6a = Endpoint(address: IPAddress("2001:db8::1")!, port: 1000)
        let v6b = Endpoint(address: IPAddress("2001:db8::2")!, port: 2000)
        let frame = PacketBuilder.ethernetUDP(from: v6a, to: v6b, payload: [4, 5])
        let (src, dst, payload) = try #require(slice(frame))
        #expect(src == v6a)
        #expect(dst == v6b)
        #expect(payload == [4, 5])
    }

    @Test func rawAndLoopbackLinkTypes() throws {
        let ip = PacketBuilder.ipv4UDP(from: a, to: b, payload: [1])
        #expect(try #require(slice(ip, link: .raw)).2 == [1])
        #expect(try #require(slice([2, 0, 0, 0] + ip, link: .null)).2 == [1])
        #expect(try #require(slice([0, 0, 0, 2] + ip, link: .loop)).2 == [1])
        // Linux cooked v1: 14 bytes then the protocol.
        let sll = [UInt8](repeating: 0, count: 14) + [0x08, 0x00] + ip
        #expect(try #require(slice(sll, link: .linuxSLL)).2 == [1])
        let sll2 = [0x08, 0x00] + [UInt8](repeating: 0, count: 18) + ip
        #expect(try #require(slice(sll2, link: .linuxSLL2)).2 == [1])
    }

    @Test func countsWhatItSkips() {
        let d = Diagnostics()
        var fragment = PacketBuilder.ethernetUDP(from: a, to: b, payload: [1, 2, 3])
        fragment[14 + 6] = 0x20  // more fragments
        #expect(slice(fragment, diagnostics: d) == nil)
        #expect(d[.ipFragments] == 1)
        let frame = PacketBuilder.ethernetUDP(from: a, to: b, payload: [1, 2, 3])
        #expect(slice(Array(frame.prefix(30)), originalLength: frame.count, diagnostics: d) == nil)
        #expect(d[.packetsTruncated] == 1)
        var badLength = frame
        badLength[14 + 3] = 0xFF  // IPv4 total length past the frame
        #expect(slice(badLength, diagnostics: d) == nil)
        #expect(d[.ipMalformed] == 1)
        #expect(slice(frame, link: LinkType(rawValue: 147), diagnostics: d) == nil)
        #expect(d[.linkTypeUnsupported] == 1)
    }
}
