import Catalog
import CallrecCore
import Foundation
import Output

/// What one finished call produced, for the command line and the catalog.
public struct RecordingSummary: Sendable {
    /// One audio file of the recording.
    public struct AudioFile: Sendable, Equatable {
        /// The final path.
        public var path: String
        /// Its size in bytes.
        public var bytes: Int64
    }

    /// The recording id.
    public var id: String
    /// The audio files written: one (stereo or mono), or one per party in
    /// channel order (split).
    public var audioFiles: [AudioFile]
    /// The call index's final path.
    public var indexPath: String
    /// The index as written.
    public var index: CallIndex
    /// Time zero of the recording.
    public var start: MediaTime

    /// The first (for stereo and mono, the only) audio file.
    public var audioPath: String { audioFiles[0].path }
    /// Bytes of all audio files together.
    public var audioBytes: Int64 { audioFiles.reduce(0) { $0 + $1.bytes } }
    /// What the recording rules decided (the rule and the retention).
    public var decision: RuleDecision = .unmatched
    /// SHA-256 of the audio file, once committed.
    public var audioSHA256: String? = nil
}

/// A finished recording whose files are complete and synced under their
/// temporary names, not yet visible: `RecordingCommitter` enters it in the
/// catalog and renames the files into place.
public struct FinishedRecording {
    /// What the recording holds.
    public var summary: RecordingSummary
    /// The files in commit order: the audio first, the call index last.
    public let files: [AtomicFile]
}

extension RecordingSummary {
    /// The catalog row for this recording, with paths relative to the output folder.
    func catalogRecording(relativeTo outputDirectory: String) -> CatalogRecording {
        var row = CatalogRecording(
            id: id, callID: index.callID, caller: index.caller, callee: index.callee, direction: index.direction,
            start: index.start, startEpoch: start.seconds, durationS: index.durationS,
            audioPath: RecordingSummary.relative(audioPath, to: outputDirectory),
            indexPath: RecordingSummary.relative(indexPath, to: outputDirectory), audioBytes: audioBytes,
            codecs: index.channels.map { $0.codec ?? "-" }.joined(separator: ","), endReason: index.endReason)
        row.sampleRate = index.sampleRate
        row.audioSHA256 = audioSHA256
        row.ruleID = decision.ruleID
        row.retainUntilEpoch = decision.retention.until(from: start.seconds)
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
        return row
    }

    /// `path` relative to `folder` when it lies inside it.
    static func relative(_ path: String, to folder: String) -> String {
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}

/// Talk time, overtalk, DTMF and silence read from a call index's JSON when
/// the index carries them (`talk_time_s` and `speech` per channel,
/// `overtalk_s`, `dtmf`: the fields ARCHITECTURE.md gives the index once
/// speech and DTMF detection exist). Absent fields stay nil in the catalog,
/// so `find` does not mistake "not analysed" for "none".
struct IndexSpeechFacts {
    var talk: [Double?] = []
    var overtalk: Double?
    var dtmfCount: Int?
    var silenceShare: Double?

    init?(indexJSON: [UInt8]) {
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

    func apply(to row: inout CatalogRecording) {
        if talk.count == 2 {
            row.callerTalkS = talk[0]
            row.calleeTalkS = talk[1]
        }
        row.overtalkS = overtalk
        row.dtmfCount = dtmfCount
        row.silenceShare = silenceShare
    }
}
