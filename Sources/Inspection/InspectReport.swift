import CallrecCore
import RTP
import SIP

/// Everything `callrec inspect` reports about one capture.
public struct InspectReport: Sendable, Encodable {
    /// The capture as the user named it (`<stdin>`, `interface eth0`).
    public var input: String
    /// `pcap`, `pcap (nanosecond)`, `pcapng`, `live`; nil when the capture could not be opened.
    public var format: String?
    /// The link types met, by name.
    public var linkTypes: [String]
    /// Packets read.
    public var packets: Int
    /// Every SIP call, in the order its INVITE was seen.
    public var calls: [InspectedCall]
    /// Every RTP stream, in the order its first packet was seen.
    public var streams: [StreamReport]
    /// Every non-zero diagnostic counter, by its snake_case name.
    public var counters: [String: Int]
    /// Notes about unusual input (bytes skipped, a cut last record), at most `Diagnostics.maxNotes`.
    public var notes: [String]
    /// The error that stopped reading, if any; what was read before it is reported.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case input, format, linkTypes = "link_types", packets, calls, streams, counters, notes, error
    }
}

/// One call in the inspect report.
public struct InspectedCall: Sendable, Encodable {
    /// The SIP Call-ID (untrusted text).
    public var callID: String
    /// The user part of the INVITE's From URI (else its host).
    public var caller: String?
    /// The user part of the INVITE's To URI (else its host).
    public var callee: String?
    /// When the INVITE was seen (without it, the first message of the dialog).
    public var start: MediaTime
    /// Whether the call's initial INVITE is in the capture.
    public var inviteSeen: Bool
    /// Without the INVITE: the message the dialog was first met at (`180`, `200`, `ACK`, `BYE`, `INVITE` for a re-INVITE).
    public var openedBy: String?
    /// When the first 2xx to the INVITE was seen.
    public var answered: MediaTime?
    /// When the call ended (nil while in flight).
    public var end: MediaTime?
    /// `bye`, `cancel`, `rejected-NNN`, `timeout`, `cut`, or nil while in flight.
    public var endReason: String?
    /// The encodings the answer accepted (the offer's while unanswered), in order, without telephone-event and CN.
    public var codecs: [String]
    /// Where each side receives RTP, as its SDP said.
    public var callerMedia: Endpoint?
    /// Where the callee receives RTP, as its SDP said.
    public var calleeMedia: Endpoint?

    init(_ call: CallDescription) {
        callID = call.callID
        caller = call.callerParty
        callee = call.calleeParty
        start = call.invitedAt
        inviteSeen = call.inviteSeen
        openedBy = call.openedBy
        answered = call.answeredAt
        end = call.endedAt
        endReason = call.endReason?.name
        let media = call.calleeMedia ?? call.callerMedia
        codecs = (media?.media.payloadTypes ?? []).compactMap { pt in
            let name = media?.media.format(for: pt)?.encoding ?? RTPPayloadType.staticName(pt)
            guard let name, name != "TELEPHONE-EVENT", name != "CN" else { return nil }
            return name
        }
        callerMedia = call.callerMedia?.endpoint
        calleeMedia = call.calleeMedia?.endpoint
    }

    enum CodingKeys: String, CodingKey {
        case callID = "call_id", caller, callee, start, inviteSeen = "invite_seen", openedBy = "opened_by", answered, end, endReason = "end_reason", durationS = "duration_s"
        case codecs, callerMedia = "caller_media", calleeMedia = "callee_media"
    }

    /// From the INVITE (or the first message seen) to the end (or nil while the call is in flight), in seconds.
    public var durationS: Double? { end.map { ($0.seconds(since: start) * 1000).rounded() / 1000 } }

    /// Encodes the report's fields under the names docs/FORMATS.md gives them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(callID, forKey: .callID)
        try c.encodeIfPresent(caller, forKey: .caller)
        try c.encodeIfPresent(callee, forKey: .callee)
        try c.encode(start.iso8601, forKey: .start)
        try c.encode(inviteSeen, forKey: .inviteSeen)
        try c.encodeIfPresent(openedBy, forKey: .openedBy)
        try c.encodeIfPresent(answered?.iso8601, forKey: .answered)
        try c.encodeIfPresent(end?.iso8601, forKey: .end)
        try c.encodeIfPresent(durationS, forKey: .durationS)
        try c.encodeIfPresent(endReason, forKey: .endReason)
        try c.encode(codecs, forKey: .codecs)
        try c.encodeIfPresent(callerMedia?.description, forKey: .callerMedia)
        try c.encodeIfPresent(calleeMedia?.description, forKey: .calleeMedia)
    }
}

/// One RTP stream in the inspect report.
public struct StreamReport: Sendable, Encodable {
    /// How the stream was recognised as RTP.
    public enum Discovery: String, Sendable, Encodable {
        /// Its endpoint was named by SDP.
        case sdp
        /// By the RTP heuristic (no SDP named it).
        case heuristic
    }

    /// Where the stream comes from.
    public var source: Endpoint
    /// Where the stream goes.
    public var destination: Endpoint
    /// The synchronisation source.
    public var ssrc: UInt32
    /// The first packet's payload type.
    public var payloadType: UInt8
    /// Every payload type seen, ascending.
    public var payloadTypes: [UInt8]
    /// The first payload type's encoding (from SDP, else the static table), nil when unknown.
    public var codec: String?
    /// Packets received, duplicates included.
    public var packets: Int
    /// Expected minus received, as tshark counts it (negative when duplicates outnumber losses).
    public var lost: Int
    /// Packets repeating a sequence number among the previous 64.
    public var duplicates: Int
    /// Packets with a lower sequence number than one already seen (not duplicates).
    public var outOfOrder: Int
    /// tshark's wrong-sequence count.
    public var sequenceErrors: Int
    /// The longest gap between consecutive regular packets, in milliseconds.
    public var maxDeltaMs: Double
    /// tshark's mean RFC 3550 jitter, in milliseconds.
    public var meanJitterMs: Double
    /// The largest RFC 3550 jitter, in milliseconds.
    public var maxJitterMs: Double
    /// When the first packet was captured.
    public var start: MediaTime
    /// When the last packet was captured.
    public var end: MediaTime
    /// The Call-ID of the SIP message whose SDP named the stream's endpoint.
    public var callID: String?
    /// Whether SDP or the heuristic made this RTP.
    public var foundBy: Discovery
    /// Whether the SDP asked for SRTP (`RTP/SAVP`): the payload is encrypted.
    public var srtp: Bool

    init(_ stream: RTPStreamTable.Stream) {
        let s = stream.statistics
        source = stream.key.source
        destination = stream.key.destination
        ssrc = stream.key.ssrc
        payloadType = stream.firstPayloadType
        payloadTypes = Array(s.payloadTypes)
        codec = stream.media?.media.format(for: stream.firstPayloadType)?.encoding ?? RTPPayloadType.staticName(stream.firstPayloadType)
        packets = s.packets
        lost = s.lost
        duplicates = s.duplicates
        outOfOrder = s.outOfOrder
        sequenceErrors = s.sequenceErrors
        maxDeltaMs = StreamReport.round(s.maxDeltaMs)
        meanJitterMs = StreamReport.round(s.meanJitterMs)
        maxJitterMs = StreamReport.round(s.maxJitterMs)
        start = s.firstArrival ?? MediaTime(nanoseconds: 0)
        end = s.lastArrival ?? start
        callID = stream.media?.callID
        foundBy = stream.foundBy
        srtp = stream.media?.media.isSecure ?? false
    }

    /// The SSRC as callrec prints it: `0x1A2B3C4D`.
    public var ssrcText: String { RTPHeader.format(ssrc: ssrc) }

    /// Milliseconds to the microsecond, as tshark prints them.
    static func round(_ ms: Double) -> Double { (ms * 1000).rounded() / 1000 }

    enum CodingKeys: String, CodingKey {
        case source = "src", destination = "dst", ssrc, payloadType = "payload_type", payloadTypes = "payload_types", codec
        case packets, lost, duplicates, outOfOrder = "out_of_order", sequenceErrors = "sequence_errors"
        case maxDeltaMs = "max_delta_ms", meanJitterMs = "mean_jitter_ms", maxJitterMs = "max_jitter_ms"
        case start, end, callID = "call_id", foundBy = "found_by", srtp
    }

    /// Encodes the report's fields under the names docs/FORMATS.md gives them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source.description, forKey: .source)
        try c.encode(destination.description, forKey: .destination)
        try c.encode(ssrcText, forKey: .ssrc)
        try c.encode(payloadType, forKey: .payloadType)
        try c.encode(payloadTypes, forKey: .payloadTypes)
        try c.encode(codec, forKey: .codec)
        try c.encode(packets, forKey: .packets)
        try c.encode(lost, forKey: .lost)
        try c.encode(duplicates, forKey: .duplicates)
        try c.encode(outOfOrder, forKey: .outOfOrder)
        try c.encode(sequenceErrors, forKey: .sequenceErrors)
        try c.encode(maxDeltaMs, forKey: .maxDeltaMs)
        try c.encode(meanJitterMs, forKey: .meanJitterMs)
        try c.encode(maxJitterMs, forKey: .maxJitterMs)
        try c.encode(start.iso8601, forKey: .start)
        try c.encode(end.iso8601, forKey: .end)
        try c.encodeIfPresent(callID, forKey: .callID)
        try c.encode(foundBy, forKey: .foundBy)
        try c.encode(srtp, forKey: .srtp)
    }
}
