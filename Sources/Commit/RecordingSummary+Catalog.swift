import CallMedia
import Catalog
import CallrecCore
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
        row.apply(speechFactsOf: index)
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

extension CatalogRecording {
    /// Talk time, overtalk, DTMF and silence, as the call index says them:
    /// the values `CallAnalysis` measured once, on the audio written, and the
    /// index carries (typed, not read back from its JSON). A call whose audio
    /// was not written (encrypted media without a key) was not analysed: its
    /// talk, overtalk and silence stay nil, so `find` does not mistake "not
    /// analysed" for "nobody spoke".
    package mutating func apply(speechFactsOf index: CallIndex) {
        dtmfCount = index.dtmf.count
        guard index.audio != nil else {
            callerTalkS = nil
            calleeTalkS = nil
            overtalkS = nil
            silenceShare = nil
            return
        }
        if index.channels.count == 2 {
            callerTalkS = index.channels[0].talkTimeS
            calleeTalkS = index.channels[1].talkTimeS
        }
        overtalkS = index.overtalkS
        silenceShare = index.silenceShare
    }
}
