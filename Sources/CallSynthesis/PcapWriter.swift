import CallrecCore

/// Writes a classic pcap file (little-endian, microsecond or nanosecond
/// timestamps) in memory.
public struct PcapWriter {
    public private(set) var bytes: [UInt8] = []
    public let nanosecond: Bool

    /// - Parameters:
    ///   - linkType: the LINKTYPE_ value (1 = Ethernet).
    ///   - nanosecond: write the nanosecond-resolution magic (0xA1B23C4D).
    public init(linkType: UInt32 = 1, snapLength: UInt32 = 262_144, nanosecond: Bool = false) {
        self.nanosecond = nanosecond
        bytes.appendLE32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        bytes.appendLE16(2)
        bytes.appendLE16(4)
        bytes.appendLE32(0)  // thiszone
        bytes.appendLE32(0)  // sigfigs
        bytes.appendLE32(snapLength)
        bytes.appendLE32(linkType)
    }

    /// Appends one record. `capturedLength` below `frame.count` writes a snap-length cut record.
    public mutating func append(_ frame: [UInt8], at time: MediaTime, capturedLength: Int? = nil) {
        let seconds = time.nanoseconds / 1_000_000_000
        let fraction = time.nanoseconds % 1_000_000_000
        let caplen = capturedLength ?? frame.count
        bytes.appendLE32(UInt32(seconds))
        bytes.appendLE32(UInt32(nanosecond ? fraction : fraction / 1000))
        bytes.appendLE32(UInt32(caplen))
        bytes.appendLE32(UInt32(frame.count))
        bytes += frame.prefix(caplen)
    }
}
