import Foundation

/// What `catalog verify` found, and what it did about it.
public struct VerifyReport: Sendable {
    /// Committed recordings whose files were all present with their checksums.
    public var healthy = 0
    /// Temporary files no commit could finish (a crash before the row was entered), removed.
    public var temporaryFilesRemoved: [String] = []
    /// Pending rows whose files were all complete: renamed into place, committed.
    public var pendingCompleted: [String] = []
    /// Pending rows with a file missing or wrong: files and row removed.
    public var pendingRolledBack: [String] = []
    /// Deletions a crash interrupted, finished.
    public var deletionsFinished: [String] = []
    /// Committed rows all of whose files are gone: rows removed.
    public var rowsWithoutFiles: [String] = []
    /// Recordings with some file missing or not matching its SHA-256: marked damaged, kept.
    public var damaged: [(id: String, why: String)] = []
    /// Complete recordings (audio and index) on disk without a row: catalogued from their index.
    public var orphansCatalogued: [String] = []
    /// Incomplete recording files on disk without a row: removed.
    public var orphanFilesRemoved: [String] = []
    /// Sealed recordings on disk without a row whose index no key given
    /// opens: kept as they are (`catalog verify --identity KEY` catalogues them).
    public var sealedOrphansKept: [String] = []
    /// Reseals a crash interrupted, settled by what is on disk.
    public var resealsSettled: [String] = []
    /// Files catalogued without a checksum (before checksums existed): checksum recorded.
    public var checksumsRecorded = 0
    /// Recordings whose files are in another storage of a shared catalog:
    /// not checked here (verify run with that storage's --out checks them).
    public var elsewhere = 0

    /// Whether a row was deleted (its erased content is then reclaimed).
    var removedRows: Bool { !pendingRolledBack.isEmpty || !deletionsFinished.isEmpty || !rowsWithoutFiles.isEmpty }
    /// Recordings a crash cut short (the temporary files of a call in flight), closed at their
    /// last complete page and committed (`end_reason: crashed`), with what was kept.
    public var salvaged: [(id: String, detail: String)] = []

    /// Whether nothing needed repair.
    public var isClean: Bool {
        temporaryFilesRemoved.isEmpty && pendingCompleted.isEmpty && pendingRolledBack.isEmpty
            && deletionsFinished.isEmpty && salvaged.isEmpty
            && rowsWithoutFiles.isEmpty && damaged.isEmpty && orphansCatalogued.isEmpty
            && orphanFilesRemoved.isEmpty && resealsSettled.isEmpty
    }
}

/// Rebuilds a catalog row from a recording's call index on disk (supplied
/// by the pipeline, which knows the index format; `<id>.json`, or the sealed
/// `<id>.json.age`). Returns nil when the index is not a complete
/// recording's; throws `CatalogError(.sealed)` when the index is sealed and
/// the importer holds no key that opens it (the files are then kept).
public typealias OrphanImporter = (_ indexPath: String, _ catalog: CatalogStore) throws -> (
    CatalogRecording, [CatalogFile]
)?

/// Salvages one recording a crash cut short from the temporary files it
/// left (`temporaryFiles`: relative to the catalog's folder, every
/// `.<id>...partial` of one recording id in one day folder), supplied by the
/// pipeline, which knows the recording formats: closes the audio at its last
/// complete page, rebuilds the index and peaks, and commits it into
/// `catalog`. Returns what was kept and the temporary files it used (the
/// rest are removed), or nil when nothing could be kept.
public typealias PartialSalvager = (_ temporaryFiles: [String], _ catalog: CatalogStore) throws -> SalvagedRecording?

/// What a `PartialSalvager` kept.
public struct SalvagedRecording: Sendable {
    /// The recording committed.
    public var id: String
    /// What was kept, for the report and the audit log (`12.4 s of audio, cut by a crash`).
    public var detail: String
    /// The temporary files it used (now renamed into place), relative to the catalog's folder.
    public var consumed: [String]

    public init(id: String, detail: String, consumed: [String]) {
        self.id = id
        self.detail = detail
        self.consumed = consumed
    }
}

extension CatalogStore {
    /// Salvages what it can of the temporary files in `dayFiles` (one
    /// day's folder, relative paths) and removes the rest: each recording's
    /// temporary files go to `salvager` together, once; what it did not use
    /// is removed. Without a salvager (or in a dry run) every temporary file is removed.
    func settleTemporaryFiles(
        _ dayFiles: [String], salvager: PartialSalvager?, dryRun: Bool, skip: Set<String> = [], report: inout VerifyReport,
        events: inout [RepairEvent]
    ) {
        var byRecording: [String: [String]] = [:]
        var order: [String] = []
        for relative in dayFiles where !skip.contains(relative) {
            guard let final = CatalogStore.finalPath(ofTemporary: relative) else { continue }
            let stem = CatalogStore.recordingStem(final)
            if byRecording[stem] == nil { order.append(stem) }
            byRecording[stem, default: []].append(relative)
        }
        for stem in order {
            let files = byRecording[stem]!
            var consumed: Set<String> = []
            if let salvager, !dryRun {
                do {
                    if let salvaged = try salvager(files, self) {
                        report.salvaged.append((salvaged.id, salvaged.detail))
                        events.append((salvaged.id, "salvaged a recording cut by a crash: " + salvaged.detail))
                        consumed = Set(salvaged.consumed)
                    }
                } catch {
                    // Not salvageable (unreadable, a write failed): what it left is removed as before.
                    events.append((stem, "could not salvage the temporary files of a crashed recording: \(error)"))
                }
            }
            for relative in files where !consumed.contains(relative) {
                removeTemporaryFile(relative, dryRun: dryRun, report: &report, events: &events)
            }
        }
    }

    /// Finds and (unless `dryRun`) repairs what a crash or outside hands
    /// left: temporary files, pending and half-deleted rows, rows without
    /// files, files without rows, and checksum mismatches. Admin only; the
    /// repairs are audited.
    ///
    /// It checks this store's storage: the rows whose files are in its
    /// folder, and the files there. In a PostgreSQL catalog shared by
    /// several recorders, the rows of other storages are counted
    /// (`elsewhere`) and left to a verify run there; the storage's lock keeps
    /// verify from settling a commit that a convert or recorder writing
    /// into the same storage is still making.
    /// Temporary files a crash left are first given to `salvager` (when
    /// given and not `dryRun`): a recording cut short is kept as far as it
    /// was written.
    public func verify(
        dryRun: Bool, importer: OrphanImporter?, salvager: PartialSalvager? = nil, by actor: CatalogActor, at now: Double
    ) throws -> VerifyReport {
        try require(.admin, actor, action: "verify", target: nil, reason: nil, at: now)
        let lock = try database.lock(storage: storage, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        var report = VerifyReport()
        var events: [RepairEvent] = []
        // Rows are read a page at a time, so memory stays flat however large the archive:
        // the unsettled ones first (few), then the committed ones by id.
        let unsettled = try unsettledRows()
        report.elsewhere = try read { db in
            try db.scalar(Int.self, sql: "SELECT count(*) FROM recordings WHERE storage != ? AND state = 'committed'", arguments: [storage])
        } ?? 0
        var pendingClaimed = Set<String>()
        for row in unsettled where row.state == .pending {
            for file in try files(of: row.id) { pendingClaimed.insert(file.path) }
        }
        let fm = FileManager.default
        func exists(_ path: String) -> Bool { fm.fileExists(atPath: path) }

        var page = unsettled
        var lastID = ""
        while true {
            if page.isEmpty {
                page = try read { db in
                    try CatalogRecording.fetchAll(
                        db,
                        sql:
                            "SELECT * FROM recordings WHERE storage = ? AND state = 'committed' AND id > ? ORDER BY id LIMIT 500",
                        arguments: [storage, lastID])
                }
                guard let last = page.last else { break }
                lastID = last.id
            }
            for row in page {
                let files = try files(of: row.id)
                switch row.state {
                case .deleting, .pending:
                    try settle(row, files: files, dryRun: dryRun, report: &report, events: &events)
                case .committed:
                    var missing: [String] = []
                    var mismatched: [String] = []
                    let pending = try pendingReseal(of: row.id)
                    // A signed recording's reseal is decided once it has begun (its new manifest is
                    // signed): what a crash left undone on disk is done now, never undone.
                    let rollForward = try !pending.isEmpty && wasSignedReseal(row.id)
                    for file in files {
                        let path = filePath(file.path)
                        var sum = exists(path) ? try FileDigest.sha256(path: path) : nil
                        if rollForward, let next = pending[file.position], sum != next, !dryRun,
                            try rollForwardReseal(id: row.id, path: path, relative: file.path, next: next)
                        {
                            sum = next
                        }
                        guard let sum else {
                            missing.append(file.path)
                            continue
                        }
                        if let next = pending[file.position], rollForward, sum != next, !dryRun {
                            // Its new bytes are lost: it stays pending, and is reported below.
                            mismatched.append(file.path)
                            continue
                        }
                        if let next = pending[file.position] {
                            // A reseal a crash interrupted: the file is the old one or the new one.
                            if sum == next || sum == file.sha256 {
                                report.resealsSettled.append(file.path)
                                if !dryRun {
                                    let what = try settleReseal(id: row.id, position: file.position, diskSHA256: sum, pendingSHA256: next)
                                    events.append((row.id, what))
                                }
                                continue
                            }
                        }
                        if let known = file.sha256 {
                            if known != sum { mismatched.append(file.path) }
                        } else {
                            report.checksumsRecorded += 1
                            if !dryRun {
                                let size = (try? fm.attributesOfItem(atPath: path)[.size] as? Int64) ?? file.bytes
                                try write { db in
                                    try db.execute(
                                        sql:
                                            "UPDATE recording_files SET sha256 = ?, bytes = ? WHERE recording_id = ? AND position = ?",
                                        arguments: [sum, size, row.id, file.position])
                                    if file.position == 0 {
                                        try db.execute(
                                            sql: "UPDATE recordings SET audio_sha256 = ? WHERE id = ?",
                                            arguments: [sum, row.id])
                                    }
                                }
                            }
                        }
                    }
                    if !files.isEmpty && missing.count == files.count && !row.isHeld {
                        report.rowsWithoutFiles.append(row.id)
                        events.append(
                            (
                                row.id,
                                "removed a row whose files are all gone: " + missing.joined(separator: " ")
                            ))
                        if !dryRun {
                            try write { db in
                                try db.execute(sql: "DELETE FROM recordings WHERE id = ?", arguments: [row.id])
                            }
                        }
                    } else if !missing.isEmpty || !mismatched.isEmpty {
                        let why: [String] =
                            (missing.isEmpty ? [] : ["missing " + missing.joined(separator: " ")])
                            + (mismatched.isEmpty
                                ? [] : ["SHA-256 differs: " + mismatched.joined(separator: " ")])
                        report.damaged.append((row.id, why.joined(separator: "; ")))
                        events.append((row.id, "marked damaged: " + why.joined(separator: "; ")))
                        if !dryRun {
                            try write { db in
                                try db.execute(
                                    sql: "UPDATE recordings SET damaged = 1 WHERE id = ?", arguments: [row.id])
                            }
                        }
                    } else {
                        report.healthy += 1
                        if row.damaged && !dryRun {
                            // Restored from a copy: the files match again.
                            try write { db in
                                try db.execute(
                                    sql: "UPDATE recordings SET damaged = 0 WHERE id = ?", arguments: [row.id])
                            }
                            events.append(
                                (row.id, "files match their checksums again; damaged mark cleared"))
                        }
                    }
                }
            }
            page = []
        }

        // Files on disk that no row claims: leftovers of a crash, or recordings that lost their row.
        // One day's folder at a time; each file is looked up by its (unique, indexed) path.
        try forEachRecordingFolder { dayFiles in
            var orphansByStem: [String: [String]] = [:]
            // In a dry run, pending rows were not settled: their temporary files are theirs.
            let claimed = Set(dayFiles.filter { dryRun && CatalogStore.finalPath(ofTemporary: $0).map(pendingClaimed.contains) == true })
            settleTemporaryFiles(dayFiles, salvager: salvager, dryRun: dryRun, skip: claimed, report: &report, events: &events)
            for relative in dayFiles {
                if CatalogStore.finalPath(ofTemporary: relative) != nil { continue }
                guard try !isClaimed(relative) else { continue }
                orphansByStem[CatalogStore.recordingStem(relative), default: []].append(relative)
            }
            for (stem, files) in orphansByStem.sorted(by: { $0.key < $1.key }) {
                let indexFile = files.contains(stem + ".json.age") ? stem + ".json.age" : stem + ".json"
                var imported: (CatalogRecording, [CatalogFile])? = nil
                if let importer, files.contains(indexFile), try !wasErased(id: String(stem.suffix(25))) {
                    do {
                        imported = try importer(filePath(indexFile), self)
                    } catch let error as CatalogError where error.code == .sealed {
                        // A sealed recording that lost its row: never removed for want of a key.
                        report.sealedOrphansKept.append(String(stem.suffix(25)))
                        events.append((String(stem.suffix(25)), "kept a sealed recording without a row (no key given opens its index)"))
                        continue
                    } catch {
                        imported = nil
                    }
                }
                if let (rebuilt, catalogFiles) = imported,
                    catalogFiles.allSatisfy({ exists(filePath($0.path)) })
                {
                    report.orphansCatalogued.append(rebuilt.id)
                    events.append((rebuilt.id, "catalogued a complete recording that had no row"))
                    // Kept as long as the rules now say (not the default), and its call enters the
                    // ledger too: its defects as far as the row tells, judged against the same rules.
                    let rules = try ruleSet()
                    var recording = rebuilt
                    recording.applyRetention(of: rules)
                    if !dryRun { try save(recording, files: catalogFiles, ledger: LedgerEntry(rebuiltFrom: recording, judgedBy: rules)) }
                    for extra in files where !catalogFiles.contains(where: { $0.path == extra }) {
                        report.orphanFilesRemoved.append(extra)
                        if !dryRun { unlink(filePath(extra)) }
                    }
                } else {
                    for file in files.sorted() {
                        report.orphanFilesRemoved.append(file)
                        events.append(
                            (file, "removed a recording file with no row and no complete recording"))
                        if !dryRun { unlink(filePath(file)) }
                    }
                }
            }

        }

        if !dryRun {
            try appendRepairs(events, by: actor, at: now)
            if report.removedRows { try reclaimErasedRows() }
        }
        return report
    }

    /// Whether a row of this storage claims the file at `relative`.
    private func isClaimed(_ relative: String) throws -> Bool {
        try read { db in
            try db.queryOne(
                sql: "SELECT 1 FROM recording_files f JOIN recordings r ON r.id = f.recording_id WHERE f.path = ? AND r.storage = ?",
                arguments: [relative, storage]) != nil
        }
    }

    /// Calls `body` with the recording files of each `YYYY/MM/DD/` folder
    /// under the catalog's folder, relative to it: names that start with a
    /// recording id (`20261129T081530Z-3f9a1c2e`), final or temporary.
    func forEachRecordingFolder(_ body: ([String]) throws -> Void) throws {
        let fm = FileManager.default
        guard let years = try? fm.contentsOfDirectory(atPath: folder) else { return }
        for year in years.sorted() where year.count == 4 && year.allSatisfy(\.isNumber) {
            for month in ((try? fm.contentsOfDirectory(atPath: folder + "/" + year)) ?? []).sorted()
            where month.count == 2 {
                let monthPath = year + "/" + month
                for day in ((try? fm.contentsOfDirectory(atPath: folder + "/" + monthPath)) ?? []).sorted()
                where day.count == 2 {
                    let dayPath = monthPath + "/" + day
                    let names = ((try? fm.contentsOfDirectory(atPath: folder + "/" + dayPath)) ?? []).sorted()
                    try body(names.filter(CatalogStore.isRecordingFileName).map { dayPath + "/" + $0 })
                }
            }
        }
    }

    /// `2026/11/29/<id>.opus` for the temporary `2026/11/29/.<id>.opus.partial`; nil for a final name.
    static func finalPath(ofTemporary relative: String) -> String? {
        let slash = relative.lastIndex(of: "/")
        let name = slash.map { relative[relative.index(after: $0)...] } ?? relative[...]
        guard name.hasPrefix("."), name.hasSuffix(".partial") else { return nil }
        let folder = slash.map { String(relative[...$0]) } ?? ""
        return folder + name.dropFirst().dropLast(".partial".count)
    }

    /// `2026/11/29/<id>` for any file of the recording `<id>` in that folder.
    static func recordingStem(_ relative: String) -> String {
        let slash = relative.lastIndex(of: "/")
        let name = slash.map { relative[relative.index(after: $0)...] } ?? relative[...]
        let folder = slash.map { String(relative[...$0]) } ?? ""
        return folder + name.prefix(25)
    }

    /// Whether `name` is a recording file name: `<id>.<ext>` or `.<id>.<ext>.partial`.
    static func isRecordingFileName(_ name: String) -> Bool {
        var bytes = Array(name.utf8)
        if bytes.first == UInt8(ascii: "."), name.hasSuffix(".partial") {
            bytes = Array(bytes.dropFirst())
        }
        // YYYYMMDDTHHMMSSZ-hhhhhhhh followed by '.'
        guard bytes.count > 26 else { return false }
        let digits = Array(0..<8) + Array(9..<15)
        for i in digits where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) {
            return false
        }
        guard bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"),
            bytes[16] == UInt8(ascii: "-"), bytes[25] == UInt8(ascii: ".")
        else {
            return false
        }
        return bytes[17..<25].allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }
}
