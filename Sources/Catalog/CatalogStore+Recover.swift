import Foundation

/// One repair, for the audit log (always under the action `verify`): on
/// which recording or file, and what was done.
typealias RepairEvent = (target: String, detail: String)

extension CatalogStore {
    /// What a live recorder does when it starts, before it writes anything:
    /// settles every commit and deletion a crash or power loss interrupted
    /// (completed when all the files are there with their checksums, else
    /// rolled back, exactly as `verify` does) and, when `scanFolders`, removes
    /// the temporary files no commit finished. Unlike `verify` it reads no
    /// committed recording's files, so it takes a moment however large the
    /// archive. The repairs are audited under `actor`.
    ///
    /// Only the rows of this store's storage are settled: in a PostgreSQL
    /// catalog that several recorders share, the others' commits are theirs.
    ///
    /// With `salvager`, the temporary files of a call that was being
    /// recorded are first salvaged (kept as far as they were written, and
    /// committed as cut by the crash); what it does not use is removed.
    ///
    /// Takes the storage's exclusive lock while it works.
    /// - Throws: `CatalogError.busy` when a convert or recorder is writing to the storage.
    public func recover(
        scanFolders: Bool, salvager: PartialSalvager? = nil, by actor: CatalogActor, at now: Double
    ) throws -> VerifyReport {
        let lock = try database.lock(storage: storage, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        var report = VerifyReport()
        var events: [RepairEvent] = []
        let unsettled = try unsettledRows()
        for row in unsettled {
            try settle(row, files: try files(of: row.id), dryRun: false, report: &report, events: &events)
        }
        if scanFolders {
            try forEachRecordingFolder { dayFiles in
                settleTemporaryFiles(dayFiles, salvager: salvager, dryRun: false, report: &report, events: &events)
            }
        }
        try appendRepairs(events, by: actor, at: now)
        if report.removedRows { try reclaimErasedRows() }
        return report
    }

    /// The rows of this storage that a crash left `pending` or `deleting`.
    func unsettledRows() throws -> [CatalogRecording] {
        try read { db in
            try CatalogRecording.fetchAll(
                db, sql: "SELECT * FROM recordings WHERE state != 'committed' AND storage = ? ORDER BY id", arguments: [storage])
        }
    }

    /// Finishes the deletions of this storage's recordings that were left
    /// `deleting` — by a crash, or by an erasure run where the files are not
    /// (a shared PostgreSQL catalog) — without taking the lock: a deletion,
    /// once marked, only ever goes forward. A recorder calls it while it
    /// runs. Returns the ids whose deletion was finished.
    @discardableResult
    public func finishDeletions() throws -> [String] {
        // A purge run where the files are not leaves all its rows to this recorder: finished a
        // batch at a time (`finishDeletions(_:)`), not a transaction each.
        let deleting = try unsettledRows().filter { $0.state == .deleting }.map(\.id)
        var done: [String] = []
        var start = 0
        while start < deleting.count {
            let batch = Array(deleting[start..<min(start + Self.purgeBatch, deleting.count)])
            let files = try files(ofRecordings: batch)
            let failures = try finishDeletions(batch.map { ($0, (files[$0] ?? []).map(\.path)) })
            done += batch.filter { failures[$0] == nil }
            start += batch.count
        }
        if !done.isEmpty { try reclaimErasedRows() }
        return done
    }

    /// Settles one row a crash left `pending` or `deleting`: an interrupted
    /// deletion is finished; an interrupted commit is completed (files renamed
    /// into place, row committed) when each file is present under its
    /// temporary or final name with its catalogued checksum, else rolled back
    /// (files and row removed).
    func settle(
        _ row: CatalogRecording, files: [CatalogFile], dryRun: Bool, report: inout VerifyReport, events: inout [RepairEvent]
    ) throws {
        let fm = FileManager.default
        func exists(_ path: String) -> Bool { fm.fileExists(atPath: path) }
        switch row.state {
        case .committed:
            return
        case .deleting:
            report.deletionsFinished.append(row.id)
            events.append((row.id, "finished an interrupted deletion"))
            if !dryRun { _ = try finishDeletion(id: row.id) }
        case .pending:
            // Complete when each file is present under its temporary or final name with its
            // checksum. A temporary file is the newer (it is gone once renamed): a capture
            // converted again leaves the old final file beside the new temporary one.
            // The manifest files can be written again from the catalog's copy (a crash
            // before they were synced): the row and its manifest were entered together.
            let restored = try restoreManifestFiles(of: row.id, files: files, write: !dryRun)
            if !restored.isEmpty { events.append((row.id, "wrote back its manifest from the catalog: " + restored.joined(separator: " "))) }
            var complete = !files.isEmpty
            for file in files where complete && !restored.contains(file.path) {
                let final = filePath(file.path)
                let temp = CatalogStore.temporaryPath(of: final)
                let present = exists(temp) ? temp : (exists(final) ? final : nil)
                guard let present else {
                    complete = false
                    break
                }
                if let sum = file.sha256, try FileDigest.sha256(path: present) != sum {
                    complete = false
                }
            }
            if complete {
                report.pendingCompleted.append(row.id)
                events.append((row.id, "completed an interrupted commit"))
                if !dryRun {
                    for file in files {
                        let final = filePath(file.path)
                        let temp = CatalogStore.temporaryPath(of: final)
                        if exists(temp) {
                            guard rename(temp, final) == 0 else {
                                throw CatalogError(.io, "\(temp): cannot rename into place: \(String(cString: strerror(errno)))")
                            }
                            CatalogStore.syncFolder(of: final)
                        }
                    }
                    try markCommitted(id: row.id)
                }
            } else {
                report.pendingRolledBack.append(row.id)
                events.append((row.id, "rolled back an interrupted commit (a file was missing or incomplete)"))
                if !dryRun {
                    try write { db in
                        try db.execute(sql: "UPDATE recordings SET state = 'deleting' WHERE id = ?", arguments: [row.id])
                        try Self.withdrawManifests(db, recordingID: row.id, as: "rolled back", at: Double(time(nil)))
                    }
                    _ = try finishDeletion(id: row.id)
                }
            }
        }
    }

    /// Removes a temporary file (`YYYY/MM/DD/.<name>.partial`) that no commit will finish.
    func removeTemporaryFile(_ relative: String, dryRun: Bool, report: inout VerifyReport, events: inout [RepairEvent]) {
        report.temporaryFilesRemoved.append(relative)
        events.append((relative, "removed a temporary file no commit finished"))
        if !dryRun { unlink(filePath(relative)) }
    }

    /// Writes `events` to the audit log, as `verify`, in one transaction.
    func appendRepairs(_ events: [RepairEvent], by actor: CatalogActor, at now: Double) throws {
        guard !events.isEmpty else { return }
        try write { db in
            for event in events {
                try Self.appendAudit(
                    db, at: now, actor: actor, action: "verify", target: event.target, outcome: .done, detail: event.detail)
            }
        }
    }

    /// Whether `error` means the disk holding the catalog is full (SQLite's
    /// `SQLITE_FULL`, PostgreSQL's `disk_full`): the transaction was rolled
    /// back and may be tried again once there is space.
    public static func isDiskFull(_ error: any Error) -> Bool {
        (error as? CatalogError)?.code == .diskFull
    }
}
