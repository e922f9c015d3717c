import CallrecCore
import Catalog
import Foundation
import Output

/// A recording as `catalog find --json`, `show --json` and serve's `/api/calls` give it
/// (docs/FORMATS.md).
package struct RecordingJSON: Encodable, Sendable {
    package var id: String
    package var call_id: String
    package var caller: String?
    package var callee: String?
    package var direction: String
    package var start: String
    package var duration_s: Double
    package var path: String
    package var index_path: String
    package var bytes: Int64
    package var sha256: String?
    package var codecs: String
    package var end_reason: String
    package var caller_talk_s: Double?
    package var callee_talk_s: Double?
    package var dtmf_count: Int?
    package var silence_share: Double?
    package var rule_id: Int64?
    package var retain_until: String
    package var hold_reason: String?
    package var damaged: Bool
    /// Some of the call's media was encrypted: the recording holds only the audio sent in clear.
    package var media_encrypted: Bool
    /// `show --json`: whom the files are sealed to (names, or the key for compliance); nil in the clear.
    package var sealed_to: [String]? = nil
    /// `show --json`: the DTMF digits, when the index could be read.
    package var dtmf: [CallIndex.DTMF]? = nil

    package init(_ r: CatalogRecording, store: CatalogStore) {
        id = r.id
        call_id = r.callID
        caller = r.caller
        callee = r.callee
        direction = r.direction
        start = r.start
        duration_s = r.durationS
        path = store.filePath(r.audioPath, storage: r.storage)
        index_path = store.filePath(r.indexPath, storage: r.storage)
        bytes = r.audioBytes
        sha256 = r.audioSHA256
        codecs = r.codecs
        end_reason = r.endReason
        caller_talk_s = r.callerTalkS
        callee_talk_s = r.calleeTalkS
        dtmf_count = r.dtmfCount
        silence_share = r.silenceShare
        rule_id = r.ruleID
        retain_until = ISO8601Time.seconds(r.retainUntilEpoch)
        hold_reason = r.holdReason
        damaged = r.damaged
        media_encrypted = r.mediaEncrypted
    }
}
