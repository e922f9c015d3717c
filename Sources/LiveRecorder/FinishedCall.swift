import CallMedia
import Commit
import Foundation
import Output

/// One call as the live recorder reports it when the call ends: one JSON
/// object per line on standard output, in the order the calls ended, so
/// other tools can follow the recorder (docs/FORMATS.md, "record's output").
public struct FinishedCall: Sendable, Encodable, Equatable {
    /// What became of the call.
    public enum Outcome: String, Sendable, Encodable {
        /// Audio, index (and peaks) written and catalogued.
        case recorded
        /// A recording rule said not to record it: nothing was decoded or written.
        case skipped
        /// SRTP that no key decrypts: the index was written, no audio.
        case encrypted
        /// The call carried no audio callrec decodes: nothing written.
        case noMedia = "no_media"
        /// The recording could not be written (`error` says why): nothing of it is left.
        case failed
    }

    /// The call's place (1, 2, ...) in the order calls ended in this run.
    public var sequence: Int
    public var outcome: Outcome
    /// The SIP Call-ID (at most 256 bytes), or `rtp:...` for a call without signalling.
    public var callID: String
    public var caller: String?
    public var callee: String?
    public var direction: String
    /// `sip`, or `none` for a call paired from RTP alone.
    public var signalling: String
    /// `bye`, `cancel`, `rejected`, `timeout`, `cut` or `superseded`.
    public var endReason: String
    public var finalStatus: Int?
    /// RTP packets per leg: caller, callee.
    public var packets: [Int]
    /// The recording rule that decided, when one matched.
    public var rule: Int64?
    /// The recording id, for a recorded call.
    public var id: String?
    /// The audio file (the first, with `--channels split`), every audio file, and the call index.
    public var audio: String?
    public var audioFiles: [String]?
    public var index: String?
    /// Bytes of audio written.
    public var bytes: Int64?
    /// Why a failed call was not written.
    public var error: String?
    /// The call index as written, for a recorded call.
    public var call: CallIndex?
    /// The coverage failure the call is, when a `--require` rule matched it and it
    /// was not recorded completely: a line of its own after this one (not in this object).
    var coverageFailure: CoverageFailureLine? = nil

    enum CodingKeys: String, CodingKey {
        case sequence = "seq"
        case outcome
        case callID = "call_id"
        case caller, callee, direction, signalling
        case endReason = "end_reason"
        case finalStatus = "final_status"
        case packets, rule, id, audio
        case audioFiles = "audio_files"
        case index, bytes, error, call
    }

    /// The line for `report`, or for a call that failed with `error`.
    public init(_ report: CallReport, error: (any Error)? = nil) {
        sequence = report.sequence
        callID = RecordingNaming.bounded(report.callID)
        caller = report.caller.map { RecordingNaming.bounded($0) }
        callee = report.callee.map { RecordingNaming.bounded($0) }
        direction = report.direction
        signalling = report.signalled ? "sip" : "none"
        endReason = report.endReason
        finalStatus = report.finalStatus
        packets = report.legs.map(\.packets)
        rule = report.decision.ruleID
        if let error {
            outcome = .failed
            self.error = String(describing: error)
            return
        }
        switch report.outcome {
        case .recorded:
            outcome = .recorded
            if let recording = report.recording {
                id = recording.id
                audio = recording.audioPath
                audioFiles = recording.audioFiles.map(\.path)
                index = recording.indexPath
                bytes = recording.audioBytes
                call = recording.clearIndex
            }
        case .encrypted(let path):
            outcome = .encrypted
            index = path
        case .notRecorded:
            outcome = report.decision.records ? .noMedia : .skipped
        }
    }

    /// The object on one line (keys sorted, no trailing newline).
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
