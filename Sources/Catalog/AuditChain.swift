import Crypto

/// The audit log as a hash chain (docs/FORMATS.md, "`audit`"). Every entry
/// carries the SHA-256 of its own record and the SHA-256 of the entry before
/// it, so an entry edited, inserted, removed or moved in the middle breaks a
/// link that `catalog verify` reports, whatever happened to the triggers.
///
/// An entry's record (`rowBytes`) holds what is not personal — its place
/// (`seq`), time, actor, action, outcome, the recording it is about — and a
/// commitment to what may be: `personal_sha256`, the SHA-256 of the target,
/// reason and detail together with 16 random bytes (`salt`). Erasing a
/// recording's data (`forget`) removes those three and the salt from the
/// entries about it and keeps the commitment: the chain stays whole, and
/// without the salt the commitment cannot be tested against guessed numbers.
///
/// Appends are serialised by the chain's head (`audit_head`, one row), read
/// and moved forward in the transaction of the change the entry describes:
/// on PostgreSQL two transactions that append at once conflict on it and one
/// is run again (SERIALIZABLE), so the chain never forks.
public enum AuditChain {
    /// The `previous_sha256` of the first entry: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// What an entry's record says about itself.
    public struct Record: Sendable, Equatable {
        public var seq: Int64
        public var previousSHA256: String
        public var atEpoch: Double
        public var actor: String
        public var action: String
        public var outcome: String
        public var recordingID: String?
        public var personalSHA256: String

        /// A record of these values.
        public init(
            seq: Int64, previousSHA256: String, atEpoch: Double, actor: String, action: String, outcome: String, recordingID: String?,
            personalSHA256: String
        ) {
            self.seq = seq
            self.previousSHA256 = previousSHA256
            self.atEpoch = atEpoch
            self.actor = actor
            self.action = action
            self.outcome = outcome
            self.recordingID = recordingID
            self.personalSHA256 = personalSHA256
        }

        /// The exact bytes that are hashed: one line of canonical JSON,
        /// `{"action":...,"actor":...,"at_us":...,"outcome":...,"personal_sha256":...,"previous_sha256":...,"recording":...,"seq":...,"v":1}`.
        public var bytes: [UInt8] {
            var json = CanonicalJSON()
            json.field("action", action)
            json.field("actor", actor)
            json.field("at_us", AuditChain.microseconds(atEpoch))
            json.field("outcome", outcome)
            json.field("personal_sha256", personalSHA256)
            json.field("previous_sha256", previousSHA256)
            json.field("recording", recordingID)
            json.field("seq", seq)
            json.field("v", 1)
            return json.bytes
        }

        /// The SHA-256 of `bytes`: the entry's `row_sha256`.
        public var sha256: String { FileDigest.sha256(bytes: bytes) }
    }

    /// The bytes the personal commitment is the SHA-256 of:
    /// `{"detail":...,"reason":...,"salt":"<32 hex>","target":...,"v":1}`.
    public static func personalBytes(salt: String, target: String?, reason: String?, detail: String?) -> [UInt8] {
        var json = CanonicalJSON()
        json.field("detail", detail)
        json.field("reason", reason)
        json.field("salt", salt)
        json.field("target", target)
        json.field("v", 1)
        return json.bytes
    }

    /// The entry time as the record holds it: whole microseconds.
    public static func microseconds(_ epoch: Double) -> Int64 {
        guard epoch.isFinite, abs(epoch) < 9e12 else { return 0 }
        return Int64((epoch * 1_000_000).rounded())
    }

    /// 16 bytes from the system's CSPRNG, as 32 hex digits.
    static func newSalt() -> String {
        // Two 64-bit draws, not sixteen 8-bit ones: each draw is a getrandom(2) call, and a
        // purge appends an entry (a salt) for each of a million recordings.
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()]
        return FileDigest.hex(words.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } })
    }

    /// Whether `text` is a recording id (`20261129T081530Z-3f9a1c2e`), so an
    /// entry whose target it is names the recording in its record too.
    public static func isRecordingID(_ text: String) -> Bool {
        text.utf8.count == 25 && CatalogStore.isRecordingFileName(text + ".x")
    }

    /// Appends an entry in the caller's transaction: takes the head, writes
    /// the entry with its record's hash, moves the head. Returns the entry's seq.
    @discardableResult
    static func append(
        _ db: any SQLConnection, at now: Double, actor: String, action: String, target: String?, outcome: String, reason: String?,
        detail: String?
    ) throws -> Int64 {
        guard let head = try db.queryOne(sql: "SELECT seq, row_sha256 FROM audit_head WHERE id = 1") else {
            throw CatalogError(.database, "the audit log has no chain head (audit_head): the catalog was changed outside callrec")
        }
        let previousSeq: Int64 = try head["seq"]
        let previous: String = try head["row_sha256"]
        let seq = previousSeq + 1
        let (row, hash) = link(
            Entry(at: now, actor: actor, action: action, target: target, outcome: outcome, reason: reason, detail: detail), seq: seq,
            previous: previous)
        // The head moves first: of two PostgreSQL writers that read the same head, the
        // second then conflicts on the head row (a serialization failure, run again)
        // rather than on the new entry's seq (a unique violation, which is not).
        let moved = try db.execute(
            sql: "UPDATE audit_head SET seq = ?, row_sha256 = ? WHERE id = 1 AND seq = ? AND row_sha256 = ?",
            arguments: [seq, hash, previousSeq, previous])
        guard moved == 1 else {
            throw CatalogError(.database, "the audit log's chain head moved under this transaction (another writer appended)")
        }
        try db.execute(sql: insertEntrySQL, arguments: SQLArguments(row))
        return seq
    }

    /// One entry to append: what `append(_:at:actor:...)` takes.
    struct Entry {
        var at: Double
        var actor: String
        var action: String
        var target: String?
        var outcome: String
        var reason: String?
        var detail: String?
    }

    /// The columns `append(_:entries:)` loads.
    static let entryColumns = [
        "at_epoch", "actor", "action", "target", "outcome", "reason", "detail", "seq", "recording_id", "salt", "personal_sha256",
        "previous_sha256", "row_sha256", "redacted",
    ]

    /// The INSERT of one entry's row, `entryColumns` in order.
    static let insertEntrySQL =
        "INSERT INTO audit (\(entryColumns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: entryColumns.count).joined(separator: ", ")))"

    /// Links `entry` into the chain at `seq`, after the entry whose row hash
    /// is `previous`: a new salt, the commitment to its personal fields, its
    /// record and that record's hash. Returns the row's values
    /// (`entryColumns` in order) and the hash the next entry links to. What
    /// both `append`s make of an entry, one at a time or in bulk.
    static func link(_ entry: Entry, seq: Int64, previous: String) -> (row: [SQLValue], hash: String) {
        let salt = newSalt()
        let personal = FileDigest.sha256(bytes: personalBytes(salt: salt, target: entry.target, reason: entry.reason, detail: entry.detail))
        let recording = entry.target.flatMap { isRecordingID($0) ? $0 : nil }
        let record = Record(
            seq: seq, previousSHA256: previous, atEpoch: entry.at, actor: entry.actor, action: entry.action, outcome: entry.outcome,
            recordingID: recording, personalSHA256: personal)
        let hash = record.sha256
        let row: [SQLValue] = [
            .real(entry.at), .text(entry.actor), .text(entry.action), entry.target.sqlValue, .text(entry.outcome), entry.reason.sqlValue,
            entry.detail.sqlValue, .integer(seq), recording.sqlValue, .text(salt), .text(personal), .text(previous), .text(hash), .integer(0),
        ]
        return (row, hash)
    }

    /// Appends `entries` in order in the caller's transaction, as many
    /// `append` calls would: each chained to the one before. The head is read
    /// once and moved once, to the last entry (first, as in `append`, so a
    /// second writer conflicts on it), and the rows go in as one bulk insert
    /// (COPY on PostgreSQL) rather than a statement each. Returns the last seq.
    @discardableResult
    static func append(_ db: any SQLConnection, entries: [Entry]) throws -> Int64? {
        guard !entries.isEmpty else { return nil }
        guard let head = try db.queryOne(sql: "SELECT seq, row_sha256 FROM audit_head WHERE id = 1") else {
            throw CatalogError(.database, "the audit log has no chain head (audit_head): the catalog was changed outside callrec")
        }
        let headSeq: Int64 = try head["seq"]
        let headSHA256: String = try head["row_sha256"]
        var seq = headSeq
        var previous = headSHA256
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(entries.count)
        for entry in entries {
            seq += 1
            let (row, hash) = link(entry, seq: seq, previous: previous)
            rows.append(row)
            previous = hash
        }
        let moved = try db.execute(
            sql: "UPDATE audit_head SET seq = ?, row_sha256 = ? WHERE id = 1 AND seq = ? AND row_sha256 = ?",
            arguments: [seq, previous, headSeq, headSHA256])
        guard moved == 1 else {
            throw CatalogError(.database, "the audit log's chain head moved under this transaction (another writer appended)")
        }
        try db.insert(into: "audit", columns: entryColumns, rows: rows)
        return seq
    }

    /// `redact` for the entries about many recordings in one statement:
    /// `list` is the `(?, ...)` of their ids, bound by `arguments`. Returns
    /// the recording id of each entry redacted.
    static func redact(_ db: any SQLConnection, recordingIDs list: String, arguments: SQLArguments) throws -> [String] {
        try db.query(
            sql: """
                UPDATE audit SET target = NULL, reason = NULL, detail = NULL, salt = NULL, redacted = 1
                WHERE recording_id IN \(list) AND redacted = 0 RETURNING recording_id
                """,
            arguments: arguments
        ).map { try $0["recording_id"] }
    }

    /// Removes the personal fields (target, reason, detail) and the salt of
    /// the entries about `recordingID` (or whose target is `target`),
    /// keeping their commitments. Returns how many entries were redacted.
    @discardableResult
    static func redact(_ db: any SQLConnection, recordingID: String? = nil, target: String? = nil) throws -> Int {
        var changed = 0
        if let recordingID {
            changed += try db.execute(
                sql: "UPDATE audit SET target = NULL, reason = NULL, detail = NULL, salt = NULL, redacted = 1 WHERE recording_id = ? AND redacted = 0",
                arguments: [recordingID])
        }
        if let target {
            changed += try db.execute(
                sql: "UPDATE audit SET target = NULL, reason = NULL, detail = NULL, salt = NULL, redacted = 1 WHERE target = ? AND redacted = 0",
                arguments: [target])
        }
        return changed
    }
}
