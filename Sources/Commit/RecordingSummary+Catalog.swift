import CallMedia
import Catalog
import CallrecCore
import Foundation
import Output

extension RecordingSummary {
    /// The catalog row for this recording, with paths relative to the output folder.
    package func catalogRecording(relativeTo outputDirectory: String) -> CatalogRecording {
        var row = CatalogRecording(
            id: id, callID: index.callID, caller: index.caller, callee: index.callee, direction: index.direction,
            start: index.start, startEpoch: start.seconds, durationS: index.durationS,
            audioPath: RecordingSummary.relative(audioPath, to: outputDirectory),
            indexPath: RecordingSummary.relative(indexPath, to: outputDirectory), audioBytes: audioBytes,
            // Per channel, every codec it carried in order ("PCMU+G722" after a re-INVITE).
            codecs: index.channels.map { channel in
                channel.codecs.map { $0.map(\.codec).joined(separator: "+") } ?? channel.codec ?? "-"
            }.joined(separator: ","), endReason: index.endReason)
        row.sampleRate = index.sampleRate
        row.audioSHA256 = audioSHA256
        row.mediaEncrypted = index.encrypted == true
        row.ruleID = ruleID
        // No rule decided (catalog verify rebuilding a row): the default retention.
        row.retainUntilEpoch = retainUntilEpoch ?? RuleDecision.unmatched.retention.until(from: start.seconds)
        row.onDemand = onDemand
        if index.channels.count == 2 {
            let (a, b) = (index.channels[0], index.channels[1])
            row.callerPackets = a.packets
            row.calleePackets = b.packets
            row.callerLost = a.lost
            row.calleeLost = b.lost
            row.callerJitterMs = a.jitterMs
            row.calleeJitterMs = b.jitterMs
        }
        if let bytes = try? index.encoded() { IndexSpeechFacts(indexJSON: bytes)?.apply(to: &row) }
        row.dtmfTimes = RecordingSummary.dtmfTimes(index.dtmf)
        return row
    }

    /// When each digit was sent, without the digit, as the catalog keeps it:
    /// `[[channel, at_s, duration_s], ...]` (`[]` for none).
    package static func dtmfTimes(_ events: [CallIndex.DTMF]) -> String {
        "[" + events.map { "[\($0.channel),\($0.atS),\($0.durationS)]" }.joined(separator: ",") + "]"
    }

    /// `path` relative to `folder` when it lies inside it.
    package static func relative(_ path: String, to folder: String) -> String {
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}

/// Talk time, overtalk, DTMF and silence read from a call index's JSON when
/// the index carries them (`talk_time_s` and `speech` per channel,
/// `overtalk_s`, `dtmf`: the fields ARCHITECTURE.md gives the index once
/// speech and DTMF detection exist). Absent fields stay nil in the catalog,
/// so `find` does not mistake "not analysed" for "none".
package struct IndexSpeechFacts {
    var talk: [Double?] = []
    var overtalk: Double?
    var dtmfCount: Int?
    var silenceShare: Double?

    package init?(indexJSON: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(indexJSON)) as? [String: Any] else { return nil }
        let channels = object["channels"] as? [[String: Any]] ?? []
        talk = channels.map { ($0["talk_time_s"] as? NSNumber)?.doubleValue }
        overtalk = (object["overtalk_s"] as? NSNumber)?.doubleValue
        if let dtmf = object["dtmf"] as? [Any] { dtmfCount = dtmf.count }
        // Silence: the share of the recording covered by nobody's speech.
        let spans = channels.compactMap { $0["speech"] as? [[NSNumber]] }
        if spans.count == channels.count, !channels.isEmpty, let duration = (object["duration_s"] as? NSNumber)?.doubleValue, duration > 0 {
            let intervals = spans.joined().compactMap { pair in pair.count == 2 ? (pair[0].doubleValue, pair[1].doubleValue) : nil }
                .sorted { $0.0 < $1.0 }
            var covered = 0.0
            var current: (Double, Double)? = nil
            for (a, b) in intervals {
                if let (s, e) = current, a <= e {
                    current = (s, max(e, b))
                } else {
                    if let (s, e) = current { covered += e - s }
                    current = (a, b)
                }
            }
            if let (s, e) = current { covered += e - s }
            silenceShare = max(0, min(1, 1 - covered / duration))
        }
    }

    package func apply(to row: inout CatalogRecording) {
        if talk.count == 2 {
            row.callerTalkS = talk[0]
            row.calleeTalkS = talk[1]
        }
        row.overtalkS = overtalk
        row.dtmfCount = dtmfCount
        row.silenceShare = silenceShare
    }
}
