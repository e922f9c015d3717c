import CallrecCore

/// Which party of a call: the caller sent the initial INVITE (channel 0),
/// the callee answered it (channel 1).
public enum CallSide: Int, Sendable, Hashable, CaseIterable {
    case caller = 0
    case callee = 1

    /// The other party.
    public var opposite: CallSide { self == .caller ? .callee : .caller }

    public var name: String { self == .caller ? "caller" : "callee" }
}

/// Where one party receives its media, as its SDP said.
public struct MediaEndpoint: Sendable, Equatable {
    /// The address and port the party receives RTP on.
    public var endpoint: Endpoint
    /// The m= line it came from (payload formats, direction, crypto).
    public var media: MediaDescription

    public init(endpoint: Endpoint, media: MediaDescription) {
        self.endpoint = endpoint
        self.media = media
    }
}

/// Why a call ended.
public enum CallEndReason: Sendable, Equatable {
    /// A BYE was seen.
    case bye
    /// The caller cancelled before an answer.
    case cancel
    /// The INVITE got a final 3xx-6xx response (a call that carried early media).
    case rejected(code: Int)
    /// No media for longer than the inactivity timeout.
    case timeout
    /// The capture ended before the call did.
    case cut
    /// A call found without signalling whose media a SIP dialog then claimed
    /// (the capture started mid-call): the dialog's own recording goes on from there.
    case superseded

    public var name: String {
        switch self {
        case .bye: "bye"
        case .cancel: "cancel"
        case .rejected: "rejected"
        case .timeout: "timeout"
        case .cut: "cut"
        case .superseded: "superseded"
        }
    }

    /// The final status of a rejected INVITE (`486`), else nil.
    public var finalStatus: Int? {
        if case .rejected(let code) = self { return code }
        return nil
    }
}

/// A call as its signalling describes it: who, when, and where each party
/// receives its media.
public struct CallDescription: Sendable {
    /// The SIP Call-ID (untrusted text; never a path or SQL).
    public var callID: String
    /// The From of the initial INVITE.
    public var caller: SIPAddress?
    /// The To of the initial INVITE.
    public var callee: SIPAddress?
    /// The From tag of the initial INVITE: tells which side sent a later request.
    public var callerTag: String?
    /// When the initial INVITE was captured.
    public var invitedAt: MediaTime
    /// When the first 2xx to the INVITE was captured.
    public var answeredAt: MediaTime?
    /// Where the INVITE came from.
    public var callerSignalling: Endpoint
    /// Where the caller receives media (from its SDP).
    public var callerMedia: MediaEndpoint?
    /// Where the callee receives media (from its SDP).
    public var calleeMedia: MediaEndpoint?
    /// When and why the call ended, once it has.
    public var endedAt: MediaTime?
    public var endReason: CallEndReason?
    /// Endpoints of the call's other enabled streams (video, fax, a second
    /// audio stream), from any party's SDP: not recorded, but theirs.
    public var otherMedia: [Endpoint] = []
    /// Most `otherMedia` endpoints kept.
    public static let maxOtherMedia = 8
    /// Inbound, outbound or internal, from the configured local parties.
    public var direction: CallDirection = .unknown
    /// The first request seen was inside a dialog (a re-INVITE with a To tag,
    /// or an ACK): the capture began mid-call, so From may be either party.
    public var joinedMidDialog = false
    /// What the dialog was first met at when that was not its initial INVITE
    /// (the INVITE is not in the capture: lost on the mirror port, a fragment
    /// missing, or the capture began later): `180`, `200` (a response to the
    /// INVITE), `ACK`, `BYE`, or `INVITE` (a re-INVITE). Nil when the initial
    /// INVITE was seen.
    public var openedBy: String? = nil

    /// Whether the call's initial INVITE is in the capture.
    public var inviteSeen: Bool { openedBy == nil }

    /// When the call was on hold: from the SDP that put it there (either
    /// party holding it, `a=sendonly`/`recvonly`/`inactive` or `0.0.0.0`)
    /// to the SDP that took it off, in order; the last one open while the
    /// call is held. A leg may be silent there by right.
    public var holds: [HoldSpan] = []
    /// Most `holds` kept: a call held and resumed more often extends its last one.
    public static let maxHolds = 16

    /// One span on hold.
    public struct HoldSpan: Sendable, Equatable {
        public var from: MediaTime
        /// Nil while the call is still held.
        public var to: MediaTime?

        public init(from: MediaTime, to: MediaTime?) {
            self.from = from
            self.to = to
        }
    }

    /// Whether either party's current SDP holds the call (or sends one way).
    public var isHeld: Bool { CallSide.allCases.contains { media(of: $0)?.media.isHold == true } }

    /// Opens or closes the hold span at `time` after the media changed.
    public mutating func noteHold(at time: MediaTime) {
        let open = holds.last.map { $0.to == nil } ?? false
        if isHeld && !open {
            if holds.count < CallDescription.maxHolds {
                holds.append(HoldSpan(from: time, to: nil))
            } else {
                // Out of room: the last span runs on from its start through this hold.
                holds[holds.count - 1].to = nil
            }
        } else if !isHeld && open {
            holds[holds.count - 1].to = time
        }
    }

    public init(callID: String, invitedAt: MediaTime, callerSignalling: Endpoint) {
        self.callID = callID
        self.invitedAt = invitedAt
        self.callerSignalling = callerSignalling
    }

    /// The media endpoint of `side`.
    public func media(of side: CallSide) -> MediaEndpoint? {
        side == .caller ? callerMedia : calleeMedia
    }

    /// The caller as a party string (user part, else host), or nil when unknown.
    public var callerParty: String? { caller?.party }
    /// The callee as a party string, or nil when unknown.
    public var calleeParty: String? { callee?.party }
}
