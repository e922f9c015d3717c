import CallrecCore

/// Writes a pcapng capture in memory: sections, interfaces (each with its own
/// link type and timestamp resolution), enhanced, simple and obsolete packet
/// blocks, and blocks of any other type, in either byte order.
public struct PcapngWriter {
    /// The capture so far.
    public private(set) var bytes: [UInt8] = []
    /// Whether the current section is big-endian.
    public private(set) var bigEndian = false
    /// Each interface's `if_tsresol` in the current section.
    private var resolutions: [UInt8] = []
    private var offsets: [Int64] = []

    /// Starts with a section header in the given byte order.
    public init(bigEndian: Bool = false) {
        section(bigEndian: bigEndian)
    }

    /// Starts a new section (its interfaces start again at 0).
    public mutating func section(bigEndian: Bool = false) {
        self.bigEndian = bigEndian
        resolutions = []
        offsets = []
        var body: [UInt8] = []
        append32(0x1A2B_3C4D, to: &body)
        append16(1, to: &body)
        append16(0, to: &body)
        body += [UInt8](repeating: 0xFF, count: 8)  // section length unknown
        block(0x0A0D_0D0A, body)
    }

    /// Adds an interface. `resolution` is `if_tsresol` (6 = microseconds, 9 = nanoseconds,
    /// 0x80 | n = 2^-n); `offsetSeconds` is `if_tsoffset`.
    /// - Returns: the interface id.
    @discardableResult
    public mutating func interface(linkType: UInt16, resolution: UInt8 = 6, offsetSeconds: Int64 = 0, snapLength: UInt32 = 262_144) -> Int {
        var body: [UInt8] = []
        append16(linkType, to: &body)
        append16(0, to: &body)
        append32(snapLength, to: &body)
        if resolution != 6 {
            append16(9, to: &body)
            append16(1, to: &body)
            body += [resolution, 0, 0, 0]
        }
        if offsetSeconds != 0 {
            append16(14, to: &body)
            append16(8, to: &body)
            append64(UInt64(bitPattern: offsetSeconds), to: &body)
        }
        append16(0, to: &body)  // opt_endofopt
        append16(0, to: &body)
        block(1, body)
        resolutions.append(resolution)
        offsets.append(offsetSeconds)
        return resolutions.count - 1
    }

    /// The timestamp of `time` in `interface`'s units.
    func ticks(_ time: MediaTime, interface: Int) -> UInt64 {
        let resolution = resolutions[interface]
        let nanoseconds = time.nanoseconds - offsets[interface] * 1_000_000_000
        if resolution & 0x80 == 0 {
            let exponent = Int(resolution)
            var value = Int64(nanoseconds)
            if exponent <= 9 {
                for _ in 0..<(9 - exponent) { value /= 10 }
            } else {
                for _ in 0..<(exponent - 9) { value *= 10 }
            }
            return UInt64(value)
        }
        let shift = UInt64(resolution & 0x7F)
        let seconds = UInt64(nanoseconds / 1_000_000_000)
        let fraction = UInt64(nanoseconds % 1_000_000_000)
        return seconds << shift | (fraction << shift) / 1_000_000_000
    }

    /// An enhanced packet block. `capturedLength` below `frame.count` writes a snap-length cut packet.
    public mutating func packet(_ frame: [UInt8], at time: MediaTime, interface: Int = 0, capturedLength: Int? = nil) {
        let captured = capturedLength ?? frame.count
        let t = ticks(time, interface: interface)
        var body: [UInt8] = []
        append32(UInt32(interface), to: &body)
        append32(UInt32(t >> 32), to: &body)
        append32(UInt32(t & 0xFFFF_FFFF), to: &body)
        append32(UInt32(captured), to: &body)
        append32(UInt32(frame.count), to: &body)
        body += frame.prefix(captured)
        block(6, body)
    }

    /// A simple packet block (interface 0, no timestamp).
    public mutating func simplePacket(_ frame: [UInt8]) {
        var body: [UInt8] = []
        append32(UInt32(frame.count), to: &body)
        body += frame
        block(3, body)
    }

    /// An obsolete packet block (type 2).
    public mutating func obsoletePacket(_ frame: [UInt8], at time: MediaTime, interface: Int = 0) {
        let t = ticks(time, interface: interface)
        var body: [UInt8] = []
        append16(UInt16(interface), to: &body)
        append16(0, to: &body)
        append32(UInt32(t >> 32), to: &body)
        append32(UInt32(t & 0xFFFF_FFFF), to: &body)
        append32(UInt32(frame.count), to: &body)
        append32(UInt32(frame.count), to: &body)
        body += frame
        block(2, body)
    }

    /// A block of any type with `body` (padded to 4 bytes).
    public mutating func block(_ type: UInt32, _ body: [UInt8]) {
        var padded = body
        while padded.count % 4 != 0 { padded.append(0) }
        let length = UInt32(12 + padded.count)
        append32(type, to: &bytes)
        append32(length, to: &bytes)
        bytes += padded
        append32(length, to: &bytes)
    }

    /// The packets of a classic pcap file (as `PcapWriter` writes it: little-endian,
    /// Ethernet) rewritten as pcapng on one nanosecond Ethernet interface.
    public init(rewriting pcap: [UInt8], bigEndian: Bool = false) {
        self.init(bigEndian: bigEndian)
        interface(linkType: 1, resolution: 9)
        func u32(_ i: Int) -> UInt32 { UInt32(pcap[i]) | UInt32(pcap[i + 1]) << 8 | UInt32(pcap[i + 2]) << 16 | UInt32(pcap[i + 3]) << 24 }
        let nanosecond = u32(0) == 0xA1B2_3C4D
        var offset = 24
        while offset + 16 <= pcap.count {
            let captured = Int(u32(offset + 8))
            guard offset + 16 + captured <= pcap.count else { break }
            let time = MediaTime(seconds: Int64(u32(offset)), nanoseconds: Int64(u32(offset + 4)) * (nanosecond ? 1 : 1000))
            packet(Array(pcap[(offset + 16)..<(offset + 16 + captured)]), at: time)
            offset += 16 + captured
        }
    }

    /// Appends the header of a section whose major version is `major` (pcapng
    /// defines only 1): a reader cannot go on past it.
    public mutating func sectionOfUnknownVersion(major: UInt16 = 3) {
        var header = Array(PcapngWriter(bigEndian: bigEndian).bytes.prefix(28))
        let at = 12
        if bigEndian {
            header[at] = UInt8(major >> 8)
            header[at + 1] = UInt8(major & 0xFF)
        } else {
            header[at] = UInt8(major & 0xFF)
            header[at + 1] = UInt8(major >> 8)
        }
        bytes += header
    }

    /// Appends raw bytes (garbage, a cut block) as they are.
    public mutating func raw(_ data: [UInt8]) {
        bytes += data
    }

    private func append16(_ v: UInt16, to out: inout [UInt8]) {
        if bigEndian { out.appendBE16(v) } else { out.appendLE16(v) }
    }

    private func append32(_ v: UInt32, to out: inout [UInt8]) {
        if bigEndian { out.appendBE32(v) } else { out.appendLE32(v) }
    }

    private func append64(_ v: UInt64, to out: inout [UInt8]) {
        if bigEndian {
            out.appendBE64(v)
        } else {
            append32(UInt32(v & 0xFFFF_FFFF), to: &out)
            append32(UInt32(v >> 32), to: &out)
        }
    }
}
