import CallrecCore

/// Slices a captured frame down to its transport payload: link layer
/// (Ethernet with 802.1Q/802.1ad tags, Linux SLL and SLL2, raw IP, BSD
/// null/loopback) -> IPv4 or IPv6 (options and extension headers skipped,
/// fragments reassembled) -> UDP or TCP.
///
/// Everything that is not a whole UDP or TCP payload is counted in
/// `Diagnostics` and skipped. ICMP is counted and never looked into: the
/// packet an ICMP error quotes (often RTP to a closed port) is not traffic.
/// No allocation: the result borrows the frame, or for a reassembled
/// datagram the reassembler's buffer; either stays valid until the next call.
/// Copies of a slicer share one `FragmentReassembler`.
public struct PacketSlicer {
    private let diagnostics: Diagnostics
    /// Fragments waiting for the rest of their datagram.
    public let reassembler: FragmentReassembler

    /// A slicer counting into `diagnostics`, reassembling fragments within `fragmentLimits`.
    public init(diagnostics: Diagnostics, fragmentLimits: FragmentReassembler.Limits = .default) {
        self.diagnostics = diagnostics
        reassembler = FragmentReassembler(limits: fragmentLimits, diagnostics: diagnostics)
    }

    /// The transport payload of `packet`, or nil (counted) if it has none.
    public func slice(_ packet: borrowing RawPacket) -> Datagram? {
        if packet.bytes.count < packet.originalLength {
            // Snap-length cut: the payload is incomplete, so nothing in it can be trusted.
            diagnostics.count(.packetsTruncated)
            return nil
        }
        guard let (networkOffset, etherType) = linkLayer(packet.bytes, packet.linkType) else { return nil }
        guard let network = packet.bytes.suffix(from: networkOffset) else {
            diagnostics.count(.ipMalformed)
            return nil
        }
        switch etherType {
        case 0x0800: return ipv4(network, at: packet.timestamp)
        case 0x86DD: return ipv6(network, at: packet.timestamp)
        default:
            diagnostics.count(.notIP)
            return nil
        }
    }

    /// Returns the offset of the network header and its EtherType (nil, counted, when there is none).
    @inline(__always)
    public func linkLayer(_ bytes: UnsafeRawBufferPointer, _ linkType: LinkType) -> (Int, UInt16)? {
        switch linkType {
        case .ethernet:
            // dst(6) src(6) type(2), then any number of 802.1Q (0x8100) / 802.1ad (0x88A8)
            // / legacy QinQ (0x9100) tags of 4 bytes each.
            var offset = 12
            var tags = 0
            while let type = bytes.u16be(at: offset) {
                if type == 0x8100 || type == 0x88A8 || type == 0x9100 {
                    offset += 4
                    tags += 1
                    if tags > 8 { break }
                    continue
                }
                if type <= 1500 {
                    // 802.3 length field: LLC/SNAP, not IP in practice.
                    diagnostics.count(.notIP)
                    return nil
                }
                return (offset + 2, type)
            }
            diagnostics.count(.ipMalformed)
            return nil
        case .linuxSLL:
            // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            guard let type = bytes.u16be(at: 14) else {
                diagnostics.count(.ipMalformed)
                return nil
            }
            return (16, type)
        case .linuxSLL2:
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
            guard let type = bytes.u16be(at: 0), bytes.count >= 20 else {
                diagnostics.count(.ipMalformed)
                return nil
            }
            return (20, type)
        case .raw, .rawLegacy:
            guard let first = bytes.u8(at: 0) else {
                diagnostics.count(.ipMalformed)
                return nil
            }
            switch first >> 4 {
            case 4: return (0, 0x0800)
            case 6: return (0, 0x86DD)
            default:
                diagnostics.count(.notIP)
                return nil
            }
        case .ipv4:
            return (0, 0x0800)
        case .ipv6:
            return (0, 0x86DD)
        case .null, .loop:
            // A 4-byte address family: host order for DLT_NULL (either order seen
            // in files), network order for DLT_LOOP. AF_INET is 2 everywhere;
            // AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
            guard let be = bytes.u32be(at: 0), let le = bytes.u32le(at: 0) else {
                diagnostics.count(.ipMalformed)
                return nil
            }
            let family = linkType == .loop ? be : (le < 0x100 ? le : be)
            switch family {
            case 2: return (4, 0x0800)
            case 10, 24, 28, 30: return (4, 0x86DD)
            default:
                diagnostics.count(.notIP)
                return nil
            }
        default:
            diagnostics.count(.linkTypeUnsupported)
            return nil
        }
    }

    @inline(__always)
    func ipv4(_ bytes: UnsafeRawBufferPointer, at time: MediaTime) -> Datagram? {
        // version/IHL(1) TOS(1) total length(2) id(2) flags/fragment offset(2) TTL(1) protocol(1)
        // checksum(2) source(4) destination(4) options...
        guard let versionIHL = bytes.u8(at: 0), versionIHL >> 4 == 4,
              let totalLength = bytes.u16be(at: 2), let identification = bytes.u16be(at: 4),
              let flagsFragment = bytes.u16be(at: 6),
              let proto = bytes.u8(at: 9), let src = bytes.u32be(at: 12), let dst = bytes.u32be(at: 16)
        else {
            diagnostics.count(.ipMalformed)
            return nil
        }
        let headerLength = Int(versionIHL & 0x0F) * 4
        let length = Int(totalLength)
        guard headerLength >= 20, length >= headerLength, length <= bytes.count,
              let payload = bytes.slice(from: headerLength, count: length - headerLength)
        else {
            diagnostics.count(.ipMalformed)
            return nil
        }
        let source = IPAddress(ipv4: src)
        let destination = IPAddress(ipv4: dst)
        // More-fragments flag (0x2000) or a non-zero offset (low 13 bits, in 8-byte units): a fragment.
        if flagsFragment & 0x3FFF != 0 {
            diagnostics.count(.ipFragments)
            guard let (first, whole) = reassembler.add(
                source: source, destination: destination, identification: UInt32(identification), version: 4,
                offset: Int(flagsFragment & 0x1FFF) * 8, more: flagsFragment & 0x2000 != 0,
                payloadProtocol: proto, data: payload, at: time)
            else { return nil }
            // The datagram's protocol is its first fragment's (RFC 791), whichever fragment completed it.
            return transport(first, whole, source, destination)
        }
        return transport(proto, payload, source, destination)
    }

    @inline(__always)
    func ipv6(_ bytes: UnsafeRawBufferPointer, at time: MediaTime) -> Datagram? {
        // version/class/flow(4) payload length(2) next header(1) hop limit(1) source(16) destination(16)
        guard let first = bytes.u8(at: 0), first >> 4 == 6, let payloadLength = bytes.u16be(at: 4),
              let next = bytes.u8(at: 6),
              let srcHigh = bytes.u64be(at: 8), let srcLow = bytes.u64be(at: 16),
              let dstHigh = bytes.u64be(at: 24), let dstLow = bytes.u64be(at: 32),
              40 + Int(payloadLength) <= bytes.count,
              let payload = bytes.slice(from: 40, count: Int(payloadLength))
        else {
            diagnostics.count(.ipMalformed)
            return nil
        }
        let source = IPAddress(high: srcHigh, low: srcLow)
        let destination = IPAddress(high: dstHigh, low: dstLow)
        return ipv6Payload(next, payload, source, destination, at: time, reassembled: false)
    }

    /// Walks IPv6 extension headers from `next` to the transport header. A
    /// fragment header hands the rest to the reassembler; the reassembled
    /// payload continues the walk from the header that followed it.
    func ipv6Payload(
        _ first: UInt8, _ bytes: UnsafeRawBufferPointer, _ source: IPAddress, _ destination: IPAddress,
        at time: MediaTime, reassembled: Bool
    ) -> Datagram? {
        var next = first
        var offset = 0
        var hops = 0
        while true {
            switch next {
            case 0, 43, 60, 135, 139, 140:
                // Hop-by-hop, routing, destination options, mobility, HIP, shim6:
                // next header(1) length in 8-byte units not counting the first(1) ...
                guard let following = bytes.u8(at: offset), let units = bytes.u8(at: offset + 1) else { return malformedIP() }
                offset += (Int(units) + 1) * 8
                next = following
            case 51:
                // Authentication header: next header(1) length in 4-byte units minus 2(1) ...
                guard let following = bytes.u8(at: offset), let units = bytes.u8(at: offset + 1) else { return malformedIP() }
                offset += (Int(units) + 2) * 4
                next = following
            case 44:
                // Fragment: next header(1) reserved(1) offset(13 bits)/res(2)/M(1) identification(4)
                guard !reassembled, let following = bytes.u8(at: offset), let field = bytes.u16be(at: offset + 2),
                      let identification = bytes.u32be(at: offset + 4), let data = bytes.suffix(from: offset + 8)
                else { return malformedIP() }
                diagnostics.count(.ipFragments)
                guard let (proto, whole) = reassembler.add(
                    source: source, destination: destination, identification: identification, version: 6,
                    offset: Int(field >> 3) * 8, more: field & 1 != 0, payloadProtocol: following, data: data, at: time)
                else { return nil }
                return ipv6Payload(proto, whole, source, destination, at: time, reassembled: true)
            default:
                guard let payload = bytes.suffix(from: offset) else { return malformedIP() }
                return transport(next, payload, source, destination)
            }
            hops += 1
            guard offset <= bytes.count, hops < 16 else { return malformedIP() }
        }
    }

    private func malformedIP() -> Datagram? {
        diagnostics.count(.ipMalformed)
        return nil
    }

    @inline(__always)
    func transport(_ proto: UInt8, _ bytes: UnsafeRawBufferPointer, _ src: IPAddress, _ dst: IPAddress) -> Datagram? {
        switch proto {
        case 17:
            // source port(2) destination port(2) length(2) checksum(2)
            guard let sport = bytes.u16be(at: 0), let dport = bytes.u16be(at: 2), let length = bytes.u16be(at: 4),
                  length >= 8, Int(length) <= bytes.count,
                  let payload = bytes.slice(from: 8, count: Int(length) - 8)
            else {
                diagnostics.count(.udpMalformed)
                return nil
            }
            diagnostics.count(.udpDatagrams)
            return Datagram(
                transport: .udp, source: Endpoint(address: src, port: sport),
                destination: Endpoint(address: dst, port: dport), payload: payload)
        case 6:
            // source port(2) destination port(2) sequence(4) ack(4) offset/flags(2) ...
            guard let sport = bytes.u16be(at: 0), let dport = bytes.u16be(at: 2), let seq = bytes.u32be(at: 4),
                  let offsetByte = bytes.u8(at: 12), let flags = bytes.u8(at: 13)
            else {
                diagnostics.count(.notUDP)
                return nil
            }
            let headerLength = Int(offsetByte >> 4) * 4
            guard headerLength >= 20, let payload = bytes.suffix(from: headerLength) else {
                diagnostics.count(.notUDP)
                return nil
            }
            return Datagram(
                transport: .tcp, source: Endpoint(address: src, port: sport),
                destination: Endpoint(address: dst, port: dport), payload: payload,
                tcpSequence: seq, tcpFlags: flags)
        case 1, 58:
            // ICMP / ICMPv6: an error quotes the offending packet's headers and
            // the start of its payload. That copy is not traffic.
            diagnostics.count(.icmpMessages)
            return nil
        default:
            diagnostics.count(.notUDP)
            return nil
        }
    }
}
