import CallrecCore

/// The fixed RTP header (RFC 3550 section 5.1) and where the payload lies.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |V=2|P|X|  CC   |M|     PT      |       sequence number         |
/// |                           timestamp                           |
/// |           synchronization source (SSRC) identifier            |
/// |            contributing source (CSRC) identifiers  ...        |
/// ```
public struct RTPHeader: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequence: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// Byte offset of the payload in the packet.
    public var payloadOffset: Int
    /// Payload length in bytes, padding removed.
    public var payloadLength: Int

    public init(marker: Bool, payloadType: UInt8, sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payloadOffset: Int = 12, payloadLength: Int) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payloadOffset = payloadOffset
        self.payloadLength = payloadLength
    }

    /// Parses the header of an RTP packet. Returns nil for anything that is
    /// not version 2 RTP, for RTCP (payload types 72-76 with the marker bit,
    /// i.e. packet types 200-204), and for inconsistent lengths.
    @inlinable
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 12 else { return nil }
        let b0 = bytes[0]
        let b1 = bytes[1]
        guard b0 >> 6 == 2 else { return nil }
        // RTCP sender/receiver reports, SDES, BYE, APP: 200-204 in the second byte.
        if b1 >= 200 && b1 <= 204 { return nil }
        let csrcCount = Int(b0 & 0x0F)
        var offset = 12 + 4 * csrcCount
        if b0 & 0x10 != 0 {
            // Header extension: profile(2) length in 32-bit words(2), then the words.
            guard let words = bytes.u16be(at: offset + 2) else { return nil }
            offset += 4 + 4 * Int(words)
        }
        var end = bytes.count
        if b0 & 0x20 != 0 {
            // Padding: the last byte counts the padding bytes, itself included.
            let pad = Int(bytes[end - 1])
            guard pad >= 1 else { return nil }
            end -= pad
        }
        guard offset <= end else { return nil }
        marker = b1 & 0x80 != 0
        payloadType = b1 & 0x7F
        sequence = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        timestamp = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
        payloadOffset = offset
        payloadLength = end - offset
    }

    /// The SSRC as callrec prints it: `0x1A2B3C4D`.
    public var ssrcText: String { RTPHeader.format(ssrc: ssrc) }

    /// `0x1A2B3C4D` for an SSRC.
    public static func format(ssrc: UInt32) -> String {
        "0x" + StableHash.hex(ssrc, digits: 8).uppercased()
    }
}
