import CallMedia
import Catalog
import CallrecCore
import Output

extension RecordingSummary {
    /// The ledger row of this recording's call (entered in the same
    /// transaction as the recording's row): its defects from the call index.
    package func ledgerEntry() -> LedgerEntry {
        var entry = LedgerEntry(
            callID: index.callID, startEpoch: min(callStartEpoch ?? start.seconds, start.seconds), endEpoch: start.seconds + index.durationS,
            direction: index.direction,
            caller: index.caller, callee: index.callee, signalled: index.signalling == "sip", outcome: .recorded,
            retainUntilEpoch: retainUntilEpoch ?? RuleDecision.unmatched.retention.until(from: start.seconds))
        entry.ruleID = ruleID
        entry.required = required
        entry.recordingID = id
        entry.cut = LedgerEntry.cutEndReasons.contains(index.endReason)
        entry.oneSided = index.channels.count < 2 || index.channels.contains { $0.packets == 0 }
        entry.gapsS = index.channels.reduce(0) { $0 + RecordingSummary.missingSeconds($1) }
        // Each leg against the signalling: media that starts more than `edgeTolerance` after the
        // answer is missing (gaps); media that stops more than `edgeTolerance` before the hang-up
        // leaves the leg cut.
        var notes: [String] = []
        for (leg, name) in zip(legCoverage ?? [], ["caller", "callee"]) where leg.mediaFrom != nil {
            if leg.lateStartS > LedgerEntry.edgeTolerance {
                entry.gapsS += leg.lateStartS
                notes.append("the \(name)'s media starts \(Self.tenths(leg.lateStartS)) s after the answer")
            }
            if leg.earlyEndS > LedgerEntry.edgeTolerance {
                entry.cut = true
                notes.append("the \(name)'s media stops \(Self.tenths(leg.earlyEndS)) s before the end")
            }
        }
        if !notes.isEmpty { entry.detail = notes.joined(separator: "; ") }
        return entry
    }

    /// Seconds to a tenth, as text: `31.2`.
    static func tenths(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// Seconds of a leg's expected media that are not in the recording:
    /// each lost packet counts 20 ms (the usual packet time), and spans the
    /// leg sent ciphertext or a codec callrec does not decode count whole.
    static func missingSeconds(_ channel: CallIndex.Channel) -> Double {
        var seconds = Double(channel.lost) * 0.02
        if let encrypted = channel.encryptedMedia { seconds += max(0, encrypted.toS - encrypted.fromS) }
        for span in channel.undecoded ?? [] { seconds += max(0, span.toS - span.fromS) }
        return seconds
    }
}

extension CallReport {
    /// The ledger row of a call that ended without a recording (nil when it
    /// was recorded: `RecordingCommitter` enters that row with the recording).
    /// The first that applies: skipped by a rule, SRTP without keys, never
    /// answered, no RTP at all, RTP in no codec callrec decodes.
    package var ledgerEntry: LedgerEntry? {
        switch outcome {
        case .recorded: return nil
        case .encrypted: return entry(decision.records ? .encryptedNoKey : .skippedByRule)
        case .notRecorded:
            if !decision.records { return entry(.skippedByRule) }
            if !answered { return entry(.notAnswered, detail: finalStatus.map { "final status \($0)" } ?? endReason) }
            if legs.allSatisfy({ $0.packets == 0 }) {
                // Where to look: a call known only from its later messages may have had media before the capture did.
                return entry(.noMedia, detail: openedBy.map { "the INVITE is not in the capture (known from its \($0 == "INVITE" ? "re-INVITE" : $0))" })
            }
            let codecs = Set(legs.flatMap(\.encodings)).sorted()
            return entry(.unsupportedCodec, detail: codecs.isEmpty ? "unknown payload types" : codecs.joined(separator: ","))
        }
    }

    /// The ledger row of a call the recorder gave up on for want of resources
    /// (`cause`: a disk that stayed full).
    package func droppedLedgerEntry(cause: String) -> LedgerEntry {
        entry(.dropped, detail: cause)
    }

    /// The ledger row of a call whose recording failed with `error`.
    package func failedLedgerEntry(_ error: any Error) -> LedgerEntry {
        entry(.failed, detail: "\(error)")
    }

    private func entry(_ outcome: LedgerEntry.Outcome, detail: String? = nil) -> LedgerEntry {
        var entry = LedgerEntry(
            callID: callID, startEpoch: startEpoch, endEpoch: endEpoch, direction: direction, caller: caller, callee: callee,
            signalled: signalled, outcome: outcome, retainUntilEpoch: decision.retention.until(from: startEpoch))
        entry.ruleID = decision.ruleID
        // A call nobody answered had nothing to record: no expectation fell short.
        entry.required = decision.required && outcome != .notAnswered
        entry.detail = detail
        return entry
    }
}
