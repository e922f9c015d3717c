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
    /// The audio and index files on this machine (`catalog find --json`); nil in serve's JSON, which gives URLs instead.
    package var path: String?
    package var index_path: String?
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
    /// Recorded by an on-demand rule and not kept yet: purged after `retain_until` unless kept.
    package var on_demand: Bool
    /// Who kept it on demand.
    package var kept_by: String?
    /// serve: where the call's page, audio, index and peaks are (paths on this server, not files).
    package var urls: URLs? = nil

    /// serve's links of a recording.
    package struct URLs: Encodable, Sendable {
        package var page: String
        package var audio: String
        package var index: String
        package var peaks: String
    }

    /// What serve gives out: the ids and URLs of the recording, never where its files are on disk.
    package func forServe() -> RecordingJSON {
        var json = self
        json.path = nil
        json.index_path = nil
        json.urls = URLs(page: "/calls/\(id)", audio: "/calls/\(id)/audio", index: "/api/calls/\(id)", peaks: "/api/calls/\(id)/peaks")
        return json
    }

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
        on_demand = r.onDemand
        kept_by = r.keptBy
    }
}
