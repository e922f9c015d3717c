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
///   version 2 and not RTCP, to any port, even or odd (tshark 4.0 lists a
///   reverse-direction stream to an odd port), and (callrec's addition,
///   against well-known services) both ports 1024 or above and neither one
///   of the services tshark decodes by port above that (mDNS, LLMNR, SSDP,
///   STUN, RADIUS, L2TP, OpenVPN, NAT traversal, WS-Discovery).
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

        /// The defaults: 100 000 streams, 10 000 calls, heuristic RTP on.
        public init(maxStreams: Int = 100_000, maxCalls: Int = 10_000, heuristicRTP: Bool = true) {
            self.maxStreams = maxStreams
            self.maxCalls = maxCalls
            self.heuristicRTP = heuristicRTP
        }
    }

    /// The limits and switches in use.
    public let options: Options
    /// Where everything skipped is counted.
    public let diagnostics: Diagnostics
    private let slicer: PacketSlicer
    private var tracker: CallTracker
    /// The RTP streams and the SDP endpoints: a struct, so one packet is one exclusive access.
    private var table: RTPStreamTable
    private var calls: [InspectedCall] = []
    private var callOrder: [String: Int] = [:]

    /// An inspector with no calls or streams yet.
    public init(options: Options = Options(), diagnostics: Diagnostics) {
        self.options = options
        self.diagnostics = diagnostics
        slicer = PacketSlicer(diagnostics: diagnostics)
        tracker = CallTracker(maxCalls: options.maxCalls, diagnostics: diagnostics)
        table = RTPStreamTable(maxStreams: options.maxStreams, maxEndpoints: options.maxCalls * 4, heuristic: options.heuristicRTP)
    }

    /// Takes one captured packet.
    public func process(_ packet: borrowing RawPacket) {
        diagnostics.count(.packetsRead)
        let time = packet.timestamp
        guard let datagram = slicer.slice(packet) else {
            table.lastTime = time
            return
        }
        let payload = datagram.payload
        if datagram.transport == .tcp {
            table.lastTime = time
            // SIP over TCP, one or more whole messages per segment. Messages split
            // across segments need stream reassembly and are not seen here.
            sipMessages(in: payload, from: datagram.source, to: datagram.destination, at: time)
            return
        }
        if SIPMessage.looksLikeSIP(payload) {
            table.lastTime = time
            sipMessages(in: payload, from: datagram.source, to: datagram.destination, at: time)
            return
        }
        if Inspector.isMGCP(datagram.source.port) || Inspector.isMGCP(datagram.destination.port) {
            table.lastTime = time
            mgcp(payload)
            return
        }
        // The RTP path: one access to the table, which also keeps the time.
        table.receive(payload, from: datagram.source, to: datagram.destination, at: time, diagnostics: diagnostics)
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
        message.countHeaderRepairs(in: diagnostics)
        announce(message)
        tracker.process(message, from: source, to: destination, at: time) { event in
            switch event {
            case .updated(let call): record(call)
            case .ended(let call): record(call)
            case .refused: break
            }
        }
    }

    private func announce(_ message: SIPMessage) {
        guard message.hasSDP, let sdp = SessionDescription(message.body) else { return }
        announce(sdp, callID: message.callID.map { String($0.prefix(CallTracker.maxCallIDLength)) })
    }

    private func announce(_ sdp: SessionDescription, callID: String?) {
        table.announce(sdp, callID: callID)
    }

    /// MGCP's gateway and call-agent ports (RFC 3435).
    @inline(__always)
    static func isMGCP(_ port: UInt16) -> Bool { port == 2427 || port == 2727 }

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
        let report = InspectedCall(call)
        if let k = callOrder[call.callID] {
            calls[k] = report
        } else if calls.count < options.maxCalls {
            callOrder[call.callID] = calls.count
            calls.append(report)
        }
    }

    // MARK: Report

    /// The report so far: calls in the order their INVITE was seen, streams
    /// in the order their first packet was. Calls still in flight end as `cut`.
    public func finish() -> (calls: [InspectedCall], streams: [StreamReport]) {
        slicer.reassembler.finish()
        tracker.finishAll(at: table.lastTime ?? MediaTime(nanoseconds: 0)) { event in
            if case .ended(let call) = event { record(call) }
        }
        return (calls, table.streams.map(StreamReport.init))
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
