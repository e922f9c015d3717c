#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// Step 1: enters `recording` as pending with its files. A recording is
    /// never replaced: when its id is in the catalog already, or the same
    /// call (its Call-ID, overlapping in time by more than
    /// `sameCallOverlap` seconds) is recorded under another id, it throws
    /// `.exists` (`.held` when a legal hold is on the one there); one that
    /// was erased is not written again (`.erased`).
    public func insertPending(_ recording: CatalogRecording, files: [CatalogFile]) throws {
        _ = try insertPending(recording, files: files) { _ in ((), []) }
    }

    /// Step 1 with a participant: `alongside` runs in the same transaction
    /// after the row and `files` are in (the signed manifest: it takes its
    /// place in the recorder's chain here, so the row and its manifest exist
    /// together or not at all) and returns more files of the recording to
    /// enter, and a value passed back. On PostgreSQL the transaction may run
    /// more than once: `alongside` must change nothing outside the database.
    public func insertPending<T>(
        _ recording: CatalogRecording, files: [CatalogFile], alongside: (any SQLConnection) throws -> (T, [CatalogFile])
    ) throws -> T {
        var row = recording
        row.state = .pending
        row.storage = storage
        return try write { db in
            if let erased = try db.queryOne(sql: "SELECT action, at_epoch FROM erased WHERE id = ?", arguments: [recording.id]) {
                let when: Double = try erased["at_epoch"]
                let action: String = try erased["action"]
                throw CatalogError(
                    .erased, "recording \(recording.id) was erased (\(action), \(CatalogStore.isoDay(when))); it is not written again")
            }
            if let existing = try CatalogRecording.fetchOne(db, id: recording.id) {
                if existing.isHeld {
                    throw CatalogError(.held, "recording \(recording.id) is under legal hold (\(existing.holdReason ?? "")); it was not replaced")
                }
                if existing.state == .pending {
                    throw CatalogError(
                        .exists,
                        "recording \(recording.id) is pending from an interrupted commit; it was not replaced (`callrec catalog verify` settles it)")
                }
                throw CatalogError(
                    .exists,
                    "recording \(recording.id) exists already (\(CatalogStore.seconds(existing.durationS)), started \(existing.start)); "
                        + "this call was seen again and not written over it (\(CatalogStore.seconds(recording.durationS)) this time)")
            }
            // Overlapping by more than d: each end is more than d after each start.
            let (start, end, d) = (recording.startEpoch, recording.startEpoch + recording.durationS, CatalogStore.sameCallOverlap)
            if recording.durationS > d,
                let same = try db.queryOne(
                    sql: """
                        SELECT id FROM recordings WHERE call_id = ? AND duration_s > ? \
                        AND start_epoch < ? AND start_epoch + duration_s > ? ORDER BY id LIMIT 1
                        """,
                    arguments: [recording.callID.sqlValue, d.sqlValue, (end - d).sqlValue, (start + d).sqlValue])
            {
                let id: String = try same["id"]
                throw CatalogError(.exists, "this call is recorded already as \(id) (the same Call-ID at the same time); \(recording.id) was not written")
            }
            try row.save(db)
            try db.execute(sql: "DELETE FROM recording_files WHERE recording_id = ?", arguments: [recording.id])
            for file in files { try file.insert(db) }
            let (value, more) = try alongside(db)
            for file in more { try file.insert(db) }
            return value
        }
    }

    /// Two recordings of one Call-ID that overlap by more than this many
    /// seconds are the same call seen twice; less is a call's next part.
    public static let sameCallOverlap = 1.0

    /// The Call-ID of the recording `id`, or nil when there is none (any state).
    public func callID(ofRecording id: String) throws -> String? {
        try read { db in
            try db.queryOne(sql: "SELECT call_id FROM recordings WHERE id = ?", arguments: [id]).map { try $0["call_id"] }
        }
    }

    static func seconds(_ value: Double) -> String {
        "\((value * 10).rounded() / 10) s"
    }

    /// Step 3: the files are in place; the recording becomes visible.
    public func markCommitted(id: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE recordings SET state = 'committed' WHERE id = ? AND state = 'pending'", arguments: [id])
        }
    }

    /// Undoes step 1 after a failure before step 3 (the files were removed by
    /// the caller). A manifest signed for it is withdrawn as `failed`, with
    /// an audit entry saying why (`why`): the chain keeps its place.
    public func removePending(id: String, why: String? = nil) throws {
        try write { db in
            guard try db.execute(sql: "DELETE FROM recordings WHERE id = ? AND state = 'pending'", arguments: [id]) > 0 else { return }
            let now = Double(time(nil))
            if try Self.withdrawManifests(db, recordingID: id, as: "failed", at: now) > 0 {
                try AuditChain.append(
                    db, at: now, actor: "callrec", action: "commit", target: id, outcome: "failed", reason: nil,
                    detail: "the commit failed" + (why.map { ": \($0)" } ?? "") + "; its manifest is withdrawn")
            }
        }
    }
}
