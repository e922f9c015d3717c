import CallrecCore
import Capture
import RTP
import SIP

/// `callrec inspect`: reads a capture once and reports every call its SIP
/// describes and every RTP stream in it, with the statistics tshark's
/// `-z rtp,streams` gives (packets, lost, max delta, mean and max jitter),
/// plus callrec's duplicate and out-of-order counts. No audio is decoded.
///
/// What counts as RTP follows tshark:
/// - UDP to or from an address and port that an SDP body named (any SIP
///   message with SDP, from then on) is RTP when it parses as RTP version 2
///   and is not RTCP (marker bit with payload type 64-95, RFC 5761).
/// - Other UDP is RTP by heuristic, as `-o rtp.heuristic_rtp:TRUE` finds it:
///   version 2, an even destination port, and (callrec's addition, against
///   well-known services) both ports 1024 or above.
/// - RTP quoted inside ICMP errors never reaches here (the slicer counts ICMP).
///
/// A stream is one source endpoint, destination endpoint and SSRC. Memory is
/// bounded: at most `Options.maxStreams` streams, SDP endpoints and calls are
/// kept; more are counted and dropped.
public final class Inspector {
    /// Limits and switches.
    public struct Options: Sendable {
        /// Streams tracked at most; later ones are counted in `rtpStreamsDroppedOverLimit`.
        public var maxStreams: Int
        /// Calls reported at most (and SDP endpoints remembered: 4 per call).
        public var maxCalls: Int
        /// Whether UDP not named by SDP is tried as RTP.
        public var heuristicRTP: Bool

        public init(maxStreams: Int = 100_000, maxCalls: Int = 10_000, heuristicRTP: Bool = true) {
            self.maxStreams = maxStreams
            self.maxCalls = maxCalls
            self.heuristicRTP = heuristicRTP
        }
    }

    /// What an SDP body said about one media endpoint.
    struct AnnouncedMedia {
        var callID: String?
        var media: MediaDescription
    }

    /// One stream's identity: tshark's (source, destination, SSRC).
    struct StreamKey: Hashable {
        var source: Endpoint
        var destination: Endpoint
        var ssrc: UInt32
    }

    /// One stream's state.
    struct Stream {
        var key: StreamKey
        var statistics = RTPStreamStatistics()
        var firstPayloadType: UInt8
        var media: AnnouncedMedia?
        var foundBy: StreamReport.Discovery
    }

    public let options: Options
    public let diagnostics: Diagnostics
    private let slicer: PacketSlicer
    private var tracker: CallTracker
    private var announced: [Endpoint: AnnouncedMedia] = [:]
    private var streams: [Stream] = []
    private var streamIndex: [StreamKey: Int] = [:]
    private var calls: [CallReport] = []
    private var callOrder: [String: Int] = [:]
    private var lastTime: MediaTime? = nil

    public init(options: Options = Options(), diagnostics: Diagnostics) {
        self.options = options
        self.diagnostics = diagnostics
        slicer = PacketSlicer(diagnostics: diagnostics)
        tracker = CallTracker(maxCalls: options.maxCalls, diagnostics: diagnostics)
    }

    /// Takes one captured packet.
    public func process(_ packet: borrowing RawPacket) {
        diagnostics.count(.packetsRead)
        let time = packet.timestamp
        lastTime = time
        guard let datagram = slicer.slice(packet) else { return }
        let payload = datagram.payload
        if datagram.transport == .tcp {
            // SIP over TCP, one or more whole messages per segment. Messages split
            // across segments need stream reassembly and are not seen here.
            sipMessages(in: payload, from: datagram.source, to: datagram.destination, at: time)
            return
        }
        if SIPMessage.looksLikeSIP(payload) {
            sipMessages(in: payload, from: datagram.source, to: datagram.destination, at: time)
            return
        }
        if Inspector.mgcpPorts.contains(datagram.source.port) || Inspector.mgcpPorts.contains(datagram.destination.port) {
            mgcp(payload)
            return
        }
        rtp(payload, from: datagram.source, to: datagram.destination, at: time)
    }

    // MARK: SIP

    private func sipMessages(in payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) {
        var rest = payload
        while SIPMessage.looksLikeSIP(rest), let (message, length) = SIPMessage.parse(rest) {
            sip(message, from: source, to: destination, at: time)
            guard length > 0, length <= rest.count else { break }
            rest = UnsafeRawBufferPointer(rebasing: rest[length...])
        }
    }

    private func sip(_ message: SIPMessage, from source: Endpoint, to destination: Endpoint, at time: MediaTime) {
        diagnostics.count(.sipMessages)
        announce(message)
        tracker.process(message, from: source, to: destination, at: time) { event in
            switch event {
            case .updated(let call): record(call)
            case .ended(let call): record(call)
            }
        }
    }

    private func announce(_ message: SIPMessage) {
        guard message.hasSDP, let sdp = SessionDescription(message.body) else { return }
        announce(sdp, callID: message.callID.map { String($0.prefix(CallTracker.maxCallIDLength)) })
    }

    /// Remembers every media endpoint an SDP body names, as tshark sets up an RTP conversation for each.
    private func announce(_ sdp: SessionDescription, callID: String?) {
        for media in sdp.media where media.port != 0 {
            guard let address = media.connection ?? sdp.connection else { continue }
            let endpoint = Endpoint(address: address, port: media.port)
            if announced[endpoint] == nil && announced.count >= options.maxCalls * 4 { continue }
            announced[endpoint] = AnnouncedMedia(callID: callID, media: media)
        }
    }

    /// MGCP's gateway and call-agent ports (RFC 3435).
    static let mgcpPorts: Set<UInt16> = [2427, 2727]

    /// An MGCP command or response (CRCX, MDCX, their 200s) may carry SDP
    /// after a blank line; tshark sets up RTP from it as from SIP's.
    private func mgcp(_ payload: UnsafeRawBufferPointer) {
        var k = 0
        while k + 1 < payload.count {
            if payload[k] == 0x0A && (payload[k + 1] == 0x0A || (payload[k + 1] == 0x0D && k + 2 < payload.count && payload[k + 2] == 0x0A)) {
                let start = k + (payload[k + 1] == 0x0A ? 2 : 3)
                if let sdp = SessionDescription(Array(payload[start...])) { announce(sdp, callID: nil) }
                return
            }
            k += 1
        }
    }

    private func record(_ call: CallDescription) {
        let report = CallReport(call)
        if let k = callOrder[call.callID] {
            calls[k] = report
        } else if calls.count < options.maxCalls {
            callOrder[call.callID] = calls.count
            calls.append(report)
        }
    }

    // MARK: RTP

    private func rtp(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) {
        var media = announced[destination]
        if media == nil { media = announced[source] }
        if media == nil {
            guard options.heuristicRTP, destination.port % 2 == 0, source.port >= 1024, destination.port >= 1024 else { return }
        }
        guard let header = RTPHeader(payload), !(header.marker && (64...95).contains(header.payloadType)) else {
            if media != nil { diagnostics.count(.rtpMalformed) }
            return
        }
        let key = StreamKey(source: source, destination: destination, ssrc: header.ssrc)
        let index: Int
        if let known = streamIndex[key] {
            index = known
        } else {
            guard streams.count < options.maxStreams else {
                diagnostics.count(.rtpStreamsDroppedOverLimit)
                return
            }
            index = streams.count
            streamIndex[key] = index
            streams.append(Stream(key: key, firstPayloadType: header.payloadType, media: media, foundBy: media == nil ? .heuristic : .sdp))
        }
        diagnostics.count(.rtpPackets)
        let format = streams[index].media?.media.format(for: header.payloadType)
        let clockRate = RTPPayloadType.tsharkClockRate(header.payloadType, encoding: format?.encoding, declaredRate: format?.clockRate ?? 0)
        streams[index].statistics.record(
            sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: clockRate,
            marker: header.marker, payloadType: header.payloadType)
    }

    // MARK: Report

    /// The report so far: calls in the order their INVITE was seen, streams
    /// in the order their first packet was. Calls still in flight end as `cut`.
    public func finish() -> (calls: [CallReport], streams: [StreamReport]) {
        slicer.reassembler.finish()
        tracker.finishAll(at: lastTime ?? MediaTime(nanoseconds: 0)) { event in
            if case .ended(let call) = event { record(call) }
        }
        let streamReports = streams.map { stream -> StreamReport in
            StreamReport(stream)
        }
        return (calls, streamReports)
    }
}

/// One call in the inspect report.
public struct CallReport: Sendable, Encodable {
    public var callID: String
    public var caller: String?
    public var callee: String?
    /// When the INVITE was seen.
    public var start: MediaTime
    public var answered: MediaTime?
    public var end: MediaTime?
    /// `bye`, `cancel`, `rejected-NNN`, `timeout`, `cut`, or nil while in flight.
    public var endReason: String?
    /// The encodings the answer accepted (the offer's while unanswered), in order, without telephone-event and CN.
    public var codecs: [String]
    /// Where each side receives RTP, as its SDP said.
    public var callerMedia: Endpoint?
    public var calleeMedia: Endpoint?

    init(_ call: CallDescription) {
        callID = call.callID
        caller = call.callerParty
        callee = call.calleeParty
        start = call.invitedAt
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
        case callID = "call_id", caller, callee, start, answered, end, endReason = "end_reason", durationS = "duration_s"
        case codecs, callerMedia = "caller_media", calleeMedia = "callee_media"
    }

    /// From the INVITE to the end (or nil while the call is in flight), in seconds.
    public var durationS: Double? { end.map { ($0.seconds(since: start) * 1000).rounded() / 1000 } }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(callID, forKey: .callID)
        try c.encodeIfPresent(caller, forKey: .caller)
        try c.encodeIfPresent(callee, forKey: .callee)
        try c.encode(start.iso8601, forKey: .start)
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

    public var source: Endpoint
    public var destination: Endpoint
    public var ssrc: UInt32
    /// The first packet's payload type.
    public var payloadType: UInt8
    /// Every payload type seen, ascending.
    public var payloadTypes: [UInt8]
    /// The first payload type's encoding (from SDP, else the static table), nil when unknown.
    public var codec: String?
    public var packets: Int
    public var lost: Int
    public var duplicates: Int
    public var outOfOrder: Int
    public var sequenceErrors: Int
    public var maxDeltaMs: Double
    public var meanJitterMs: Double
    public var maxJitterMs: Double
    public var start: MediaTime
    public var end: MediaTime
    /// The Call-ID of the SIP message whose SDP named the stream's endpoint.
    public var callID: String?
    public var foundBy: Discovery
    /// Whether the SDP asked for SRTP (`RTP/SAVP`): the payload is encrypted.
    public var srtp: Bool

    init(_ stream: Inspector.Stream) {
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

    /// Milliseconds to the microsecond, as tshark prints them.
    static func round(_ ms: Double) -> Double { (ms * 1000).rounded() / 1000 }

    enum CodingKeys: String, CodingKey {
        case source = "src", destination = "dst", ssrc, payloadType = "payload_type", payloadTypes = "payload_types", codec
        case packets, lost, duplicates, outOfOrder = "out_of_order", sequenceErrors = "sequence_errors"
        case maxDeltaMs = "max_delta_ms", meanJitterMs = "mean_jitter_ms", maxJitterMs = "max_jitter_ms"
        case start, end, callID = "call_id", foundBy = "found_by", srtp
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source.description, forKey: .source)
        try c.encode(destination.description, forKey: .destination)
        try c.encode(RTPHeader.format(ssrc: ssrc), forKey: .ssrc)
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
    public var calls: [CallReport]
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

extension Inspector {
    /// Reads all of `source` and reports it. A read error part-way keeps what came before it.
    public static func inspect(source: CaptureSource, options: Options = Options(), diagnostics: Diagnostics) -> InspectReport {
        let inspector = Inspector(options: options, diagnostics: diagnostics)
        var failure: String? = nil
        do {
            try source.forEachPacket { packet in inspector.process(packet) }
        } catch {
            failure = (error as? CaptureError)?.description ?? "\(source.path): \(error)"
        }
        let (calls, streams) = inspector.finish()
        return InspectReport(
            input: source.path == "-" ? "<stdin>" : source.path, format: source.format.description,
            linkTypes: source.linkTypes.map(\.description), packets: source.packetsRead, calls: calls, streams: streams,
            counters: Dictionary(uniqueKeysWithValues: diagnostics.nonZero.map { ($0.0.name, $0.1) }),
            notes: diagnostics.notes, error: failure)
    }

    /// Opens `input` and reports it; a capture that cannot be opened gives a report holding only the error.
    public static func inspect(_ input: CaptureSource.Input, options: Options = Options(), diagnostics: Diagnostics) -> InspectReport {
        do {
            let source = try CaptureSource(input, diagnostics: diagnostics)
            return inspect(source: source, options: options, diagnostics: diagnostics)
        } catch {
            return InspectReport(
                input: input.description, format: nil, linkTypes: [], packets: 0, calls: [], streams: [], counters: [:],
                notes: [], error: (error as? CaptureError)?.description ?? "\(input): \(error)")
        }
    }
}
