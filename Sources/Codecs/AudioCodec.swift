/// The audio codecs callrec decodes.
public enum AudioCodec: String, Sendable, CaseIterable {
    case pcmu = "PCMU"
    case pcma = "PCMA"

    /// The codec for an SDP encoding name (case-insensitive), or nil if callrec cannot decode it.
    public init?(encoding: String) {
        switch encoding.uppercased() {
        case "PCMU": self = .pcmu
        case "PCMA": self = .pcma
        default: return nil
        }
    }

    /// The codec of an RFC 3551 static payload type, or nil.
    public init?(staticPayloadType pt: UInt8) {
        switch pt {
        case 0: self = .pcmu
        case 8: self = .pcma
        default: return nil
        }
    }

    /// Samples per second of the decoded audio.
    public var sampleRate: Int { 8000 }

    /// Decoded samples per payload byte.
    public var samplesPerByte: Int { 1 }
}

/// Decodes RTP payloads of one codec to 16-bit PCM. One per leg: codecs
/// with state (G.722) keep it between packets.
public struct PayloadDecoder: Sendable {
    public let codec: AudioCodec
    private let g711: G711Decoder

    public init(codec: AudioCodec) {
        self.codec = codec
        switch codec {
        case .pcmu: g711 = G711Decoder(law: .ulaw)
        case .pcma: g711 = G711Decoder(law: .alaw)
        }
    }

    /// The most samples `decode` can write for a payload of `bytes` bytes.
    public func maxSamples(forPayloadBytes bytes: Int) -> Int { bytes * codec.samplesPerByte }

    /// Decodes one payload into `output`. Returns the samples written.
    @inlinable
    public mutating func decode(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        decodeG711(payload, into: output)
    }

    @usableFromInline
    func decodeG711(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        g711.decode(payload, into: output)
    }
}
