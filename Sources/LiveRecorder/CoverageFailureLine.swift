import CallMedia
import Catalog
import CallrecCore
import Foundation

/// One coverage failure as the live recorder reports it the moment it is
/// known: a call a `--require` rule matched that ended without a complete
/// recording (docs/FORMATS.md, "Record's output", coverage failures). One
/// JSON object on a line of its own, `{"coverage_failure": {...}}`, right
/// after the call's own line (a call turned away at the cap has none).
struct CoverageFailureLine: Encodable, Sendable, Equatable {
    struct Failure: Encodable, Sendable, Equatable {
        /// The call's `seq`, when it has a line of its own (a dropped call has none).
        var seq: Int?
        var callID: String
        var caller: String?
        var callee: String?
        var direction: String
        var start: String
        var outcome: String
        /// Why, in words, as `catalog coverage --failures` says it.
        var reason: String
        var rule: Int64?
        /// The recording to look at (`catalog show`), when there is one.
        var id: String?

        enum CodingKeys: String, CodingKey {
            case seq, callID = "call_id", caller, callee, direction, start, outcome, reason, rule, id
        }
    }

    var failure: Failure

    enum CodingKeys: String, CodingKey { case failure = "coverage_failure" }

    /// The line of `entry`'s call, or nil when it is no coverage failure.
    init?(_ entry: LedgerEntry, sequence: Int?) {
        guard entry.isCoverageFailure else { return nil }
        failure = Failure(
            seq: sequence, callID: RecordingNaming.bounded(entry.callID), caller: entry.caller.map { RecordingNaming.bounded($0) },
            callee: entry.callee.map { RecordingNaming.bounded($0) }, direction: entry.direction, start: ISO8601Time.seconds(entry.startEpoch),
            outcome: entry.outcome.rawValue, reason: entry.reason, rule: entry.ruleID, id: entry.recordingID)
    }

    /// The object on one line (keys sorted, no trailing newline).
    var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The same in words, for standard error (the journal).
    var message: String {
        "callrec: coverage failure: \(failure.start) \(failure.direction) \(failure.caller ?? "?") -> \(failure.callee ?? "?"): "
            + failure.reason + (failure.rule.map { " (required by rule \($0))" } ?? "") + (failure.id.map { "; see callrec catalog show \($0)" } ?? "")
    }
}
