import CallrecCore

/// The catalog's half of resealing a recording (`catalog reseal`: more
/// recipients in each sealed file's header, the payload as it was). Like a
/// commit, in steps that a crash can stop at any point:
///
/// 1. the resealed files are written and synced under temporary names;
/// 2. `beginReseal` records each file's next SHA-256, size and recipients
///    beside its current ones (`pending_*`);
/// 3. each temporary file is renamed over its file;
/// 4. `finishReseal` makes the next values the current ones and audits it.
///
/// After a crash, `verify` settles each file by what is on disk: a file with
/// its next checksum gets its next values (the rename happened), one with its
/// current checksum keeps them (it did not); the temporary files go.
///
/// A recording its recorder signed is resealed the other way round, because
/// its manifest names each file's SHA-256: step 2 is `beginSignedReseal`,
/// one transaction that withdraws the manifest in force (as `resealed`),
/// signs the next one — naming the new files and the manifest it
/// supersedes — and records every file's next values, the manifest's own
/// two files included. From then on the reseal is decided: the manifest
/// files are written, everything is renamed into place, and after a crash
/// `verify` finishes it (`rollForwardReseal`) rather than undo it — from the
/// synced temporary files, and the manifest's bytes the catalog holds.
extension CatalogStore {
    /// One file's next state in a reseal.
    public struct ResealedFile: Sendable, Equatable {
        /// The file's position in the recording.
        public var position: Int
        public var sha256: String
        public var bytes: Int64
        public var sealedTo: [String]

        public init(position: Int, sha256: String, bytes: Int64, sealedTo: [String]) {
            self.position = position
            self.sha256 = sha256
            self.bytes = bytes
            self.sealedTo = sealedTo
        }
    }

    /// Step 2: records the files' next values.
    public func beginReseal(id: String, files: [ResealedFile]) throws {
        try write { db in
            for file in files {
                try db.execute(
                    sql: """
                        UPDATE recording_files SET pending_sha256 = ?, pending_bytes = ?, pending_sealed_to = ?
                        WHERE recording_id = ? AND position = ?
                        """,
                    arguments: [file.sha256, file.bytes, CatalogFile.recipientList(file.sealedTo), id, file.position])
            }
        }
    }

    /// Step 2 for a signed recording: in one transaction, withdraws
    /// `current` (the manifest in force) as `resealed`, has `sign` chain and
    /// sign the next manifest (Evidence's `ManifestSigner`), and records the
    /// next values of `files` and of the recording's manifest files (its
    /// bytes and signature). Returns the new manifest.
    /// - Throws: `CatalogError(.invalid)` when `current` is no longer the
    ///   manifest in force (another reseal came first).
    public func beginSignedReseal(
        id: String, files: [ResealedFile], replacing current: ManifestRecord, at now: Double,
        sign: (any SQLConnection) throws -> ManifestRecord
    ) throws -> ManifestRecord {
        try write { db in
            let withdrawn = try db.execute(
                sql: """
                    UPDATE manifests SET body = NULL, withdrawn_epoch = ?, withdrawn_as = 'resealed'
                    WHERE recorder_id = ? AND sequence = ? AND recording_id = ? AND withdrawn_as IS NULL
                    """,
                arguments: [now, current.recorderID, current.sequence, id])
            guard withdrawn == 1 else {
                throw CatalogError(.invalid, "recording \(id): manifest \(current.recorderID)#\(current.sequence) is no longer in force; not resealed")
            }
            let record = try sign(db)
            var next = files
            for file in try Self.files(db, id) {
                if file.path.hasSuffix(".manifest.json") {
                    next.append(ResealedFile(position: file.position, sha256: record.sha256, bytes: Int64(record.body?.count ?? 0), sealedTo: []))
                } else if file.path.hasSuffix(".manifest.sig") {
                    next.append(ResealedFile(
                        position: file.position, sha256: FileDigest.sha256(bytes: record.signature), bytes: Int64(record.signature.count), sealedTo: []))
                }
            }
            for file in next {
                try db.execute(
                    sql: """
                        UPDATE recording_files SET pending_sha256 = ?, pending_bytes = ?, pending_sealed_to = ?
                        WHERE recording_id = ? AND position = ?
                        """,
                    arguments: [
                        file.sha256, file.bytes, file.sealedTo.isEmpty ? nil : CatalogFile.recipientList(file.sealedTo), id, file.position,
                    ])
            }
            return record
        }
    }

    /// Step 4: the renames are done; the next values become the current ones. Audited as `reseal`.
    public func finishReseal(id: String, by actor: CatalogActor, at now: Double, reason: String?, detail: String) throws {
        try write { db in
            try Self.promotePending(db, id: id, position: nil)
            try Self.appendAudit(db, at: now, actor: actor, action: "reseal", target: id, outcome: .done, reason: reason, detail: detail)
        }
    }

    /// Forgets a reseal that failed before any file was renamed.
    public func abandonReseal(id: String) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE recording_files SET pending_sha256 = NULL, pending_bytes = NULL, pending_sealed_to = NULL WHERE recording_id = ?",
                arguments: [id])
        }
    }

    /// Makes the pending values of recording `id`'s files (or of the one at
    /// `position`) current, and the recording's audio checksum follow its first file.
    static func promotePending(_ db: any SQLConnection, id: String, position: Int?) throws {
        var sql = """
            UPDATE recording_files SET sha256 = pending_sha256, bytes = pending_bytes, sealed_to = pending_sealed_to,
                pending_sha256 = NULL, pending_bytes = NULL, pending_sealed_to = NULL
            WHERE recording_id = ? AND pending_sha256 IS NOT NULL
            """
        var arguments: SQLArguments = [id]
        if let position {
            sql += " AND position = ?"
            arguments.append(position)
        }
        try db.execute(sql: sql, arguments: arguments)
        // The recording's audio checksum is its first file's; its audio size the sum of its audio
        // files' (one, or one per party: the files that end as the first one does).
        let files = try CatalogStore.files(db, id)
        guard let first = files.first else { return }
        let ending = String((first.path.split(separator: "/").last ?? "").drop { $0 != "." })
        let audioBytes = files.filter { $0.path.hasSuffix(ending) }.reduce(Int64(0)) { $0 + $1.bytes }
        try db.execute(sql: "UPDATE recordings SET audio_sha256 = ?, audio_bytes = ? WHERE id = ?", arguments: [first.sha256, audioBytes, id])
    }

    /// The next SHA-256 of each file of `id` a reseal left pending, by position.
    func pendingReseal(of id: String) throws -> [Int: String] {
        try read { db in
            var pending: [Int: String] = [:]
            for row in try db.query(
                sql: "SELECT position, pending_sha256 FROM recording_files WHERE recording_id = ? AND pending_sha256 IS NOT NULL", arguments: [id])
            {
                pending[try row["position"]] = try row["pending_sha256"]
            }
            return pending
        }
    }

    /// Whether recording `id` was resealed as a signed recording (a manifest
    /// of it was withdrawn as `resealed`): its pending values are then
    /// decided, and verify finishes the reseal instead of undoing it.
    func wasSignedReseal(_ id: String) throws -> Bool {
        try read { db in
            try db.queryOne(sql: "SELECT 1 FROM manifests WHERE recording_id = ? AND withdrawn_as = 'resealed' LIMIT 1", arguments: [id]) != nil
        }
    }

    /// Finishes, on disk, a signed reseal a crash interrupted (`verify`): the
    /// file at `path` (catalogued as `relative`), which does not have its
    /// next checksum `next`, gets it — from its synced temporary copy, or,
    /// for the manifest's own files, from the bytes of the catalog's manifest
    /// in force. Returns whether the file now has its next checksum; false
    /// when neither source has it (the file stays as it is; verify reports it).
    func rollForwardReseal(id: String, path: String, relative: String, next: String) throws -> Bool {
        let folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let temporary = Self.temporaryPath(of: path)
        if System.exists(temporary), (try? FileDigest.sha256(path: temporary)) == next {
            do throws(SystemError) {
                try System.rename(temporary, to: path)
            } catch {
                throw CatalogError(.io, "\(path): cannot finish an interrupted reseal: \(error)")
            }
            System.syncDirectory(folder)
            return true
        }
        let bytes: [UInt8]?
        if relative.hasSuffix(".manifest.json") {
            bytes = try manifest(of: id)?.body
        } else if relative.hasSuffix(".manifest.sig") {
            bytes = try manifest(of: id)?.signature
        } else {
            bytes = nil
        }
        guard let bytes, FileDigest.sha256(bytes: bytes) == next else { return false }
        do throws(SystemError) {
            let fd = try System.create(temporary)
            defer { System.close(fd) }
            try System.writeAll(fd, bytes)
            try System.sync(fd)
            try System.rename(temporary, to: path)
        } catch {
            _ = System.remove(temporary)
            throw CatalogError(.io, "\(path): cannot finish an interrupted reseal: \(error)")
        }
        System.syncDirectory(folder)
        return true
    }

    /// Settles one file a reseal left pending, by the checksum on disk
    /// (`verify`): its next values when it has its next checksum, else its
    /// current ones. Returns what was done, for the audit log.
    func settleReseal(id: String, position: Int, diskSHA256: String, pendingSHA256: String) throws -> String {
        try write { db in
            if diskSHA256 == pendingSHA256 {
                try Self.promotePending(db, id: id, position: position)
                return "completed an interrupted reseal (file \(position) has its new header)"
            }
            try db.execute(
                sql: """
                    UPDATE recording_files SET pending_sha256 = NULL, pending_bytes = NULL, pending_sealed_to = NULL
                    WHERE recording_id = ? AND position = ?
                    """,
                arguments: [id, position])
            return "rolled back an interrupted reseal (file \(position) kept its header)"
        }
    }
}
