/// The catalog's half of committing a recording. Convert writes the files
/// under temporary names and syncs them, then:
///
/// 1. `insertPending` enters the row as `pending` with each file's size and
///    SHA-256 (one transaction);
/// 2. renames the files into place, the call index last;
/// 3. `markCommitted` flips the row to `committed`.
///
/// After a crash anywhere, `verify` settles what was left: temporary files
/// without a row are removed (neither exists); a `pending` row whose files
/// are all present, under either name, with their catalogued checksums is
/// rolled forward (both exist), otherwise rolled back (neither). Queries
/// see only `committed` rows.
extension CatalogStore {
    /// Step 1: enters `recording` as pending with its files. A recording of
    /// the same id (the same capture converted again) is replaced, unless
    /// it is under legal hold; one that was erased is not written again.
    public func insertPending(_ recording: CatalogRecording, files: [CatalogFile]) throws {
        var row = recording
        row.state = .pending
        row.storage = storage
        try write { db in
            if let erased = try db.queryOne(sql: "SELECT action, at_epoch FROM erased WHERE id = ?", arguments: [recording.id]) {
                let when: Double = try erased["at_epoch"]
                let action: String = try erased["action"]
                throw CatalogError(
                    .erased, "recording \(recording.id) was erased (\(action), \(CatalogStore.isoDay(when))); it is not written again")
            }
            if let existing = try CatalogRecording.fetchOne(db, id: recording.id), existing.isHeld {
                throw CatalogError(.held, "recording \(recording.id) is under legal hold (\(existing.holdReason ?? "")); it was not replaced")
            }
            try row.save(db)
            try db.execute(sql: "DELETE FROM recording_files WHERE recording_id = ?", arguments: [recording.id])
            for file in files { try file.insert(db) }
        }
    }

    /// Step 3: the files are in place; the recording becomes visible.
    public func markCommitted(id: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE recordings SET state = 'committed' WHERE id = ? AND state = 'pending'", arguments: [id])
        }
    }

    /// Undoes step 1 after a failure before step 3 (the files were removed by the caller).
    public func removePending(id: String) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM recordings WHERE id = ? AND state = 'pending'", arguments: [id])
        }
    }
}
