import CallrecCore

/// The sender-info part of an RTCP sender report (RFC 3550 section 6.4.1):
/// which source it describes, and the NTP wall-clock time and RTP timestamp
/// of the same instant. A recorder uses the pairs to learn how the sender's
/// media clock runs against real time without network jitter. Only the
/// first packet of a compound RTCP packet is read (RFC 3550 6.1: an SR or
/// RR comes first).
public struct RTCPSenderReport: Sendable, Equatable {
    /// The sender's SSRC (the RTP stream the report describes).
    public var ssrc: UInt32
    /// NTP time, in seconds since 1900-01-01.
    public var ntp: Double
    /// The RTP timestamp that corresponds to `ntp`.
    public var rtpTimestamp: UInt32

    /// Parses a sender report; nil for anything else (RTP, other RTCP packets, short reads).
    public init?(_ bytes: UnsafeRawBufferPointer) {
        //  0                   1                   2                   3
        // |V=2|P|    RC   |   PT=SR=200   |             length            |
        // |                         SSRC of sender                        |
        // |              NTP timestamp, most significant word             |
        // |             NTP timestamp, least significant word             |
        // |                         RTP timestamp                         |
        guard bytes.count >= 28, bytes[0] >> 6 == 2, bytes[1] == 200,
              let length = bytes.u16be(at: 2), (Int(length) + 1) * 4 >= 28,
              let ssrc = bytes.u32be(at: 4), let seconds = bytes.u32be(at: 8), let fraction = bytes.u32be(at: 12),
              let rtp = bytes.u32be(at: 16)
        else { return nil }
        self.ssrc = ssrc
        ntp = Double(seconds) + Double(fraction) / 4_294_967_296
        rtpTimestamp = rtp
    }
}
