import CallMedia
import CallrecCore
import Catalog
import Commit
import Output
import RTP
import SIP

// Finishing a call: the router lets go of it (its Call-ID, endpoints and
// SSRCs), reads once what it knows of it, and hands the call to its
// executor with values only.

extension CaptureProcessor {
    func end(callID: String, description: CallDescription, reason: CallEndReason, at time: MediaTime) throws {
        guard let key = keysByCallID[callID], let call = calls[key] else { return }
        call.description = description
        try end(key: key, reason: reason, at: time)
    }

    /// Ends a call: releases its endpoints (quarantined for a moment), and
    /// has its executor finish it: commit its recording (or, for SRTP, its
    /// index alone) and report it.
    func end(key: Int, reason: CallEndReason, at time: MediaTime) throws {
        guard let call = calls[key] else { return }
        forget(call)
        if !call.session.signalled { diagnostics.count(.callsWithoutSignalling) }
        claims.quarantine(call.endpoints, endedAt: time)
        endedCalls += 1
        // What the router knows is read here, on its own thread; the work and the effect below
        // (on the call's worker, with `CallWorkers`) see only these values and the session.
        var report = self.report(call, reason: reason)
        report.sequence = endedCalls
        report.startEpoch = call.createdAt.seconds
        report.endEpoch = call.lastActivity.seconds
        report.answered = !call.session.signalled || call.answered
        let completion = CallCompletion(call, reason: reason)
        let (description, options, onRecording, onCallEnded, onCallFailed) = (call.description, options, onRecording, onCallEnded, onCallFailed)
        let sources = call.legFacts
        let session = call.session
        try executor.complete(
            session,
            {
                // The heavy part, on the call's worker: the last audio encoded, every file synced.
                session.description = description
                session.legSources = sources
                if let failure = session.failure { throw failure }
                return try session.finish(reason: reason)
            },
            then: { finished in
                // What the end makes visible (the commit, the ledger row), in the executor's order.
                var report = report
                do {
                    (report.outcome, report.recording) = try completion.complete(
                        try finished.get(), session: session, options: options, onRecording: onRecording)
                } catch {
                    guard let onCallFailed else { throw error }
                    session.discard()
                    onCallFailed(report, error)
                    return
                }
                try onCallEnded?(report)
            })
    }

    /// What the router knows of `call` as it ends (the outcome is filled in once it is finished).
    private func report(_ call: RoutedCall, reason: CallEndReason) -> CallReport {
        let description = call.description
        var report = CallReport(
            callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
            direction: description.direction.rawValue, signalled: call.session.signalled, endReason: reason.name,
            finalStatus: reason.finalStatus,
            legs: CallSide.allCases.map { side in
                let leg = call.legs[side.rawValue]
                let types = Array(leg.payloadTypes)
                // Named by the receiver's SDP (it says what it accepts), else the sender's, else RFC 3551.
                let encodings = types.compactMap { pt in
                    (description.media(of: side.opposite)?.media.format(for: pt) ?? description.media(of: side)?.media.format(for: pt)
                        ?? RTPMap.staticPayloadType(pt))?.encoding
                }
                return CallReport.Leg(
                    packets: leg.packets, encryptedPackets: leg.encryptedPackets, ssrcs: leg.ssrcs, payloadTypes: types,
                    encodings: encodings)
            },
            outcome: .notRecorded, recording: nil)
        report.decision = call.decision
        report.openedBy = description.openedBy
        return report
    }

    /// Removes every trace of `call` from the router: the call, its Call-ID,
    /// its endpoint claims and its SSRCs.
    func forget(_ call: RoutedCall) {
        calls.removeValue(forKey: call.key)
        if call.session.signalled { keysByCallID.removeValue(forKey: call.description.callID) }
        for leg in call.legs {
            for ssrc in leg.ssrcs where legsBySSRC[ssrc]?.call == call.key { legsBySSRC.removeValue(forKey: ssrc) }
        }
        for (endpoint, _) in call.endpoints { claims.release(endpoint, of: call.key) }
    }

    /// Once a second of capture time: ends calls idle past their timeout,
    /// forgets stalled candidate flows and expired quarantine, skips TCP holes.
    func sweepIfDue(at time: MediaTime) throws {
        if let last = lastSweep, time.seconds(since: last) < 1 { return }
        lastSweep = time
        try flushDropped()
        var idle: [RoutedCall] = []
        for call in calls.values where time.seconds(since: call.lastActivity) > timeout(of: call) { idle.append(call) }
        for call in idle.sorted(by: { $0.lastActivity < $1.lastActivity }) {
            if call.session.signalled { _ = tracker.remove(callID: call.description.callID) }
            try end(key: call.key, reason: .timeout, at: time)
        }
        streams.sweep(at: time)
        claims.expire(at: time)
        try reassembler.sweep(at: time) { key, bytes in
            try frameSIP(bytes, from: key.source, to: key.destination, at: time)
        }
    }

    /// How long `call` may go without a packet: calls that are not expected
    /// to send RTP (ringing without early media, on hold) wait longer.
    private func timeout(of call: RoutedCall) -> Double {
        if call.onHold { return max(options.idleTimeout, options.holdTimeout) }
        if call.session.signalled && !call.answered && call.legs[0].packets == 0 && call.legs[1].packets == 0 {
            return max(options.idleTimeout, options.ringTimeout)
        }
        return options.idleTimeout
    }

    /// Moves capture time on to `time` without a packet, and ends the calls
    /// idle past their timeout by then: the live recorder's clock when the
    /// input is silent (see `Recorder`). Earlier times are ignored.
    public func advanceClock(to time: MediaTime) throws {
        guard let current = now, time > current else { return }
        now = time
        try sweepIfDue(at: time)
    }

    /// Ends every call still in flight as cut (the capture ended) and commits it.
    public func finish() throws {
        slicer.reassembler.finish()
        let time = now ?? MediaTime(nanoseconds: 0)
        try tracker.finishAll(at: time) { event in
            if case .ended(let call) = event {
                try end(callID: call.callID, description: call, reason: .cut, at: time)
            }
        }
        for call in calls.values.sorted(by: { $0.createdAt < $1.createdAt }) {
            try end(key: call.key, reason: .cut, at: time)
        }
        streams.finish()
        try flushDropped()
    }

    /// Drops every call in flight without committing (after a fatal error).
    public func discardAll() {
        for call in calls.values {
            try? executor.discard(call.session)
        }
        calls.removeAll()
        keysByCallID.removeAll()
        claims.removeAll()
        streams.removeAll()
        legsBySSRC.removeAll()
    }
}

/// What a call's end needs of the router once the call's recording is
/// finished, read from its `RoutedCall` on the router's thread as the call
/// ends: the end's effect may run on the call's worker (`CallWorkers` in
/// `.asFinished` order), and router state is never read from a worker.
struct CallCompletion {
    var callID: String
    var decision: RuleDecision
    var createdAt: MediaTime
    var capturePackets: ClosedRange<Int>
    var signalled: Bool
    var answered: Bool
    /// SRTP the SDP keyed (never decrypted) rather than ciphertext on a leg the SDP called plain.
    var srtp: Bool
    var encryptionKeying: String?
    /// The index to write for an encrypted call the rules record, and its first packet's time.
    var encryptedIndex: (index: CallIndex, start: MediaTime)?

    init(_ call: RoutedCall, reason: CallEndReason) {
        callID = call.description.callID
        decision = call.decision
        createdAt = call.createdAt
        capturePackets = call.firstPacket...max(call.firstPacket, call.lastPacket)
        signalled = call.session.signalled
        answered = call.answered
        srtp = call.encrypted
        encryptionKeying = call.encryptionKeying
        encryptedIndex = call.decision.records && (call.encrypted || call.carriedCiphertext) ? call.encryptedIndex(reason: reason) : nil
    }

    /// Commits the call's finished recording, or writes the index of an SRTP
    /// call; counts a call without media. Runs as the effect of the call's end.
    func complete(
        _ finished: FinishedRecording?, session: CallSession, options: ConvertOptions, onRecording: (FinishedRecording) throws -> Void
    ) throws -> (CallReport.Outcome, RecordingSummary?) {
        let diagnostics = session.diagnostics
        if var finished {
            finished.summary.ruleID = decision.ruleID
            finished.summary.required = decision.required
            finished.summary.callStartEpoch = createdAt.seconds
            finished.summary.retainUntilEpoch = decision.retention.until(from: finished.summary.start.seconds)
            finished.summary.onDemand = decision.onDemand
            finished.summary.capturePackets = capturePackets
            try onRecording(finished)
            return (.recorded, finished.summary)
        }
        if !decision.records { return (.notRecorded, nil) }
        if let (index, start) = encryptedIndex {
            let path = try RoutedCall.write(encryptedIndex: index, start: start, options: options)
            diagnostics.count(.callsEncrypted)
            diagnostics.note(
                "call \(RecordingNaming.safeForDisplay(callID)): "
                    + (srtp ? "SRTP media is not decrypted" : "the media is encrypted (\(encryptionKeying ?? "unknown") keying)")
                    + "; not recorded, indexed in \(path)")
            return (.encrypted(indexPath: path), nil)
        }
        diagnostics.count(.callsWithoutMedia)
        if signalled && !answered { diagnostics.count(.callsNotAnswered) }
        return (.notRecorded, nil)
    }
}
