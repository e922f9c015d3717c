import Codecs

/// What an RTP payload type means on a leg, from the SDP (or RFC 3551's
/// static table when there is none).
enum PayloadKind: Equatable {
    /// Audio callrec decodes, with the clock rate the SDP declared.
    case audio(AudioCodec, clockRate: Int)
    /// RFC 4733 telephone events (DTMF), with their clock rate.
    case telephoneEvent(clockRate: Int)
    /// RFC 3389 comfort noise: the sender is silent.
    case comfortNoise
    /// A payload callrec does not decode (its encoding name, if known).
    case unsupported(String?)
}
