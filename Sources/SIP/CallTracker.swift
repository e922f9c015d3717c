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
/// - A dialog whose INVITE the capture does not hold (a fragment of it lost,
///   the mirror started mid-call) is opened at the first message that shows
///   it: a 1xx or 2xx to an INVITE (it travels callee -> caller, so From is
///   the caller and the message's destination the caller's side), or an ACK
///   inside a dialog (To has a tag). It takes Call-ID, From, To, the answer
///   time from the 2xx (an ACK says the call was answered: from then), and
///   the SDP it carries; `openedBy` says what opened it. A BYE alone opens
///   nothing: the RTP before it is already a call without signalling.
///   A final 3xx-6xx does not open one (it may refuse a re-INVITE of a dialog
///   that goes on), nor does a message of a call that just ended here (the
///   ACK of a 486, a retransmitted BYE) or was turned away: the last
///   4 × `maxCalls` (at least 4096) such Call-IDs are remembered for that.
///
/// The tracker holds at most `maxCalls` calls; a new call beyond that is
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
    /// Call-IDs of the calls that ended here lately: a late message of one opens nothing.
    private var ended: RecentCallIDs
    private let diagnostics: Diagnostics

    /// Longest Call-ID accepted, in bytes.
    public static let maxCallIDLength = 256

    public init(maxCalls: Int = 10_000, localParties: LocalParties = LocalParties(), diagnostics: Diagnostics) {
        self.maxCalls = maxCalls
        self.localParties = localParties
        // Four times the calls in flight (at least 4096): a whole turnover of calls, and those turned
        // away meanwhile, before a Call-ID is forgotten (about 40 bytes each beside the name).
        self.ended = RecentCallIDs(capacity: max(4 * maxCalls, 4096))
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
        guard let callID = message.callID, !callID.isEmpty, callID.utf8.count <= CallTracker.maxCallIDLength else {
            diagnostics.count(.sipMalformed)
            return
        }
        if let method = message.method {
            // A request names its method in its first line: a bad CSeq does not lose the dialog.
            try request(method, message, callID: callID, source: source, time: time, emit: emit)
        } else if let code = message.statusCode {
            // A response says what it answers only in its CSeq.
            guard let cseq = message.cseq else {
                diagnostics.count(.sipMalformed)
                return
            }
            try response(code, cseqMethod: cseq.method, message, callID: callID, destination: destination, time: time, emit: emit)
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
                call.callerTag = message.fromTag
                call.joinedMidDialog = message.toTag != nil
                call.direction = localParties.direction(caller: call.caller, callee: call.callee)
                if call.joinedMidDialog {
                    // A re-INVITE: the dialog's own INVITE came before the capture did.
                    guard !ended.contains(callID) else {
                        diagnostics.count(.sipNotForACall)
                        return
                    }
                    call.openedBy = "INVITE"
                }
                guard calls.count < maxCalls else {
                    diagnostics.count(.callsDroppedOverLimit)
                    // Its 180, 200, ACK and BYE then open nothing: the call is turned away once.
                    ended.insert(callID)
                    try emit(.refused(call))
                    return
                }
                if call.joinedMidDialog { diagnostics.count(.sipDialogsJoined) }
            }
            if applySDP(of: message, sentBy: senderSide(of: message, in: call), to: &call) { call.noteHold(at: time) }
            calls[callID] = call
            try emit(.updated(call))
        case "ACK", "UPDATE", "PRACK":
            var opened = false
            var call: CallDescription
            if let known = calls[callID] {
                call = known
            } else {
                // The ACK of a 2xx is sent by the INVITE's sender: the caller.
                guard method == "ACK" else {
                    diagnostics.count(.sipNotForACall)
                    return
                }
                guard let joined = try join(message, callID: callID, openedBy: method, callerSignalling: source, at: time, emit: emit)
                else { return }
                call = joined
                opened = true
            }
            let changed = applySDP(of: message, sentBy: senderSide(of: message, in: call), to: &call)
            if changed { call.noteHold(at: time) }
            if changed || opened {
                calls[callID] = call
                try emit(.updated(call))
            }
        case "BYE", "CANCEL":
            var call: CallDescription
            if let known = calls[callID] {
                call = known
            } else {
                // A BYE alone opens nothing: it names no media, and the RTP before it (a capture
                // begun mid-call) is already a call without signalling, which it would count twice.
                diagnostics.count(.sipNotForACall)
                return
            }
            // A CANCEL that crosses the 2xx changes nothing (RFC 3261 section 9.2).
            if method == "CANCEL" && call.answeredAt != nil { return }
            calls.removeValue(forKey: callID)
            ended.insert(callID)
            call.endedAt = time
            call.endReason = method == "BYE" ? .bye : .cancel
            try emit(.ended(call))
        default:
            // REGISTER, OPTIONS, INFO, NOTIFY...: not part of a call's media.
            if calls[callID] == nil { diagnostics.count(.sipNotForACall) }
        }
    }

    private mutating func response(
        _ code: Int, cseqMethod: String, _ message: SIPMessage, callID: String, destination: Endpoint, time: MediaTime,
        emit: (Event) throws -> Void
    ) rethrows {
        var call: CallDescription
        var changed = false
        if let known = calls[callID] {
            call = known
        } else {
            // A 1xx or 2xx to an INVITE the capture does not hold; it travels callee -> caller.
            guard cseqMethod == "INVITE", code < 300 else {
                diagnostics.count(.sipNotForACall)
                return
            }
            guard let joined = try join(
                message, callID: callID, openedBy: String(code), callerSignalling: destination, at: time, emit: emit)
            else { return }
            call = joined
            changed = true
        }
        guard cseqMethod == "INVITE" || cseqMethod == "UPDATE" || cseqMethod == "PRACK" else { return }
        // A response's SDP comes from the party the request was sent to: the
        // opposite of the From side.
        let responder = senderSide(of: message, in: call).opposite
        if applySDP(of: message, sentBy: responder, to: &call) {
            call.noteHold(at: time)
            changed = true
        }
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
                ended.insert(callID)
                call.endedAt = time
                call.endReason = .rejected(code: code)
                try emit(.ended(call))
                return
            }
        }
        calls[callID] = call
        if changed { try emit(.updated(call)) }
    }

    /// Opens the call of a dialog first met at `message` (a 1xx or 2xx to its
    /// INVITE, or an ACK inside it), whose INVITE the capture does not hold:
    /// its From is the caller, its To the callee, and a 2xx or an ACK says
    /// the call was answered (by then). Returns nil (counted) for a
    /// request outside a dialog (To without a tag), a Call-ID that just
    /// ended here (a late retransmission), or when `maxCalls` calls are in
    /// flight (`.refused`, for the ledger). The caller of `join` stores the
    /// call and reports it.
    private mutating func join(
        _ message: SIPMessage, callID: String, openedBy: String, callerSignalling: Endpoint, at time: MediaTime,
        emit: (Event) throws -> Void
    ) rethrows -> CallDescription? {
        let isRequest = message.method != nil
        guard !isRequest || message.toTag != nil, !ended.contains(callID) else {
            diagnostics.count(.sipNotForACall)
            return nil
        }
        var call = CallDescription(callID: callID, invitedAt: time, callerSignalling: callerSignalling)
        // Liberal: a From or To that does not parse leaves that party unknown, the dialog stays.
        call.caller = message.from
        call.callee = message.to
        call.callerTag = message.fromTag
        call.openedBy = openedBy
        call.direction = localParties.direction(caller: call.caller, callee: call.callee)
        let provisional = (message.statusCode ?? 0) < 200 && !isRequest
        if !provisional {
            // Answered: the 2xx sets the time below; an ACK says it was, by now.
            if isRequest { call.answeredAt = time }
            // Not a ringing call: it may be a re-INVITE's answer or a dialog long under way,
            // so From may be either party and the answer time is not the media's start.
            call.joinedMidDialog = true
        }
        guard calls.count < maxCalls else {
            diagnostics.count(.callsDroppedOverLimit)
            ended.insert(callID)
            try emit(.refused(call))
            return nil
        }
        diagnostics.count(.sipDialogsJoined)
        return call
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

    /// Forgets a call (the driver timed it out, or had no room for it); a
    /// late message of it opens nothing.
    public mutating func remove(callID: String) -> CallDescription? {
        guard let call = calls.removeValue(forKey: callID) else { return nil }
        ended.insert(callID)
        return call
    }
}

/// The Call-IDs of the last `capacity` calls that ended, oldest forgotten
/// first: a ring of names and a set to look them up.
struct RecentCallIDs {
    let capacity: Int
    private var ring: [String] = []
    private var next = 0
    private var members: [String: Int] = [:]

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func contains(_ callID: String) -> Bool { members[callID] != nil }

    mutating func insert(_ callID: String) {
        // Counted per entry: a Call-ID ended twice (a call and a later one under it) is in the ring twice.
        members[callID, default: 0] += 1
        if ring.count < capacity {
            ring.append(callID)
            return
        }
        let oldest = ring[next]
        if let n = members[oldest] { members[oldest] = n > 1 ? n - 1 : nil }
        ring[next] = callID
        next = (next + 1) % capacity
    }
}
