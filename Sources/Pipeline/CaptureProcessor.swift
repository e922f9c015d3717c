import CallrecCore
import Capture
import RTP
import SIP

/// Drives one capture through the stages: slices each packet, feeds SIP to
/// the call tracker, routes RTP to the call whose SDP named its endpoint,
/// and commits each call's recording when the call ends.
///
/// Memory depends on the calls in flight, never on the length of the capture:
/// a finished call's state is released as soon as it is committed.
public final class CaptureProcessor {
    /// Where an RTP packet goes: the call and the side that receives at an endpoint.
    struct Route {
        var callID: String
        var receiver: CallSide
    }

    public let options: ConvertOptions
    public let diagnostics: Diagnostics

    private let slicer: PacketSlicer
    private var tracker: CallTracker
    private var sessions: [String: CallSession] = [:]
    private var routes: [Endpoint: Route] = [:]
    private var lastSweep: MediaTime? = nil
    /// The capture time of the latest packet.
    public private(set) var now: MediaTime? = nil
    /// Called with each recording as it is committed.
    private let onRecording: (RecordingSummary) throws -> Void

    /// - Parameter onRecording: called with each recording once its files are committed.
    public init(options: ConvertOptions, diagnostics: Diagnostics, onRecording: @escaping (RecordingSummary) throws -> Void) {
        self.options = options
        self.diagnostics = diagnostics
        self.slicer = PacketSlicer(diagnostics: diagnostics)
        self.tracker = CallTracker(maxCalls: options.maxCalls, diagnostics: diagnostics)
        self.onRecording = onRecording
    }

    /// The number of calls in flight.
    public var callsInFlight: Int { sessions.count }

    /// Takes one captured packet.
    public func process(_ packet: borrowing RawPacket) throws {
        diagnostics.count(.packetsRead)
        let time = packet.timestamp
        if now == nil || time > now! { now = time }
        try sweepIfDue(at: time)
        guard let datagram = slicer.slice(packet) else { return }
        guard datagram.transport == .udp else { return }
        let payload = datagram.payload
        if SIPMessage.looksLikeSIP(payload) {
            try sip(payload, from: datagram.source, to: datagram.destination, at: time)
            return
        }
        try rtp(payload, from: datagram.source, to: datagram.destination, at: time)
    }

    private func sip(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws {
        guard let (message, _) = SIPMessage.parse(payload) else {
            diagnostics.count(.sipMalformed)
            return
        }
        diagnostics.count(.sipMessages)
        if let callID = message.callID, let session = sessions[callID] { session.lastActivity = time }
        try tracker.process(message, from: source, to: destination, at: time) { event in
            switch event {
            case .updated(let call):
                update(call, at: time)
            case .ended(let call):
                try end(callID: call.callID, description: call, reason: call.endReason ?? .bye)
            }
        }
    }

    private func update(_ call: CallDescription, at time: MediaTime) {
        let session: CallSession
        if let known = sessions[call.callID] {
            session = known
            session.description = call
        } else {
            session = CallSession(description: call, signalled: true, options: options, diagnostics: diagnostics, at: time)
            sessions[call.callID] = session
        }
        for side in CallSide.allCases {
            guard let media = call.media(of: side), media.endpoint.port != 0 else { continue }
            // A new INVITE on the same endpoint (a later call on the same ports) takes the route over.
            routes[media.endpoint] = Route(callID: call.callID, receiver: side)
        }
    }

    private func rtp(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws {
        let route: Route
        let sender: CallSide
        if let r = routes[destination] {
            route = r
            sender = r.receiver.opposite
        } else if let r = routes[source] {
            // Symmetric RTP: a party sends from the port it receives on.
            route = r
            sender = r.receiver
        } else {
            diagnostics.count(.rtpUnmatched)
            return
        }
        guard let header = RTPHeader(payload) else {
            diagnostics.count(.rtpMalformed)
            return
        }
        guard let session = sessions[route.callID] else {
            diagnostics.count(.rtpUnmatched)
            return
        }
        diagnostics.count(.rtpPackets)
        let body = UnsafeRawBufferPointer(rebasing: payload[header.payloadOffset..<(header.payloadOffset + header.payloadLength)])
        try session.receive(header, payload: body, from: sender, at: time)
    }

    /// Ends calls that have been idle longer than the timeout, once a second of capture time.
    private func sweepIfDue(at time: MediaTime) throws {
        if let last = lastSweep, time.seconds(since: last) < 1 { return }
        lastSweep = time
        let idle = sessions.values.filter { time.seconds(since: $0.lastActivity) > options.idleTimeout }
        for session in idle.sorted(by: { $0.lastActivity < $1.lastActivity }) {
            let callID = session.description.callID
            _ = tracker.remove(callID: callID)
            try end(callID: callID, description: session.description, reason: .timeout)
        }
    }

    private func end(callID: String, description: CallDescription, reason: CallEndReason) throws {
        guard let session = sessions.removeValue(forKey: callID) else { return }
        session.description = description
        for (endpoint, route) in routes where route.callID == callID {
            routes.removeValue(forKey: endpoint)
        }
        if let summary = try session.finish(reason: reason) {
            try onRecording(summary)
        } else {
            diagnostics.count(.callsWithoutMedia)
        }
    }

    /// Ends every call still in flight as cut (the capture ended) and commits it.
    public func finish() throws {
        slicer.reassembler.finish()
        try tracker.finishAll(at: now ?? MediaTime(nanoseconds: 0)) { event in
            if case .ended(let call) = event {
                try end(callID: call.callID, description: call, reason: .cut)
            }
        }
        for session in sessions.values.sorted(by: { $0.lastActivity < $1.lastActivity }) {
            try end(callID: session.description.callID, description: session.description, reason: .cut)
        }
    }

    /// Drops every call in flight without committing (after a fatal error).
    public func discardAll() {
        for session in sessions.values { session.discard() }
        sessions.removeAll()
        routes.removeAll()
    }
}
