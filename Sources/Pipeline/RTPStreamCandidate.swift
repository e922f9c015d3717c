import CallrecCore
import RTP

/// A UDP flow that looks like RTP but belongs to no known call: the start of
/// a call without captured signalling (a mirror port started mid-call, SIP
/// over TLS, SIP on another link).
///
/// A flow becomes a stream once `confirmation` packets in a row agree the
/// way RTP does: one SSRC, sequence numbers stepping by 1 to 3, timestamps
/// moving forward by less than two seconds of an 8-48 kHz clock, a
/// plausible audio payload type, less than a second between packets. Until
/// then its packets are held (copied, at most `confirmation` of them, each at
/// most `maxPacketBytes`) so that a confirmed stream loses nothing; a packet
/// that breaks the run starts a new one.
struct RTPStreamCandidate {
    /// Packets in a row that confirm a stream.
    static let confirmation = 4
    /// Longest packet held: audio RTP fits in an Ethernet frame.
    static let maxPacketBytes = 1500

    /// A flow's direction: who sends to whom.
    struct Key: Hashable {
        var source: Endpoint
        var destination: Endpoint
    }

    private(set) var ssrc: UInt32
    private var lastSequence: UInt16
    private var lastTimestamp: UInt32
    private(set) var lastArrival: MediaTime
    /// The capture's number of the run's first packet.
    let firstPacket: Int
    /// Packets held, in arrival order, with their capture times.
    private(set) var held: [(time: MediaTime, bytes: [UInt8], header: RTPHeader)] = []
    /// Held packets whose payload is a G.711/G.722 payload plus an SRTP
    /// authentication tag (4 or 10 bytes longer than the timestamp step).
    private var srtpVotes = 0

    /// Starts a run at `header` (the packet `bytes`, captured at `time`), or
    /// nil when the packet cannot start an audio stream.
    init?(_ header: RTPHeader, bytes: UnsafeRawBufferPointer, at time: MediaTime, packet: Int = 0) {
        guard RTPStreamCandidate.isAudioPayloadType(header.payloadType), bytes.count <= RTPStreamCandidate.maxPacketBytes
        else { return nil }
        firstPacket = packet
        ssrc = header.ssrc
        lastSequence = header.sequence
        lastTimestamp = header.timestamp
        lastArrival = time
        held = [(time, Array(bytes), header)]
    }

    /// RFC 3551 static audio types (0-23) and the dynamic range (96-127:
    /// telephone-event, Opus, AMR...). Video (24-34), RTCP and the rest are not a call's audio.
    static func isAudioPayloadType(_ pt: UInt8) -> Bool { pt <= 23 || pt >= 96 }

    /// Whether the run is long enough to be a stream.
    var isConfirmed: Bool { held.count >= RTPStreamCandidate.confirmation }

    /// Whether most packets of the run carried an SRTP authentication tag.
    var looksEncrypted: Bool { srtpVotes * 2 > held.count }

    /// Adds the next packet of the flow. Returns false when it does not
    /// continue the run (the caller then starts a new candidate from it).
    mutating func extend(_ header: RTPHeader, bytes: UnsafeRawBufferPointer, at time: MediaTime) -> Bool {
        guard header.ssrc == ssrc, RTPStreamCandidate.isAudioPayloadType(header.payloadType),
              bytes.count <= RTPStreamCandidate.maxPacketBytes
        else { return false }
        // seq 65535 -> 1 is a step of 2, not -65534.
        let step = header.sequence &- lastSequence
        guard step >= 1 && step <= 3 else { return false }
        // Timestamps move forward (or stay, for the packets of one RFC 4733 event).
        let advance = header.timestamp &- lastTimestamp
        guard advance <= 96_000 else { return false }
        let gap = time.seconds(since: lastArrival)
        guard gap >= 0 && gap < 1 else { return false }
        // G.711 and G.722 carry one byte per timestamp unit: a payload longer by
        // exactly an SRTP tag (32 or 80 bits) is encrypted.
        if header.payloadType == 0 || header.payloadType == 8 || header.payloadType == 9, step == 1 {
            let extra = header.payloadLength - Int(advance)
            if advance > 0 && (extra == 4 || extra == 10) { srtpVotes += 1 }
        }
        lastSequence = header.sequence
        lastTimestamp = header.timestamp
        lastArrival = time
        held.append((time, Array(bytes), header))
        return true
    }
}
