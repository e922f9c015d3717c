/// What a payload type number means without SDP (RFC 3551 and the IANA
/// registry), and the RTP clock tshark assumes for it when computing jitter.
public enum RTPPayloadType {
    /// The registered name of a static payload type, or nil for dynamic and unassigned ones.
    public static func staticName(_ payloadType: UInt8) -> String? {
        switch payloadType {
        case 0: "PCMU"
        case 1: "1016"
        case 2: "G721"
        case 3: "GSM"
        case 4: "G723"
        case 5, 6, 16, 17: "DVI4"
        case 7: "LPC"
        case 8: "PCMA"
        case 9: "G722"
        case 10, 11: "L16"
        case 12: "QCELP"
        case 13, 19: "CN"
        case 14: "MPA"
        case 15: "G728"
        case 18: "G729"
        case 25: "CelB"
        case 26: "JPEG"
        case 28: "nv"
        case 31: "H261"
        case 32: "MPV"
        case 33: "MP2T"
        case 34: "H263"
        default: nil
        }
    }

    /// The RTP clock rate tshark's stream analysis uses: its fixed table for
    /// payload types below 96 (G.722 counts 8000, as RFC 3551 declares it);
    /// for dynamic ones the SDP's rate, except telephone-event (timestamps do
    /// not advance during an event) and unknown encodings, which get 0 (no jitter).
    /// - Parameters:
    ///   - encoding: the `a=rtpmap` encoding name, when SDP named one.
    ///   - declaredRate: the `a=rtpmap` clock rate.
    public static func tsharkClockRate(_ payloadType: UInt8, encoding: String? = nil, declaredRate: Int = 0) -> Int {
        if payloadType < 96 {
            switch payloadType {
            case 0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18, 19: return 8000
            case 6: return 16000
            case 10, 11: return 44100
            case 16: return 11025
            case 17: return 22050
            case 14, 25, 26, 28, 31, 32, 33, 34: return 90000
            default: return 0
            }
        }
        guard let encoding else { return 0 }
        if encoding.lowercased().hasPrefix("telephone-event") { return 0 }
        if declaredRate > 0 { return declaredRate }
        return 0
    }
}
