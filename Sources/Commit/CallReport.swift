import CallrecCore
import CallMedia
import Catalog

/// Everything the router learnt about one call, reported when the call ends
/// whether or not it was recorded: its parties, how it was found, how it
/// ended, and what each leg carried on the wire.
public struct CallReport: Sendable {
    /// One leg: the audio one party sent.
    public struct Leg: Sendable, Equatable {
        /// RTP packets routed to the leg (SRTP included).
        public var packets: Int
        /// SRTP packets among them.
        public var encryptedPackets: Int
        /// SSRCs in order of appearance.
        public var ssrcs: [UInt32]
        /// RTP payload types seen, ascending.
        public var payloadTypes: [UInt8]
        /// Their encoding names, from the SDP or the static table of RFC 3551
        /// (`PCMA`, `CN`, `TELEPHONE-EVENT`); a dynamic type without SDP has none.
        public var encodings: [String]

        /// A leg's traffic as the router counted it.
        package init(packets: Int, encryptedPackets: Int, ssrcs: [UInt32], payloadTypes: [UInt8], encodings: [String]) {
            self.packets = packets
            self.encryptedPackets = encryptedPackets
            self.ssrcs = ssrcs
            self.payloadTypes = payloadTypes
            self.encodings = encodings
        }
    }

    /// What became of the call.
    public enum Outcome: Sendable, Equatable {
        /// Recorded: audio file and index written.
        case recorded
        /// SRTP: the index was written, the audio was not decoded.
        case encrypted(indexPath: String)
        /// Nothing written: no media, or none that callrec decodes.
        case notRecorded
    }

    /// The SIP Call-ID, or for a call without signalling a name made from its
    /// first stream (`rtp:10.0.0.1:4000-10.0.0.2:5000/0x1A2B3C4D`).
    public var callID: String
    /// The parties (user part of From and To), nil when unknown.
    public var caller: String?
    public var callee: String?
    /// `inbound`, `outbound`, `internal` or `unknown`.
    public var direction: String
    /// Whether the call was found from SIP (false: paired from RTP alone).
    public var signalled: Bool
    /// `bye`, `cancel`, `rejected`, `timeout` or `cut`.
    public var endReason: String
    /// The final status of a rejected INVITE.
    public var finalStatus: Int?
    /// The caller's leg (channel 0) and the callee's (channel 1).
    public var legs: [Leg]
    public var outcome: Outcome
    /// The recording, when one was written.
    public var recording: RecordingSummary?
    /// What the recording rules decided (a skipped call is `.notRecorded` with `decision.records` false).
    public var decision: RuleDecision = .unmatched
    /// The call's place (1, 2, ...) in the order calls ended in this run.
    public var sequence = 0
    /// When the call was first seen and when it ended (capture time, epoch seconds).
    public var startEpoch = 0.0
    public var endEpoch = 0.0
    /// Whether a signalled call was answered (a call without signalling counts as answered).
    public var answered = true
    /// For a dialog whose initial INVITE is not in the capture: the message it
    /// was first met at (`180`, `200`, `ACK`, `BYE`, `INVITE` for a re-INVITE).
    public var openedBy: String? = nil

    /// A report of the call `callID` (the decision and the sequence are set after).
    package init(
        callID: String, caller: String?, callee: String?, direction: String, signalled: Bool, endReason: String, finalStatus: Int?,
        legs: [Leg], outcome: Outcome, recording: RecordingSummary?
    ) {
        self.callID = callID
        self.caller = caller
        self.callee = callee
        self.direction = direction
        self.signalled = signalled
        self.endReason = endReason
        self.finalStatus = finalStatus
        self.legs = legs
        self.outcome = outcome
        self.recording = recording
    }
}
