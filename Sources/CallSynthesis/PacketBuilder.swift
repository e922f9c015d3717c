import CallrecCore

/// Builds link, IP and UDP headers around a payload, for generated captures.
public enum PacketBuilder {
    /// An Ethernet II frame carrying an IPv4 (or IPv6) UDP datagram from `source` to `destination`.
    public static func ethernetUDP(from source: Endpoint, to destination: Endpoint, payload: [UInt8], vlan: UInt16? = nil) -> [UInt8] {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]
        if let vlan {
            frame += [0x81, 0x00, UInt8(vlan >> 8 & 0x0F), UInt8(vlan & 0xFF)]
        }
        if source.address.isIPv4 {
            frame += [0x08, 0x00]
            frame += ipv4UDP(from: source, to: destination, payload: payload)
        } else {
            frame += [0x86, 0xDD]
            frame += ipv6UDP(from: source, to: destination, payload: payload)
        }
        return frame
    }

    /// An IPv4 header + UDP header + payload (UDP checksum 0: not computed, as RFC 768 allows).
    public static func ipv4UDP(from source: Endpoint, to destination: Endpoint, payload: [UInt8], identification: UInt16 = 0) -> [UInt8] {
        let udpLength = 8 + payload.count
        let totalLength = 20 + udpLength
        var ip: [UInt8] = [0x45, 0x00]
        ip.appendBE16(UInt16(totalLength))
        ip.appendBE16(identification)
        ip += [0x40, 0x00, 64, 17, 0, 0]  // don't fragment, TTL 64, UDP, checksum placeholder
        ip.appendBE32(source.address.ipv4Value)
        ip.appendBE32(destination.address.ipv4Value)
        let checksum = internetChecksum(ip)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        var udp: [UInt8] = []
        udp.appendBE16(source.port)
        udp.appendBE16(destination.port)
        udp.appendBE16(UInt16(udpLength))
        udp.appendBE16(0)
        return ip + udp + payload
    }

    /// An IPv6 header + UDP header + payload.
    public static func ipv6UDP(from source: Endpoint, to destination: Endpoint, payload: [UInt8]) -> [UInt8] {
        let udpLength = 8 + payload.count
        var ip: [UInt8] = [0x60, 0, 0, 0]
        ip.appendBE16(UInt16(udpLength))
        ip += [17, 64]
        ip.appendBE64(source.address.high)
        ip.appendBE64(source.address.low)
        ip.appendBE64(destination.address.high)
        ip.appendBE64(destination.address.low)
        var udp: [UInt8] = []
        udp.appendBE16(source.port)
        udp.appendBE16(destination.port)
        udp.appendBE16(UInt16(udpLength))
        udp.appendBE16(0)
        return ip + udp + payload
    }

    /// An Ethernet II frame carrying an IPv4 (or IPv6) TCP segment from `source` to `destination`.
    /// - Parameters:
    ///   - sequence: the sequence number of the first payload byte.
    ///   - flags: TCP flags (0x18 = PSH+ACK, 0x02 = SYN, 0x01 = FIN, 0x04 = RST).
    public static func ethernetTCP(from source: Endpoint, to destination: Endpoint, sequence: UInt32, flags: UInt8 = 0x18, payload: [UInt8]) -> [UInt8] {
        var tcp: [UInt8] = []
        tcp.appendBE16(source.port)
        tcp.appendBE16(destination.port)
        tcp.appendBE32(sequence)
        tcp.appendBE32(1)  // acknowledgement number
        tcp += [0x50, flags]  // data offset 5 words, flags
        tcp.appendBE16(65_535)  // window
        tcp += [0, 0, 0, 0]  // checksum (not computed), urgent pointer
        let segment = tcp + payload
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]
        if source.address.isIPv4 {
            frame += [0x08, 0x00]
            var ip: [UInt8] = [0x45, 0x00]
            ip.appendBE16(UInt16(20 + segment.count))
            ip += [0, 0, 0x40, 0x00, 64, 6, 0, 0]
            ip.appendBE32(source.address.ipv4Value)
            ip.appendBE32(destination.address.ipv4Value)
            let checksum = internetChecksum(ip)
            ip[10] = UInt8(checksum >> 8)
            ip[11] = UInt8(checksum & 0xFF)
            frame += ip
        } else {
            frame += [0x86, 0xDD]
            var ip: [UInt8] = [0x60, 0, 0, 0]
            ip.appendBE16(UInt16(segment.count))
            ip += [6, 64]
            ip.appendBE64(source.address.high)
            ip.appendBE64(source.address.low)
            ip.appendBE64(destination.address.high)
            ip.appendBE64(destination.address.low)
            frame += ip
        }
        return frame + segment
    }

    /// An Ethernet II frame around an IP packet (IPv4 or IPv6, by its version nibble).
    public static func ethernet(_ ip: [UInt8]) -> [UInt8] {
        let type: [UInt8] = ip.first.map { $0 >> 4 == 6 } == true ? [0x86, 0xDD] : [0x08, 0x00]
        return [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01] + type + ip
    }

    /// A UDP datagram from `source` to `destination` split into IPv4 fragments
    /// carrying at most `fragmentSize` bytes of IP payload each (a multiple of 8).
    public static func ipv4Fragments(from source: Endpoint, to destination: Endpoint, payload: [UInt8], identification: UInt16, fragmentSize: Int) -> [[UInt8]] {
        let whole = ipv4UDP(from: source, to: destination, payload: payload, identification: identification)
        let data = Array(whole[20...])
        var fragments: [[UInt8]] = []
        var offset = 0
        while offset < data.count {
            let chunk = Array(data[offset..<min(offset + fragmentSize, data.count)])
            let more = offset + chunk.count < data.count
            var ip: [UInt8] = [0x45, 0x00]
            ip.appendBE16(UInt16(20 + chunk.count))
            ip.appendBE16(identification)
            ip.appendBE16((more ? 0x2000 : 0) | UInt16(offset / 8))
            ip += [64, 17, 0, 0]
            ip.appendBE32(source.address.ipv4Value)
            ip.appendBE32(destination.address.ipv4Value)
            let checksum = internetChecksum(ip)
            ip[10] = UInt8(checksum >> 8)
            ip[11] = UInt8(checksum & 0xFF)
            fragments.append(ip + chunk)
            offset += chunk.count
        }
        return fragments
    }

    /// A UDP datagram split into IPv6 fragments (RFC 8200 fragment header) of at most
    /// `fragmentSize` bytes of fragmentable part each (a multiple of 8), optionally
    /// behind a hop-by-hop options header.
    public static func ipv6Fragments(
        from source: Endpoint, to destination: Endpoint, payload: [UInt8], identification: UInt32, fragmentSize: Int,
        hopByHop: Bool = false
    ) -> [[UInt8]] {
        let whole = ipv6UDP(from: source, to: destination, payload: payload)
        let data = Array(whole[40...])
        var fragments: [[UInt8]] = []
        var offset = 0
        while offset < data.count {
            let chunk = Array(data[offset..<min(offset + fragmentSize, data.count)])
            let more = offset + chunk.count < data.count
            var extensions: [UInt8] = []
            if hopByHop { extensions += [44, 0, 1, 4, 0, 0, 0, 0] }  // next: fragment; PadN
            extensions += [17, 0]
            extensions.appendBE16(UInt16(offset / 8) << 3 | (more ? 1 : 0))
            extensions.appendBE32(identification)
            var ip: [UInt8] = [0x60, 0, 0, 0]
            ip.appendBE16(UInt16(extensions.count + chunk.count))
            ip += [hopByHop ? 0 : 44, 64]
            ip.appendBE64(source.address.high)
            ip.appendBE64(source.address.low)
            ip.appendBE64(destination.address.high)
            ip.appendBE64(destination.address.low)
            fragments.append(ip + extensions + chunk)
            offset += chunk.count
        }
        return fragments
    }

    /// An ICMP destination-unreachable (port unreachable) from `router` quoting the
    /// start of `packet` (an IPv4 packet), as a host answers RTP sent to a closed port.
    public static func icmpPortUnreachable(from router: IPAddress, quoting packet: [UInt8]) -> [UInt8] {
        var icmp: [UInt8] = [3, 3, 0, 0, 0, 0, 0, 0] + packet.prefix(20 + 8 + 12 + 160)
        let checksum = internetChecksum(icmp)
        icmp[2] = UInt8(checksum >> 8)
        icmp[3] = UInt8(checksum & 0xFF)
        var ip: [UInt8] = [0x45, 0xC0]
        ip.appendBE16(UInt16(20 + icmp.count))
        ip += [0, 0, 0, 0, 64, 1, 0, 0]
        ip.appendBE32(router.ipv4Value)
        ip += packet[12..<16]  // back to the quoted packet's sender
        let ipChecksum = internetChecksum(ip)
        ip[10] = UInt8(ipChecksum >> 8)
        ip[11] = UInt8(ipChecksum & 0xFF)
        return ip + icmp
    }

    /// An RTCP sender report (RFC 3550 6.4.1) without report blocks: the NTP
    /// time (seconds since 1970, written from 1900) and the RTP timestamp of the same instant.
    public static func senderReport(ssrc: UInt32, ntp seconds: Double, timestamp: UInt32, packets: UInt32, octets: UInt32) -> [UInt8] {
        var packet: [UInt8] = [0x80, 200]
        packet.appendBE16(6)  // length in 32-bit words, minus one
        packet.appendBE32(ssrc)
        let ntp = seconds + 2_208_988_800
        packet.appendBE32(UInt32(ntp.rounded(.down)))
        packet.appendBE32(UInt32((ntp - ntp.rounded(.down)) * 4_294_967_296))
        packet.appendBE32(timestamp)
        packet.appendBE32(packets)
        packet.appendBE32(octets)
        return packet
    }

    /// An RTP packet: 12-byte header and payload.
    public static func rtp(payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
        var packet: [UInt8] = [0x80, (marker ? 0x80 : 0) | payloadType]
        packet.appendBE16(sequence)
        packet.appendBE32(timestamp)
        packet.appendBE32(ssrc)
        return packet + payload
    }

    /// The RFC 1071 one's-complement checksum.
    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

extension [UInt8] {
    public mutating func appendBE16(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }
    public mutating func appendBE32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { append(UInt8(v >> UInt32(s) & 0xFF)) } }
    public mutating func appendBE64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { append(UInt8(v >> UInt64(s) & 0xFF)) } }
    public mutating func appendLE16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    public mutating func appendLE32(_ v: UInt32) { for s in stride(from: 0, through: 24, by: 8) { append(UInt8(v >> UInt32(s) & 0xFF)) } }
}
