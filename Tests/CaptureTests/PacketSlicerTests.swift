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

@Suite struct FragmentReassemblyTests {
    static let a = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
    static let b = Endpoint(address: IPAddress("192.0.2.2")!, port: 5060)
    static let a6 = Endpoint(address: IPAddress("2001:db8::1")!, port: 5060)
    static let b6 = Endpoint(address: IPAddress("2001:db8::2")!, port: 5060)
    static let invite = Array(("INVITE sip:bob@example.com SIP/2.0\r\n" + String(repeating: "a=x-padding:0123456789\r\n", count: 150)).utf8)

    /// Feeds raw IP packets (one per capture second unless `times` says otherwise) and returns the whole payloads.
    static func feed(_ packets: [[UInt8]], times: [Int64]? = nil, slicer: PacketSlicer) -> [(Endpoint, Endpoint, [UInt8])] {
        var out: [(Endpoint, Endpoint, [UInt8])] = []
        for (k, ip) in packets.enumerated() {
            let time = MediaTime(nanoseconds: (times?[k] ?? Int64(k)) * 1_000_000_000)
            ip.withUnsafeBytes { raw in
                let packet = RawPacket(timestamp: time, bytes: raw, originalLength: ip.count, linkType: .raw, number: k + 1)
                if let d = slicer.slice(packet) { out.append((d.source, d.destination, Array(d.payload))) }
            }
        }
        return out
    }

    @Test(arguments: [false, true])
    func ipv4FragmentsInAnyOrder(reversed: Bool) throws {
        let d = Diagnostics()
        var fragments = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: 0x4242, fragmentSize: 1480)
        #expect(fragments.count == 3)
        if reversed { fragments.reverse() }
        let out = Self.feed(fragments, slicer: PacketSlicer(diagnostics: d))
        #expect(out.count == 1)
        #expect(out.first?.0 == Self.a)
        #expect(out.first?.2 == Self.invite)
        #expect(d[.ipFragments] == 3)
        #expect(d[.ipFragmentsReassembled] == 1)
        #expect(d[.ipFragmentsDropped] == 0)
    }

    /// Found by the `fragment` fuzz target: the datagram was read with the
    /// protocol of the fragment that completed it, not of its first one.
    @Test func aReassembledDatagramHasItsFirstFragmentsProtocol() throws {
        let d = Diagnostics()
        var fragments = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: 0x4243, fragmentSize: 1480)
        // The last fragment says TCP (6); the reassembled datagram is still the first fragment's UDP.
        fragments[fragments.count - 1][9] = 6
        let out = Self.feed(fragments, slicer: PacketSlicer(diagnostics: d))
        #expect(out.map(\.2) == [Self.invite])
        #expect(d[.ipFragmentsReassembled] == 1)
    }

    @Test(arguments: [false, true])
    func ipv6FragmentsBehindExtensionHeaders(hopByHop: Bool) throws {
        let d = Diagnostics()
        let fragments = PacketBuilder.ipv6Fragments(
            from: Self.a6, to: Self.b6, payload: Self.invite, identification: 0xB064_7780, fragmentSize: 1448, hopByHop: hopByHop)
        let out = Self.feed(fragments.reversed(), slicer: PacketSlicer(diagnostics: d))
        #expect(out.map(\.2) == [Self.invite])
        #expect(out.first?.1 == Self.b6)
        #expect(d[.ipFragmentsReassembled] == 1)
    }

    @Test func interleavedDatagramsStayApart() {
        let d = Diagnostics()
        let one = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: 1, fragmentSize: 1480)
        let two = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Array(Self.invite.reversed()), identification: 2, fragmentSize: 1480)
        let out = Self.feed([one[0], two[0], two[1], one[1], one[2], two[2]], slicer: PacketSlicer(diagnostics: d))
        #expect(out.map(\.2) == [Self.invite, Array(Self.invite.reversed())])
    }

    @Test func aDatagramMissingAFragmentTimesOutInCaptureTime() {
        let d = Diagnostics()
        let slicer = PacketSlicer(diagnostics: d)
        let lost = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: 7, fragmentSize: 1480)
        let later = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: 8, fragmentSize: 1480)
        // Two fragments of datagram 7 at t=0 s; its last one never comes. Datagram 8 arrives 31 s later.
        let out = Self.feed([lost[0], lost[1]] + later, times: [0, 0, 31, 31, 31], slicer: slicer)
        #expect(out.count == 1)
        #expect(d[.ipFragmentsDropped] == 2)
        #expect(slicer.reassembler.datagramsInFlight == 0)
    }

    @Test func memoryIsBoundedAndEvictionsAreCounted() {
        let d = Diagnostics()
        let limits = FragmentReassembler.Limits(maxDatagrams: 4, maxBytes: 1 << 20, timeout: 30_000_000_000)
        let slicer = PacketSlicer(diagnostics: d, fragmentLimits: limits)
        // 100 datagrams whose last fragment never comes: at most 4 are held.
        let firsts = (0..<100).map { k in
            PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: UInt16(k), fragmentSize: 1480)[0]
        }
        _ = Self.feed(firsts, times: Array(repeating: 0, count: 100), slicer: slicer)
        #expect(slicer.reassembler.datagramsInFlight == 4)
        #expect(d[.ipFragmentsDropped] == 96)
    }

    @Test func malformedAndContradictoryFragmentsAreDropped() {
        let d = Diagnostics()
        let slicer = PacketSlicer(diagnostics: d)
        var fragments = PacketBuilder.ipv4Fragments(from: Self.a, to: Self.b, payload: Self.invite, identification: 9, fragmentSize: 1480)
        // A non-final fragment whose length is not a multiple of 8.
        var odd = fragments[0]
        odd.removeLast(3)
        odd[3] = UInt8((odd.count) & 0xFF)
        odd[2] = UInt8(odd.count >> 8)
        _ = Self.feed([odd], slicer: slicer)
        #expect(d[.ipFragmentsDropped] == 1)
        // Two last fragments that end the datagram in different places.
        var early = fragments[2]
        early[6] = 0x00
        early[7] = 0x01  // offset 8, no more fragments: ends at 8 + data
        fragments.insert(early, at: 1)
        let out = Self.feed(fragments, slicer: slicer)
        #expect(out.isEmpty)
        #expect(d[.ipFragmentsReassembled] == 0)
    }

    @Test func rtpQuotedInAnICMPErrorIsNotTraffic() throws {
        let d = Diagnostics()
        let rtp = PacketBuilder.rtp(payloadType: 8, sequence: 1, timestamp: 160, ssrc: 0xC647_C3F8, payload: [UInt8](repeating: 0xD5, count: 160))
        let sent = PacketBuilder.ipv4UDP(from: Self.a, to: Self.b, payload: rtp)
        let icmp = PacketBuilder.icmpPortUnreachable(from: Self.b.address, quoting: sent)
        let out = Self.feed([sent, icmp], slicer: PacketSlicer(diagnostics: d))
        #expect(out.count == 1)
        #expect(d[.icmpMessages] == 1)
        #expect(d[.udpDatagrams] == 1)
    }
}
