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
        let report = try erase([recording.id], action: "delete", by: actor, reason: reason, at: now)
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
            try db.column(
                String.self, sql: "SELECT id FROM recordings WHERE (caller = ? OR callee = ?) AND state = 'committed' ORDER BY start_epoch, id",
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
    /// those under legal hold. Admin only; audited. Works in batches of
    /// `purgeBatch` (each one `erase`: a few set-based statements, every
    /// file unlinked and each day folder synced once, the rows deleted in
    /// one statement), so a first purge of a large archive neither holds it
    /// all in memory nor makes a round trip per recording.
    public func purge(by actor: CatalogActor, reason: String?, at now: Double, dryRun: Bool = false) throws -> ErasureReport {
        try purge(by: actor, reason: reason, at: now, dryRun: dryRun, batch: Self.purgeBatch)
    }

    /// `purge` erasing `batch` recordings a transaction (the tests take
    /// small batches, so a few dozen recordings cross several).
    package func purge(by actor: CatalogActor, reason: String?, at now: Double, dryRun: Bool, batch size: Int) throws -> ErasureReport {
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
                try db.column(
                    String.self, sql: """
                        SELECT id FROM recordings WHERE retain_until_epoch <= ? AND state = 'committed' AND hold_reason IS NULL
                        ORDER BY retain_until_epoch, id LIMIT ?
                        """, arguments: [now, size])
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
        // NOT EXISTS, an anti-join on the primary key: `NOT IN (SELECT id ...)` is a hashed
        // subplan on PostgreSQL only while the ids fit in work_mem, and a scan per row after.
        let ledgerRows = try write { db in
            try db.execute(
                sql: """
                    DELETE FROM call_ledger WHERE retain_until_epoch <= ?
                    AND (recording_id IS NULL OR NOT EXISTS (SELECT 1 FROM recordings r WHERE r.id = call_ledger.recording_id))
                    """, arguments: [now])
        }
        try audit(
            "purge", target: "retention", outcome: .done, by: actor, at: now, reason: why,
            detail: "erased \(report.erased.count), kept \(report.kept.count) under legal hold"
                + (ledgerRows > 0 ? "; \(ledgerRows) call ledger row\(ledgerRows == 1 ? "" : "s") past retention removed" : "")
                + (report.kept.isEmpty ? "" : ": " + report.kept.map(\.id).joined(separator: " ")))
        return report
    }

    /// How many recordings one purge transaction erases: large enough that
    /// a million are a few hundred transactions, small enough that one
    /// batch's ids bind in a statement (`idsPerStatement`) and its files'
    /// paths fit in memory many times over.
    static let purgeBatch = idsPerStatement

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

    /// Marks the recordings `listed` (less the held ones) `deleting` with their audit
    /// entries, removes their files, then their rows. The caller reclaims
    /// the erased rows' space (`reclaimErasedRows`) once it has erased all
    /// it will. A recording whose files are in another storage (a shared
    /// PostgreSQL catalog) is left `deleting` for that storage's recorder or
    /// verify to finish, and reported as failed with the reason.
    ///
    /// Set-based, so that a purge of a million recordings is a few hundred
    /// transactions rather than millions of round trips: each step is one
    /// statement over the list's ids (`IN (?, ...)`, at most
    /// `idsPerStatement` a statement), not one per recording. What it
    /// writes is what erasing them one by one wrote: every recording still
    /// gets an audit entry of its own (its files, its manifest withdrawn,
    /// how many entries about it were redacted), chained in list order
    /// (`AuditChain.append(_:entries:)`: one head read and moved, the rows
    /// loaded in bulk), because `EvidenceVerifier` explains a withdrawn
    /// manifest by the `purge done` entry about its recording.
    func erase(
        _ listed: [String], action: String, by actor: CatalogActor, reason: String?, at now: Double, forgetting number: String? = nil
    ) throws -> ErasureReport {
        // The transaction may run more than once (PostgreSQL retries): it returns what it did.
        let (kept, doomed) = try write { db -> ([(id: String, why: String)], [(id: String, storage: String, files: [String])]) in
            // Read again inside the transaction: a hold set, or a commit begun, since the
            // list was made wins over the erasure.
            var current: [String: (hold: String?, storage: String)] = [:]
            try Self.forEachChunk(of: listed) { list, arguments in
                for row in try db.query(
                    sql: "SELECT id, hold_reason, storage FROM recordings WHERE id IN \(list) AND state = 'committed'", arguments: arguments)
                {
                    current[try row["id"]] = (try row["hold_reason"], try row["storage"])
                }
            }
            let erasable = listed.filter { current[$0].map { $0.hold == nil } ?? false }
            var files: [String: [String]] = [:]
            var withdrawn: Set<String> = []
            var redacted: [String: Int] = [:]
            try Self.forEachChunk(of: erasable) { list, arguments in
                try db.execute(
                    sql: "UPDATE recordings SET state = 'deleting' WHERE id IN \(list) AND state = 'committed' AND hold_reason IS NULL",
                    arguments: arguments)
                // The ledger keeps that the call was seen and recorded, not who spoke.
                try db.execute(sql: "UPDATE call_ledger SET caller = NULL, callee = NULL WHERE recording_id IN \(list)", arguments: arguments)
                try db.execute(
                    sql: """
                        INSERT INTO erased (id, at_epoch, action) SELECT id, ?, ? FROM recordings WHERE id IN \(list)
                        ON CONFLICT (id) DO UPDATE SET at_epoch = excluded.at_epoch, action = excluded.action
                        """,
                    arguments: [now, action] + arguments)
                for row in try db.query(
                    sql: "SELECT recording_id, path FROM recording_files WHERE recording_id IN \(list) ORDER BY recording_id, position",
                    arguments: arguments)
                {
                    files[try row["recording_id"], default: []].append(try row["path"])
                }
                // The manifest keeps its place in the chain, its hash and signature; its bytes
                // (the parties) go. The entries about the recording keep their records and
                // commitments; their personal fields go.
                for id in try Self.withdrawManifests(db, recordingIDs: list, arguments: arguments, as: action, at: now) { withdrawn.insert(id) }
                for id in try AuditChain.redact(db, recordingIDs: list, arguments: arguments) { redacted[id, default: 0] += 1 }
            }
            var kept: [(id: String, why: String)] = []
            var doomed: [(id: String, storage: String, files: [String])] = []
            var entries: [AuditChain.Entry] = []
            for id in listed {
                guard let row = current[id] else { continue }
                if let hold = row.hold {
                    kept.append((id, "legal hold: \(hold)"))
                    entries.append(
                        AuditChain.Entry(
                            at: now, actor: actor.auditName, action: action, target: id, outcome: AuditEntry.Outcome.refused.rawValue,
                            reason: reason, detail: "kept: legal hold: \(hold)"))
                    continue
                }
                let paths = files[id] ?? []
                let count = redacted[id] ?? 0
                entries.append(
                    AuditChain.Entry(
                        at: now, actor: actor.auditName, action: action, target: id, outcome: AuditEntry.Outcome.done.rawValue, reason: reason,
                        detail: "erased " + paths.joined(separator: " ") + (withdrawn.contains(id) ? "; manifest withdrawn" : "")
                            + (count > 0 ? "; \(count) audit entr\(count == 1 ? "y" : "ies") about it redacted" : "")))
                doomed.append((id, row.storage, paths))
            }
            try AuditChain.append(db, entries: entries)
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
        var here: [(id: String, files: [String])] = []
        for recording in doomed {
            if recording.storage != storage {
                report.failed.append(
                    (recording.id, "its files are in storage \(recording.storage), not this one (\(storage)); its recorder, "
                        + "or catalog verify run there, finishes the erasure"))
            } else {
                here.append((recording.id, recording.files))
            }
        }
        let failures = try finishDeletions(here)
        for recording in here {
            if let failure = failures[recording.id] {
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
        try finishDeletions([(id, try files(of: id).map(\.path))])[id]
    }

    /// Removes the files of `deleting` rows (`files`: each row's catalogued
    /// paths), then the rows, in one transaction. Every file and its
    /// temporary name is unlinked, then each folder that held one is synced
    /// once (not once a file: a purge's files share a few day folders), so
    /// the removals are durable before any row goes — a crash in between
    /// leaves `deleting` rows, which verify finishes. A row whose file
    /// cannot be removed stays `deleting`; returns why, by id.
    func finishDeletions(_ rows: [(id: String, files: [String])]) throws -> [String: String] {
        var failures: [String: String] = [:]
        var folders: Set<String> = []
        var done: [String] = []
        done.reserveCapacity(rows.count)
        for row in rows {
            var failure: String? = nil
            files: for file in row.files {
                let path = filePath(file)
                for candidate in [path, CatalogStore.temporaryPath(of: path)] where unlink(candidate) != 0 && errno != ENOENT {
                    failure = "\(candidate): cannot remove: \(String(cString: strerror(errno)))"
                    break files
                }
                folders.insert(CatalogStore.folder(of: path))
            }
            if let failure {
                failures[row.id] = failure
            } else {
                done.append(row.id)
            }
        }
        for folder in folders { CatalogStore.syncFolder(folder) }
        guard !done.isEmpty else { return failures }
        try write { db in
            try Self.forEachChunk(of: done) { list, arguments in
                try db.execute(sql: "DELETE FROM recordings WHERE id IN \(list) AND state = 'deleting'", arguments: arguments)
            }
        }
        return failures
    }

    /// How many ids one statement binds: well inside SQLite's 32,766
    /// variables and PostgreSQL's 65,535 parameters, with room for the
    /// statement's other values.
    static let idsPerStatement = 5_000

    /// Calls `body` with `ids` a chunk at a time (at most `idsPerStatement`):
    /// the `(?, ?, ...)` list of the chunk's placeholders, and the chunk's
    /// ids as the arguments they bind.
    static func forEachChunk(of ids: [String], _ body: (_ list: String, _ arguments: SQLArguments) throws -> Void) throws {
        var start = 0
        while start < ids.count {
            let end = min(start + idsPerStatement, ids.count)
            try body(placeholders(end - start), SQLArguments(ids[start..<end].map { SQLValue.text($0) }))
            start = end
        }
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
        // Cut at the last `/` in the UTF-8 bytes: a purge asks this for millions of files.
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." + path + ".partial" }
        let name = path.utf8.index(after: slash)
        return String(path[..<name]) + "." + String(path[name...]) + ".partial"
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
        syncFolder(folder(of: path))
    }

    /// The folder holding `path` (`.` for a bare name, `/` for one at the root).
    static func folder(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }

    /// Syncs `folder`, so the renames and unlinks in it survive power loss.
    static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
