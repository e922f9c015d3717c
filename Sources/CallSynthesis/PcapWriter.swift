import CallrecCore

/// Writes a classic pcap file (microsecond or nanosecond timestamps, either
/// byte order) in memory.
public struct PcapWriter {
    public private(set) var bytes: [UInt8] = []
    public let nanosecond: Bool
    public let bigEndian: Bool

    /// - Parameters:
    ///   - linkType: the LINKTYPE_ value (1 = Ethernet).
    ///   - nanosecond: write the nanosecond-resolution magic (0xA1B23C4D).
    ///   - bigEndian: write every header field big-endian (as a SPARC or PowerPC host did).
    public init(linkType: UInt32 = 1, snapLength: UInt32 = 262_144, nanosecond: Bool = false, bigEndian: Bool = false) {
        self.nanosecond = nanosecond
        self.bigEndian = bigEndian
        append32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        append16(2)
        append16(4)
        append32(0)  // thiszone
        append32(0)  // sigfigs
        append32(snapLength)
        append32(linkType)
    }

    private mutating func append16(_ v: UInt16) {
        if bigEndian { bytes.appendBE16(v) } else { bytes.appendLE16(v) }
    }

    private mutating func append32(_ v: UInt32) {
        if bigEndian { bytes.appendBE32(v) } else { bytes.appendLE32(v) }
    }

    /// Appends raw bytes (garbage, a cut record) as they are.
    public mutating func raw(_ data: [UInt8]) {
        bytes += data
    }

    /// Appends one record. `capturedLength` below `frame.count` writes a snap-length cut record.
    public mutating func append(_ frame: [UInt8], at time: MediaTime, capturedLength: Int? = nil) {
        let seconds = time.nanoseconds / 1_000_000_000
        let fraction = time.nanoseconds % 1_000_000_000
        let caplen = capturedLength ?? frame.count
        append32(UInt32(seconds))
        append32(UInt32(nanosecond ? fraction : fraction / 1000))
        append32(UInt32(caplen))
        append32(UInt32(frame.count))
        bytes += frame.prefix(caplen)
    }
}
