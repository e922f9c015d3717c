import Foundation
import CallrecCore

/// The employee's own say over their recordings (issue 14): keeping a call
/// an on-demand rule recorded provisionally, and deleting a recording of
/// their own that no rule requires and no hold protects. Both are open to
/// every role, within what the user may see (an agent: their own numbers'
/// calls), and audited, refusals included.
extension CatalogStore {
    /// Keeps recording `id`, which an on-demand rule recorded provisionally:
    /// it is then kept for its rule's retention from the call's start (the
    /// default, 24 months, when the rule is gone) instead of being purged
    /// once its time to be kept is past. Audited (`keep`).
    /// - Throws: `CatalogError(.invalid)` for a recording that is not on
    ///   demand or was kept already, or whose time to be kept is past (audited).
    @discardableResult
    public func keep(id: String, by actor: CatalogActor, reason: String?, at now: Double) throws -> CatalogRecording {
        let recording = try authorizedRecording(id: id, action: "keep", by: actor, reason: reason, at: now)
        func refused(_ why: String) throws -> Never {
            try audit("keep", target: id, outcome: .refused, by: actor, at: now, reason: reason, detail: why)
            throw CatalogError(.invalid, "recording \(id): \(why)")
        }
        guard recording.onDemand else {
            if let by = recording.keptBy {
                try refused("kept already (by \(by) at \(ISO8601Time.seconds(recording.keptAtEpoch ?? 0)))")
            }
            try refused("it was not recorded on demand: its rule keeps it anyway")
        }
        guard recording.retainUntilEpoch > now else {
            try refused("its time to be kept ended at \(ISO8601Time.seconds(recording.retainUntilEpoch)); purge removes it")
        }
        return try write { db in
            let rule = try Self.rules(db).first { $0.id == recording.ruleID }
            let retention = rule?.retention ?? .default
            var kept = recording
            kept.onDemand = false
            kept.keptBy = actor.auditName
            kept.keptAtEpoch = now
            kept.retainUntilEpoch = max(recording.retainUntilEpoch, retention.until(from: recording.startEpoch))
            try db.execute(
                sql: "UPDATE recordings SET on_demand = 0, kept_by = ?, kept_at_epoch = ?, retain_until_epoch = ? WHERE id = ? AND on_demand = 1",
                arguments: [kept.keptBy, now, kept.retainUntilEpoch, id])
            try db.execute(
                sql: "UPDATE call_ledger SET retain_until_epoch = ? WHERE recording_id = ?", arguments: [kept.retainUntilEpoch, id])
            try Self.appendAudit(
                db, at: now, actor: actor, action: "keep", target: id, outcome: .done, reason: reason,
                detail: "kept on demand (rule \(recording.ruleID.map(String.init) ?? "-")): retained until \(ISO8601Time.seconds(kept.retainUntilEpoch)), "
                    + "\(retention)" + (rule == nil ? " (its rule is gone: the default)" : " (its rule's retention)"))
            return kept
        }
    }

    /// Deletes recording `id` at the request of a user who may see it (an
    /// agent: a call of their own numbers): its files and row, as `delete`
    /// removes them. Refused (and audited) when a legal hold protects it or
    /// a `--require` rule recorded it (the rule's `required`, or the call
    /// ledger's record that a required rule matched the call).
    public func discard(id: String, by actor: CatalogActor, reason: String, at now: Double) throws -> ErasureReport {
        let recording = try authorizedRecording(id: id, action: "discard", by: actor, reason: reason, at: now)
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw CatalogError(.invalid, "say why the recording is deleted") }
        if recording.isHeld {
            try audit("discard", target: id, outcome: .refused, by: actor, at: now, reason: reason, detail: "legal hold: \(recording.holdReason!)")
            throw CatalogError(.held, "recording \(id) is under legal hold (\(recording.holdReason!)); it cannot be deleted")
        }
        let required = try read { db in
            let byRule = try recording.ruleID.map { try db.scalar(Int.self, sql: "SELECT required FROM rules WHERE id = ?", arguments: [$0]) ?? 0 } ?? 0
            let byLedger = try db.scalar(Int.self, sql: "SELECT count(*) FROM call_ledger WHERE recording_id = ? AND required = 1", arguments: [id]) ?? 0
            return byRule != 0 || byLedger > 0
        }
        if required {
            let why = "a rule that requires recording (--require) recorded it (rule \(recording.ruleID.map(String.init) ?? "-"))"
            try audit("discard", target: id, outcome: .refused, by: actor, at: now, reason: reason, detail: why)
            throw CatalogError(.required, "refused: recording \(id) must be kept: \(why)")
        }
        let report = try erase([recording.id], action: "discard", by: actor, reason: reason, at: now)
        try reclaimErasedRows()
        return report
    }
}
