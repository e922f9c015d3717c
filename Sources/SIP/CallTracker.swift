import CallrecCore

/// Follows SIP dialogs and turns them into `CallDescription`s: who called
/// whom, when, where each side receives media, and when the call ended.
///
/// - A call is keyed by its Call-ID; the From tag of its initial INVITE tells
///   which side sent each later request (the caller's tag) or response (the
///   opposite of the request's sender). Copies of a message at several hops
///   (a proxy forwards with the same Call-ID and tags) update the same call.
/// - SDP in any INVITE, ACK (late offer), UPDATE, PRACK or response to them
///   (18x early media, 2xx) sets the media of the side that sent it.
/// - A call ends on BYE, on CANCEL before the answer, or on a final 3xx-6xx
///   to the unanswered INVITE; 401 and 407 are challenges the caller answers
///   with a new INVITE in the same call, so they end nothing.
///
/// The tracker holds at most `maxCalls` calls; a new INVITE beyond that is
/// counted in `Diagnostics` and dropped, so a flood of Call-IDs cannot grow
/// memory without bound.
public struct CallTracker {
    /// What the tracker reports to its driver.
    public enum Event: Sendable {
        /// A new call, or a change to a known call's parties or media.
        case updated(CallDescription)
        /// The call ended (BYE, CANCEL, a final failure response).
        case ended(CallDescription)
        /// A new INVITE turned away: `maxCalls` calls are in flight (counted as
        /// `callsDroppedOverLimit`). Its parties and direction, for the ledger.
        case refused(CallDescription)
    }

    /// Calls in flight at most.
    public let maxCalls: Int
    /// The site's own parties, for each call's direction.
    public let localParties: LocalParties
    private var calls: [String: CallDescription] = [:]
    private let diagnostics: Diagnostics

    /// Longest Call-ID accepted, in bytes.
    public static let maxCallIDLength = 256

    public init(maxCalls: Int = 10_000, localParties: LocalParties = LocalParties(), diagnostics: Diagnostics) {
        self.maxCalls = maxCalls
        self.localParties = localParties
        self.diagnostics = diagnostics
    }

    /// Whether no new call fits (`maxCalls` are in flight).
    public var isFull: Bool { calls.count >= maxCalls }

    /// Whether a message with this Call-ID would be turned away for want of
    /// room: the tracker is full and does not know the call. Lets a driver
    /// count and drop a flood of new Call-IDs before parsing each message.
    public func refuses(callID: String) -> Bool {
        isFull && calls[callID] == nil
    }

    /// The number of calls in flight.
    public var count: Int { calls.count }

    /// Takes one SIP message sent from `source` to `destination` at `time`.
    public mutating func process(
        _ message: SIPMessage, from source: Endpoint, to destination: Endpoint, at time: MediaTime,
        emit: (Event) throws -> Void
    ) rethrows {
        guard let callID = message.callID, !callID.isEmpty, callID.utf8.count <= CallTracker.maxCallIDLength,
              let cseq = message.cseq
        else {
            diagnostics.count(.sipMalformed)
            return
        }
        if let method = message.method {
            try request(method, message, callID: callID, source: source, time: time, emit: emit)
        } else if let code = message.statusCode {
            try response(code, cseqMethod: cseq.method, message, callID: callID, time: time, emit: emit)
        }
    }

    private mutating func request(
        _ method: String, _ message: SIPMessage, callID: String, source: Endpoint, time: MediaTime,
        emit: (Event) throws -> Void
    ) rethrows {
        switch method {
        case "INVITE":
            var call: CallDescription
            if let known = calls[callID] {
                call = known
            } else {
                call = CallDescription(callID: callID, invitedAt: time, callerSignalling: source)
                let from = message.from
                let to = message.to
                call.caller = from
                call.callee = to
                call.callerTag = from?.tag
                call.joinedMidDialog = to?.tag != nil
                call.direction = localParties.direction(caller: call.caller, callee: call.callee)
                guard calls.count < maxCalls else {
                    diagnostics.count(.callsDroppedOverLimit)
                    try emit(.refused(call))
                    return
                }
            }
            applySDP(of: message, sentBy: senderSide(of: message, in: call), to: &call)
            calls[callID] = call
            try emit(.updated(call))
        case "ACK", "UPDATE", "PRACK":
            guard var call = calls[callID] else {
                diagnostics.count(.sipNotForACall)
                return
            }
            if applySDP(of: message, sentBy: senderSide(of: message, in: call), to: &call) {
                calls[callID] = call
                try emit(.updated(call))
            }
        case "BYE", "CANCEL":
            guard var call = calls[callID] else {
                diagnostics.count(.sipNotForACall)
                return
            }
            // A CANCEL that crosses the 2xx changes nothing (RFC 3261 section 9.2).
            if method == "CANCEL" && call.answeredAt != nil { return }
            calls.removeValue(forKey: callID)
            call.endedAt = time
            call.endReason = method == "BYE" ? .bye : .cancel
            try emit(.ended(call))
        default:
            // REGISTER, OPTIONS, INFO, NOTIFY...: not part of a call's media.
            if calls[callID] == nil { diagnostics.count(.sipNotForACall) }
        }
    }

    private mutating func response(
        _ code: Int, cseqMethod: String, _ message: SIPMessage, callID: String, time: MediaTime,
        emit: (Event) throws -> Void
    ) rethrows {
        guard var call = calls[callID] else {
            diagnostics.count(.sipNotForACall)
            return
        }
        guard cseqMethod == "INVITE" || cseqMethod == "UPDATE" || cseqMethod == "PRACK" else { return }
        // A response's SDP comes from the party the request was sent to: the
        // opposite of the From side.
        let responder = senderSide(of: message, in: call).opposite
        var changed = applySDP(of: message, sentBy: responder, to: &call)
        if cseqMethod == "INVITE" {
            if (200...299).contains(code) {
                if call.answeredAt == nil {
                    call.answeredAt = time
                    changed = true
                }
                if call.callee?.tag == nil, let tag = message.to?.tag {
                    call.callee?.tag = tag
                }
            } else if code >= 300 && call.answeredAt == nil && code != 401 && code != 407 {
                calls.removeValue(forKey: callID)
                call.endedAt = time
                call.endReason = .rejected(code: code)
                try emit(.ended(call))
                return
            }
        }
        calls[callID] = call
        if changed { try emit(.updated(call)) }
    }

    /// The side that sent a request: the caller if its From tag is the
    /// initial INVITE's From tag, else the callee.
    private func senderSide(of message: SIPMessage, in call: CallDescription) -> CallSide {
        guard let callerTag = call.callerTag, let tag = message.fromTag else { return .caller }
        return tag == callerTag ? .caller : .callee
    }

    /// Records the SDP in `message` as `side`'s media. Returns whether anything changed.
    @discardableResult
    private func applySDP(of message: SIPMessage, sentBy side: CallSide, to call: inout CallDescription) -> Bool {
        guard message.hasSDP, let sdp = SessionDescription(message.body) else { return false }
        let audio = sdp.audio
        var changed = false
        // Streams callrec does not record (video, fax, a second audio stream) still belong to the call.
        for var m in sdp.media where m.isEnabled {
            if m.connection == nil { m.connection = sdp.connection }
            guard let address = m.connection, !m.isUnspecifiedAddress else { continue }
            if let audio, m.kind == audio.kind, m.port == audio.port, address == audio.connection { continue }
            let endpoint = Endpoint(address: address, port: m.port)
            if !call.otherMedia.contains(endpoint) && call.otherMedia.count < CallDescription.maxOtherMedia {
                call.otherMedia.append(endpoint)
                changed = true
            }
        }
        guard let audio, let address = audio.connection else {
            diagnostics.count(.sdpWithoutAudio)
            return changed
        }
        let media = MediaEndpoint(endpoint: Endpoint(address: address, port: audio.port), media: audio)
        switch side {
        case .caller:
            if call.callerMedia == media { return changed }
            call.callerMedia = media
        case .callee:
            if call.calleeMedia == media { return changed }
            call.calleeMedia = media
        }
        return true
    }

    /// Ends every call still in flight (the capture ended), as cut.
    public mutating func finishAll(at time: MediaTime, emit: (Event) throws -> Void) rethrows {
        let remaining = calls.values.sorted { $0.invitedAt < $1.invitedAt }
        calls.removeAll()
        for var call in remaining {
            call.endedAt = time
            call.endReason = .cut
            try emit(.ended(call))
        }
    }

    /// Forgets a call (the driver timed it out).
    public mutating func remove(callID: String) -> CallDescription? {
        calls.removeValue(forKey: callID)
    }
}
