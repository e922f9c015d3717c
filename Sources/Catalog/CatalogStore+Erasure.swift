import CallrecCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an erasure (delete, forget, purge) did.
public struct ErasureReport: Sendable {
    /// Recordings whose files and rows were removed.
    public var erased: [String] = []
    /// Recordings kept, with the reason (a legal hold).
    public var kept: [(id: String, why: String)] = []
    /// Recordings whose files could not all be removed (left `deleting`; `catalog verify` retries).
    public var failed: [(id: String, why: String)] = []
}

/// Removal is two-phase, like the commit: the rows are marked `deleting`
/// (with their audit entries) in one transaction, then the files are
/// unlinked, then the rows deleted. A crash in between leaves `deleting`
/// rows, which `verify` finishes; a removed recording never comes back.
extension CatalogStore {
    /// Deletes one recording. Supervisor or admin, within their scope; a
    /// legal hold refuses it. Audited.
    public func delete(id: String, by actor: CatalogActor, reason: String?, at now: Double) throws -> ErasureReport {
        let recording = try authorizedRecording(id: id, action: "delete", minimumRole: .supervisor, by: actor, reason: reason, at: now)
        if recording.isHeld {
            try audit("delete", target: id, outcome: .refused, by: actor, at: now, reason: reason, detail: "legal hold: \(recording.holdReason!)")
            throw CatalogError(.held, "recording \(id) is under legal hold (\(recording.holdReason!)); release it first")
        }
        let report = try erase([recording], action: "delete", by: actor, reason: reason, at: now)
        try reclaimErasedRows()
        return report
    }

    /// Erases every recording in which `number` is a party (right to
    /// erasure), except those under legal hold, which are kept and reported.
    /// Admin only; audited per recording and in summary.
    public func forget(number: NumberPattern, by actor: CatalogActor, reason: String?, at now: Double) throws -> ErasureReport {
        try require(.admin, actor, action: "forget", target: "number \(number)", reason: reason, at: now)
        guard number.isExact else { throw CatalogError(.invalid, "forget takes an exact number, not a pattern ('\(number)')") }
        let matches = try read { db in
            try CatalogRecording.fetchAll(
                db, sql: "SELECT * FROM recordings WHERE (caller = ? OR callee = ?) AND state = 'committed' ORDER BY start_epoch, id",
                arguments: [number.text, number.text])
        }
        let report = try erase(matches, action: "forget", by: actor, reason: reason, at: now, forgetting: "number \(number)")
        // Calls of the number that have no recording leave the ledger's parties too.
        try write { db in
            _ = try db.execute(
                sql: "UPDATE call_ledger SET caller = NULL, callee = NULL WHERE caller = ? OR callee = ?", arguments: [number.text, number.text])
        }
        try reclaimErasedRows()
        return report
    }

    /// Removes every recording whose retention has ended by `now`, except
    /// those under legal hold. Admin only; audited. Works in batches, so a
    /// first purge of a large archive does not hold it all in memory.
    public func purge(by actor: CatalogActor, reason: String?, at now: Double, dryRun: Bool = false) throws -> ErasureReport {
        try require(.admin, actor, action: "purge", target: nil, reason: reason, at: now)
        var report = ErasureReport()
        let held = try read { db in
            try CatalogRecording.fetchAll(
                db, sql: """
                    SELECT * FROM recordings WHERE retain_until_epoch <= ? AND state = 'committed' AND hold_reason IS NOT NULL
                    ORDER BY retain_until_epoch, id
                    """, arguments: [now])
        }
        report.kept = held.map { ($0.id, "legal hold: \($0.holdReason!)") }
        if dryRun {
            report.erased = try read { db in
                try db.column(
                    String.self, sql: """
                        SELECT id FROM recordings WHERE retain_until_epoch <= ? AND state = 'committed' AND hold_reason IS NULL
                        ORDER BY retain_until_epoch, id
                        """, arguments: [now])
            }
            return report
        }
        let why = reason ?? "retention ended"
        while true {
            let batch = try read { db in
                try CatalogRecording.fetchAll(
                    db, sql: """
                        SELECT * FROM recordings WHERE retain_until_epoch <= ? AND state = 'committed' AND hold_reason IS NULL
                        ORDER BY retain_until_epoch, id LIMIT 500
                        """, arguments: [now])
            }
            if batch.isEmpty { break }
            let done = try erase(batch, action: "purge", by: actor, reason: why, at: now)
            report.erased += done.erased
            report.failed += done.failed
            // Each listed row leaves `committed` (erased, or left `deleting` for verify or its
            // storage's recorder to finish), so the next batch is new rows; stop if none moved.
            if done.erased.isEmpty && done.failed.isEmpty { break }
        }
        if !report.erased.isEmpty { try reclaimErasedRows() }
        // Ledger rows past their retention go too, except a recording's that is still kept (held).
        let ledgerRows = try write { db in
            try db.execute(
                sql: """
                    DELETE FROM call_ledger WHERE retain_until_epoch <= ?                     AND (recording_id IS NULL OR recording_id NOT IN (SELECT id FROM recordings))
                    """, arguments: [now])
        }
        try audit(
            "purge", target: "retention", outcome: .done, by: actor, at: now, reason: why,
            detail: "erased \(report.erased.count), kept \(report.kept.count) under legal hold"
                + (ledgerRows > 0 ? "; \(ledgerRows) call ledger row\(ledgerRows == 1 ? "" : "s") past retention removed" : "")
                + (report.kept.isEmpty ? "" : ": " + report.kept.map(\.id).joined(separator: " ")))
        return report
    }

    /// Sets a legal hold on recording `id` (admin only; audited).
    public func hold(id: String, reason: String, by actor: CatalogActor, at now: Double) throws {
        _ = try authorizedRecording(id: id, action: "hold", minimumRole: .admin, by: actor, reason: reason, at: now)
        try write { db in
            try db.execute(
                sql: "UPDATE recordings SET hold_reason = ?, hold_by = ?, hold_at_epoch = ? WHERE id = ?",
                arguments: [reason, actor.auditName, now, id])
            try Self.appendAudit(db, at: now, actor: actor, action: "hold", target: id, outcome: .done, reason: reason)
        }
    }

    /// Lifts the legal hold on recording `id` (admin only; audited).
    public func release(id: String, reason: String, by actor: CatalogActor, at now: Double) throws {
        let recording = try authorizedRecording(id: id, action: "release", minimumRole: .admin, by: actor, reason: reason, at: now)
        guard recording.isHeld else { throw CatalogError(.notFound, "recording \(id) is not under legal hold") }
        try write { db in
            try db.execute(sql: "UPDATE recordings SET hold_reason = NULL, hold_by = NULL, hold_at_epoch = NULL WHERE id = ?", arguments: [id])
            try Self.appendAudit(
                db, at: now, actor: actor, action: "release", target: id, outcome: .done, reason: reason,
                detail: "hold was: \(recording.holdReason!) (by \(recording.holdBy ?? "?"))")
        }
    }

    /// Marks `recordings` (less the held ones) `deleting` with their audit
    /// entries, removes their files, then their rows. The caller reclaims
    /// the erased rows' space (`reclaimErasedRows`) once it has erased all
    /// it will. A recording whose files are in another storage (a shared
    /// PostgreSQL catalog) is left `deleting` for that storage's recorder or
    /// verify to finish, and reported as failed with the reason.
    func erase(
        _ recordings: [CatalogRecording], action: String, by actor: CatalogActor, reason: String?, at now: Double, forgetting number: String? = nil
    ) throws -> ErasureReport {
        // The transaction may run more than once (PostgreSQL retries): it returns what it did.
        let (kept, doomed) = try write { db -> ([(id: String, why: String)], [CatalogRecording]) in
            var kept: [(id: String, why: String)] = []
            var doomed: [CatalogRecording] = []
            for listed in recordings {
                // Read again inside the transaction: a hold set, or a commit begun, since the
                // list was made wins over the erasure.
                guard let recording = try CatalogRecording.fetchOne(db, id: listed.id), recording.state == .committed else { continue }
                if recording.isHeld {
                    kept.append((recording.id, "legal hold: \(recording.holdReason!)"))
                    try Self.appendAudit(
                        db, at: now, actor: actor, action: action, target: recording.id, outcome: .refused, reason: reason,
                        detail: "kept: legal hold: \(recording.holdReason!)")
                    continue
                }
                try db.execute(sql: "UPDATE recordings SET state = 'deleting' WHERE id = ?", arguments: [recording.id])
                // The ledger keeps that the call was seen and recorded, not who spoke.
                try db.execute(sql: "UPDATE call_ledger SET caller = NULL, callee = NULL WHERE recording_id = ?", arguments: [recording.id])
                try db.upsert(
                    into: "erased", values: [("id", .text(recording.id)), ("at_epoch", .real(now)), ("action", .text(action))],
                    conflict: ["id"])
                let files = try Self.files(db, recording.id).map(\.path)
                // The manifest keeps its place in the chain, its hash and signature; its bytes
                // (the parties) go. The entries about the recording keep their records and
                // commitments; their personal fields go.
                let withdrawn = try Self.withdrawManifests(db, recordingID: recording.id, as: action, at: now)
                let redacted = try AuditChain.redact(db, recordingID: recording.id)
                try Self.appendAudit(
                    db, at: now, actor: actor, action: action, target: recording.id, outcome: .done, reason: reason,
                    detail: "erased " + files.joined(separator: " ") + (withdrawn > 0 ? "; manifest withdrawn" : "")
                        + (redacted > 0 ? "; \(redacted) audit entr\(redacted == 1 ? "y" : "ies") about it redacted" : ""))
                doomed.append(recording)
            }
            if let number {
                // The number is the person's: earlier entries naming it are redacted, and the
                // summary does not name it.
                let redacted = try AuditChain.redact(db, target: number)
                try Self.appendAudit(
                    db, at: now, actor: actor, action: action, target: nil, outcome: .done, reason: reason,
                    detail: "erased \(doomed.count) recording\(doomed.count == 1 ? "" : "s") of one number (not kept here), kept \(kept.count) under legal hold"
                        + (kept.isEmpty ? "" : ": " + kept.map(\.id).joined(separator: " "))
                        + (redacted > 0 ? "; \(redacted) earlier audit entr\(redacted == 1 ? "y" : "ies") naming the number redacted" : ""))
            }
            return (kept, doomed)
        }
        var report = ErasureReport()
        report.kept = kept
        for recording in doomed {
            if recording.storage != storage {
                report.failed.append(
                    (recording.id, "its files are in storage \(recording.storage), not this one (\(storage)); its recorder, "
                        + "or catalog verify run there, finishes the erasure"))
            } else if let failure = try finishDeletion(id: recording.id) {
                report.failed.append((recording.id, failure))
            } else {
                report.erased.append(recording.id)
            }
        }
        return report
    }

    /// Removes the files of a `deleting` row, then the row. Returns why it
    /// could not, or nil when done.
    func finishDeletion(id: String) throws -> String? {
        let files = try files(of: id)
        for file in files {
            let path = filePath(file.path)
            for candidate in [path, CatalogStore.temporaryPath(of: path)] where unlink(candidate) != 0 && errno != ENOENT {
                return "\(candidate): cannot remove: \(String(cString: strerror(errno)))"
            }
            CatalogStore.syncFolder(of: path)
        }
        try write { db in
            try db.execute(sql: "DELETE FROM recordings WHERE id = ? AND state = 'deleting'", arguments: [id])
        }
        return nil
    }

    /// `2026-11-29`, the UTC day of `epoch`.
    static func isoDay(_ epoch: Double) -> String {
        let civil = CivilTime(epochSeconds: Int64(epoch.rounded(.down)))
        return "\(civil.year)-\(pad2(civil.month))-\(pad2(civil.day))"
    }

    /// Whether recording `id` was erased.
    public func wasErased(id: String) throws -> Bool {
        try read { db in try db.queryOne(sql: "SELECT 1 FROM erased WHERE id = ?", arguments: [id]) != nil }
    }

    /// `.<name>.partial` beside `path`: where a file is written before it is renamed into place.
    public static func temporaryPath(of path: String) -> String {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts[parts.count - 1] = "." + parts[parts.count - 1] + ".partial"
        return parts.joined(separator: "/")
    }

    /// Writes `bytes` to a new file at `path` (replacing one there), syncs it and its folder.
    static func writeSynced(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogError(.io, "\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CatalogError(.io, "\(path): cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        guard fsync(fd) == 0 else { throw CatalogError(.io, "\(path): cannot sync: \(String(cString: strerror(errno)))") }
        syncFolder(of: path)
    }

    /// Syncs the folder holding `path`, so a rename or unlink survives power loss.
    static func syncFolder(of path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        let folder = parts.isEmpty ? "." : parts.joined(separator: "/")
        let fd = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
