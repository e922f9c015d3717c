/// The audio codecs callrec decodes.
public enum AudioCodec: String, Sendable, CaseIterable {
    case pcmu = "PCMU"
    case pcma = "PCMA"
    /// ITU-T G.722 at 64 kbit/s: 16 kHz audio, although its RTP clock runs at
    /// 8000 (RFC 3551 section 4.5.2).
    case g722 = "G722"

    /// The codec for an SDP encoding name (case-insensitive), or nil if callrec cannot decode it.
    public init?(encoding: String) {
        switch encoding.uppercased() {
        case "PCMU": self = .pcmu
        case "PCMA": self = .pcma
        case "G722": self = .g722
        default: return nil
        }
    }

    /// The codec of an RFC 3551 static payload type, or nil.
    public init?(staticPayloadType pt: UInt8) {
        switch pt {
        case 0: self = .pcmu
        case 8: self = .pcma
        case 9: self = .g722
        default: return nil
        }
    }

    /// The RFC 3551 static payload type.
    public var staticPayloadType: UInt8 {
        switch self {
        case .pcmu: 0
        case .pcma: 8
        case .g722: 9
        }
    }

    /// Samples per second of the decoded audio.
    public var sampleRate: Int { self == .g722 ? 16000 : 8000 }

    /// RTP timestamp ticks per second as RFC 3551 registers it (8000 for G.722 too).
    public var clockRate: Int { 8000 }

    /// Decoded samples per payload byte.
    public var samplesPerByte: Int { self == .g722 ? 2 : 1 }

    /// The highest audio frequency the codec carries, in Hz: G.711 is
    /// 300-3400 Hz telephony, G.722 50-7000 Hz.
    public var audioBandwidth: Int { self == .g722 ? 7000 : 3400 }
}

/// Decodes RTP payloads of one codec to 16-bit PCM. One per leg: codecs
/// with state (G.722) keep it between packets.
public struct PayloadDecoder: Sendable {
    public let codec: AudioCodec
    @usableFromInline var g711: G711Decoder
    @usableFromInline var g722: G722Decoder

    public init(codec: AudioCodec) {
        self.codec = codec
        g711 = G711Decoder(law: codec == .pcma ? .alaw : .ulaw)
        g722 = G722Decoder(mode: .kbit64)
    }

    /// The most samples `decode` can write for a payload of `bytes` bytes.
    public func maxSamples(forPayloadBytes bytes: Int) -> Int { bytes * codec.samplesPerByte }

    /// Decodes one payload into `output`. Returns the samples written.
    @inlinable
    public mutating func decode(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        switch codec {
        case .pcmu, .pcma: g711.decode(payload, into: output)
        case .g722: g722.decode(payload, into: output)
        }
    }
}
