/// An IPv4 or IPv6 address held in two machine words, so that endpoint keys
/// hash and compare without allocating. IPv4 addresses are stored as
/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which keeps one representation per
/// address whatever the capture or the SDP used.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The high 64 bits of the 128-bit address, network order.
    public var high: UInt64
    /// The low 64 bits of the 128-bit address, network order.
    public var low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit big-endian value (`10.0.0.1` is `0x0A000001`).
    @inlinable
    public init(ipv4 value: UInt32) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(value)
    }

    /// Whether this is an IPv4 address (IPv4-mapped form).
    @inlinable
    public var isIPv4: Bool { high == 0 && (low >> 32) == 0x0000_FFFF }

    /// The 32-bit value of an IPv4 address.
    @inlinable
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (with `::` and an
    /// optional embedded IPv4 tail). Returns nil for anything else; the input
    /// is untrusted and never allocates beyond its own length.
    public init?<S: StringProtocol>(_ text: S) {
        if let v4 = IPAddress.parseIPv4(text.utf8) {
            self.init(ipv4: v4)
        } else if let v6 = IPAddress.parseIPv6(text.utf8) {
            self = v6
        } else {
            return nil
        }
    }

    static func parseIPv4<C: Collection>(_ bytes: C) -> UInt32? where C.Element == UInt8 {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for b in bytes {
            if b >= 0x30 && b <= 0x39 {
                octet = octet * 10 + UInt32(b - 0x30)
                digits += 1
                if digits > 3 || octet > 255 { return nil }
            } else if b == 0x2E {
                if digits == 0 { return nil }
                value = value << 8 | octet
                octet = 0
                digits = 0
                dots += 1
                if dots > 3 { return nil }
            } else {
                return nil
            }
        }
        if dots != 3 || digits == 0 { return nil }
        return value << 8 | octet
    }

    static func parseIPv6<C: Collection>(_ bytes: C) -> IPAddress? where C.Element == UInt8 {
        var groups = [UInt16]()
        groups.reserveCapacity(8)
        var gapIndex: Int? = nil
        let array = Array(bytes.prefix(64))
        if array.count >= 64 { return nil }
        var i = 0
        if array.count >= 2 && array[0] == 0x3A && array[1] == 0x3A {
            gapIndex = 0
            i = 2
        }
        while i < array.count {
            // An embedded IPv4 tail (::ffff:10.0.0.1).
            var j = i
            var sawDot = false
            while j < array.count && array[j] != 0x3A {
                if array[j] == 0x2E { sawDot = true }
                j += 1
            }
            if sawDot {
                guard j == array.count, groups.count <= 6, let v4 = parseIPv4(array[i..<j]) else { return nil }
                groups.append(UInt16(v4 >> 16))
                groups.append(UInt16(v4 & 0xFFFF))
                i = j
                break
            }
            let length = j - i
            guard length >= 1, length <= 4 else { return nil }
            var group: UInt16 = 0
            for k in i..<j {
                guard let nibble = hexValue(array[k]) else { return nil }
                group = group << 4 | UInt16(nibble)
            }
            groups.append(group)
            if groups.count > 8 { return nil }
            i = j
            if i < array.count {
                // array[i] is ':'
                if i + 1 < array.count && array[i + 1] == 0x3A {
                    if gapIndex != nil { return nil }
                    gapIndex = groups.count
                    i += 2
                } else {
                    i += 1
                    if i == array.count { return nil }
                }
            }
        }
        if let gap = gapIndex {
            if groups.count > 7 { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gap)
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for k in 0..<4 { high = high << 16 | UInt64(groups[k]) }
        for k in 4..<8 { low = low << 16 | UInt64(groups[k]) }
        return IPAddress(high: high, low: low)
    }

    public var description: String {
        if isIPv4 {
            let v = ipv4Value
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        }
        var groups = [UInt16]()
        for k in (0..<4).reversed() { groups.append(UInt16(truncatingIfNeeded: high >> (16 * UInt64(k)))) }
        for k in (0..<4).reversed() { groups.append(UInt16(truncatingIfNeeded: low >> (16 * UInt64(k)))) }
        // RFC 5952: compress the longest run of two or more zero groups.
        var bestStart = -1
        var bestLength = 1
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var end = k
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - k > bestLength {
                    bestStart = k
                    bestLength = end - k
                }
                k = end
            } else {
                k += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

@inlinable
func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
}

/// A transport endpoint: an address and a UDP or TCP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    @inlinable
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `10.0.0.1:5060`, or `[2001:db8::1]:5060` for IPv6.
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}
