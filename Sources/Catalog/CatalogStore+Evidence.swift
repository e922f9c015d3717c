/// A recorder as the catalog knows it: its Ed25519 public key and the head
/// of the chain of manifests it signed (table `recorders`).
public struct RecorderRecord: Sendable, Equatable {
    /// The first 16 hex digits of the key's fingerprint.
    public var id: String
    /// The public key, SubjectPublicKeyInfo PEM.
    public var publicKeyPEM: String
    /// `SHA256:` and the hex SHA-256 of the key's DER encoding.
    public var fingerprint: String
    /// Where it writes (`host:/srv/recordings`), for people.
    public var label: String
    /// When it was registered (wall clock).
    public var registeredEpoch: Double
    /// The sequence number of the last manifest it signed (0: none yet).
    public var headSequence: Int64
    /// That manifest's SHA-256 (nil: none yet).
    public var headSHA256: String?

    /// A recorder with no manifests yet.
    public init(id: String, publicKeyPEM: String, fingerprint: String, label: String, registeredEpoch: Double) {
        self.id = id
        self.publicKeyPEM = publicKeyPEM
        self.fingerprint = fingerprint
        self.label = label
        self.registeredEpoch = registeredEpoch
        headSequence = 0
        headSHA256 = nil
    }

    init(row: SQLRow) throws {
        id = try row["id"]
        publicKeyPEM = try row["public_key"]
        fingerprint = try row["fingerprint"]
        label = try row["label"]
        registeredEpoch = try row["registered_epoch"]
        headSequence = try row["head_sequence"]
        headSHA256 = try row["head_sha256"]
    }
}

/// One signed manifest in a recorder's chain (table `manifests`).
public struct ManifestRecord: Sendable, Equatable {
    public var recorderID: String
    /// Its place in the recorder's chain: 1, 2, ...
    public var sequence: Int64
    /// The recording it vouches for.
    public var recordingID: String
    /// SHA-256 of `body`, the manifest file's exact bytes.
    public var sha256: String
    /// The SHA-256 of the recorder's manifest before it (nil for its first).
    public var previousSHA256: String?
    /// The raw 64-byte Ed25519 signature over `body` (the `.manifest.sig` file).
    public var signature: [UInt8]
    /// The manifest file's bytes; nil once the recording is erased or its commit undone.
    public var body: [UInt8]?
    /// When and why the recording it vouches for went: `delete`, `forget`,
    /// `purge` (erased), `rolled back` (a crash
    /// before the commit completed), `failed` (the commit failed). Nil while it exists.
    public var withdrawnEpoch: Double?
    public var withdrawnAs: String?

    init(row: SQLRow) throws {
        recorderID = try row["recorder_id"]
        sequence = try row["sequence"]
        recordingID = try row["recording_id"]
        sha256 = try row["sha256"]
        previousSHA256 = try row["previous_sha256"]
        signature = try row["signature"]
        body = try row["body"]
        withdrawnEpoch = try row["withdrawn_epoch"]
        withdrawnAs = try row["withdrawn_as"]
    }

    /// A manifest just signed.
    public init(recorderID: String, sequence: Int64, recordingID: String, body: [UInt8], previousSHA256: String?, signature: [UInt8]) {
        self.recorderID = recorderID
        self.sequence = sequence
        self.recordingID = recordingID
        self.sha256 = FileDigest.sha256(bytes: body)
        self.previousSHA256 = previousSHA256
        self.signature = signature
        self.body = body
    }
}

/// A recorder's signature over the heads of the audit chain and of its own
/// manifest chain at one moment (table `checkpoints`).
public struct CheckpointRecord: Sendable, Equatable {
    public var id: Int64
    public var recorderID: String
    public var atEpoch: Double
    public var auditSeq: Int64
    public var auditSHA256: String
    public var manifestSequence: Int64
    public var manifestSHA256: String?
    /// The exact bytes signed.
    public var body: [UInt8]
    /// The raw 64-byte Ed25519 signature over `body`.
    public var signature: [UInt8]

    init(row: SQLRow) throws {
        id = try row["id"]
        recorderID = try row["recorder_id"]
        atEpoch = try row["at_epoch"]
        auditSeq = try row["audit_seq"]
        auditSHA256 = try row["audit_sha256"]
        manifestSequence = try row["manifest_sequence"]
        manifestSHA256 = try row["manifest_sha256"]
        body = try row["body"]
        signature = try row["signature"]
    }
}

/// The heads a checkpoint signs.
public struct ChainHeads: Sendable, Equatable {
    public var auditSeq: Int64
    public var auditSHA256: String
    public var manifestSequence: Int64
    public var manifestSHA256: String?
}

/// One audit entry with everything its place in the chain needs.
public struct AuditChainRow: Sendable {
    /// The row's id (insertion order; not the chain order).
    public var id: Int64
    /// The record as the row's columns give it (its `seq`, time, ...).
    public var record: AuditChain.Record
    /// The personal fields, nil when redacted (or empty).
    public var target: String?
    public var reason: String?
    public var detail: String?
    /// The commitment's salt; nil once redacted.
    public var salt: String?
    /// The hash the row claims for its record.
    public var rowSHA256: String?
    public var redacted: Bool

    init(row: SQLRow) throws {
        id = try row["id"]
        let seq: Int64? = try row["seq"]
        record = AuditChain.Record(
            seq: seq ?? 0, previousSHA256: (try row["previous_sha256"] as String?) ?? "", atEpoch: try row["at_epoch"],
            actor: try row["actor"], action: try row["action"], outcome: try row["outcome"], recordingID: try row["recording_id"],
            personalSHA256: (try row["personal_sha256"] as String?) ?? "")
        target = try row["target"]
        reason = try row["reason"]
        detail = try row["detail"]
        salt = try row["salt"]
        rowSHA256 = try row["row_sha256"]
        redacted = try row["redacted"]
    }

    /// The bytes the personal commitment is over (nil once redacted).
    public var personalBytes: [UInt8]? {
        salt.map { AuditChain.personalBytes(salt: $0, target: target, reason: reason, detail: detail) }
    }
}

extension CatalogStore {
    // MARK: Recorders

    /// Registers `recorder` (audited), or checks that the one of that id has
    /// the same key. Returns whether it was new.
    /// - Throws: `CatalogError(.invalid)` when the id is taken by another key.
    @discardableResult
    public func registerRecorder(_ recorder: RecorderRecord, by actor: CatalogActor, at now: Double) throws -> Bool {
        try write { db in
            if let known = try db.queryOne(sql: "SELECT * FROM recorders WHERE id = ?", arguments: [recorder.id]).map(RecorderRecord.init(row:)) {
                guard known.publicKeyPEM == recorder.publicKeyPEM else {
                    throw CatalogError(.invalid, "recorder \(recorder.id) is registered with another key (\(known.fingerprint))")
                }
                return false
            }
            try db.execute(
                sql: "INSERT INTO recorders (id, public_key, fingerprint, label, registered_epoch, head_sequence) VALUES (?, ?, ?, ?, ?, 0)",
                arguments: [recorder.id, recorder.publicKeyPEM, recorder.fingerprint, recorder.label, now])
            try Self.appendAudit(
                db, at: now, actor: actor, action: "recorder", target: "recorder \(recorder.id)", outcome: .done,
                detail: "registered: key \(recorder.fingerprint), writing to \(recorder.label)")
            return true
        }
    }

    /// The recorder `id`, or nil.
    public func recorder(id: String) throws -> RecorderRecord? {
        try read { db in try db.queryOne(sql: "SELECT * FROM recorders WHERE id = ?", arguments: [id]).map(RecorderRecord.init(row:)) }
    }

    /// Every recorder, by id.
    public func recorders() throws -> [RecorderRecord] {
        try read { db in try db.query(sql: "SELECT * FROM recorders ORDER BY id").map(RecorderRecord.init(row:)) }
    }

    // MARK: Manifests

    /// Appends the next manifest of `recorderID`'s chain inside the caller's
    /// transaction: reads the chain's head, has `sign` make the manifest's
    /// bytes and signature for that place (`sequence`, the previous
    /// manifest's SHA-256), stores it and moves the head. The head is read
    /// and moved in the one transaction, so two writers with the same key
    /// never fork the chain (SQLite: one writer at a time; PostgreSQL: the
    /// second conflicts on the head and is run again).
    public static func appendManifest(
        _ db: any SQLConnection, recorderID: String, recordingID: String,
        sign: (_ sequence: Int64, _ previousSHA256: String?) throws -> (body: [UInt8], signature: [UInt8])
    ) throws -> ManifestRecord {
        guard let head = try db.queryOne(sql: "SELECT head_sequence, head_sha256 FROM recorders WHERE id = ?", arguments: [recorderID]) else {
            throw CatalogError(.notFound, "recorder \(recorderID) is not registered in the catalog")
        }
        let sequence: Int64 = try head["head_sequence"]
        let previous: String? = try head["head_sha256"]
        let (body, signature) = try sign(sequence + 1, previous)
        let record = ManifestRecord(
            recorderID: recorderID, sequence: sequence + 1, recordingID: recordingID, body: body, previousSHA256: previous,
            signature: signature)
        // The head moves first (as in AuditChain.append): a second writer conflicts on it, and is run again.
        let moved = try db.execute(
            sql: "UPDATE recorders SET head_sequence = ?, head_sha256 = ? WHERE id = ? AND head_sequence = ?",
            arguments: [record.sequence, record.sha256, recorderID, sequence])
        guard moved == 1 else { throw CatalogError(.database, "recorder \(recorderID)'s manifest chain moved under this transaction") }
        try db.execute(
            sql: """
                INSERT INTO manifests (recorder_id, sequence, recording_id, sha256, previous_sha256, signature, body)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [recorderID, record.sequence, recordingID, record.sha256, previous, signature, body])
        return record
    }

    /// Withdraws the manifests of `recordingID` still in force (the recording
    /// went: `as` says how), dropping their bytes, which hold the parties.
    /// Their hashes, signatures and places in the chain stay.
    @discardableResult
    static func withdrawManifests(_ db: any SQLConnection, recordingID: String, as how: String, at now: Double) throws -> Int {
        try db.execute(
            sql: "UPDATE manifests SET body = NULL, withdrawn_epoch = ?, withdrawn_as = ? WHERE recording_id = ? AND withdrawn_as IS NULL",
            arguments: [now, how, recordingID])
    }

    /// `withdrawManifests` for many recordings in one statement: `list` is
    /// the `(?, ...)` of their ids, bound by `arguments`. Returns the id of
    /// each manifest withdrawn (a recording's once for each of its manifests).
    static func withdrawManifests(
        _ db: any SQLConnection, recordingIDs list: String, arguments: SQLArguments, as how: String, at now: Double
    ) throws -> [String] {
        try db.query(
            sql: """
                UPDATE manifests SET body = NULL, withdrawn_epoch = ?, withdrawn_as = ? WHERE recording_id IN \(list) AND withdrawn_as IS NULL
                RETURNING recording_id
                """,
            arguments: [now, how] + arguments
        ).map { try $0["recording_id"] }
    }

    /// The manifest in force for `recordingID` (the newest not withdrawn), or nil.
    public func manifest(of recordingID: String) throws -> ManifestRecord? {
        try read { db in try Self.manifest(db, of: recordingID) }
    }

    static func manifest(_ db: any SQLConnection, of recordingID: String) throws -> ManifestRecord? {
        try db.queryOne(
            sql: "SELECT * FROM manifests WHERE recording_id = ? AND withdrawn_as IS NULL ORDER BY sequence DESC LIMIT 1",
            arguments: [recordingID]
        ).map(ManifestRecord.init(row:))
    }

    /// Every manifest ever signed for `recordingID`, oldest first.
    public func manifests(of recordingID: String) throws -> [ManifestRecord] {
        try read { db in
            try db.query(sql: "SELECT * FROM manifests WHERE recording_id = ? ORDER BY recorder_id, sequence", arguments: [recordingID])
                .map(ManifestRecord.init(row:))
        }
    }

    /// Up to `limit` manifests of `recorderID`'s chain after `sequence`, in chain order.
    public func manifests(recorderID: String, after sequence: Int64, limit: Int) throws -> [ManifestRecord] {
        try read { db in
            try db.query(
                sql: "SELECT * FROM manifests WHERE recorder_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [recorderID, sequence, limit]
            ).map(ManifestRecord.init(row:))
        }
    }

    /// The manifest at `sequence` of `recorderID`'s chain, or nil.
    public func manifest(recorderID: String, sequence: Int64) throws -> ManifestRecord? {
        try read { db in
            try db.queryOne(sql: "SELECT * FROM manifests WHERE recorder_id = ? AND sequence = ?", arguments: [recorderID, sequence])
                .map(ManifestRecord.init(row:))
        }
    }

    /// Writes back the manifest files of a pending recording that a crash
    /// left missing or incomplete, from the manifest's bytes and signature
    /// the catalog holds (they were stored in the transaction that entered
    /// the row): `<id>.manifest.json` and `<id>.manifest.sig` among `files`,
    /// under their temporary names, synced (unless `write` is false: a dry
    /// run). Returns the paths written (or that would be).
    func restoreManifestFiles(of recordingID: String, files: [CatalogFile], write: Bool) throws -> [String] {
        guard let manifest = try manifest(of: recordingID), let body = manifest.body else { return [] }
        var written: [String] = []
        for file in files {
            let content: [UInt8]
            if file.path.hasSuffix(".manifest.json") {
                content = body
            } else if file.path.hasSuffix(".manifest.sig") {
                content = manifest.signature
            } else {
                continue
            }
            guard FileDigest.sha256(bytes: content) == file.sha256 else { continue }
            let final = filePath(file.path)
            let temporary = CatalogStore.temporaryPath(of: final)
            let present = [temporary, final].first { (try? FileDigest.sha256(path: $0)) == file.sha256 }
            if present != nil { continue }
            if write { try CatalogStore.writeSynced(content, to: temporary) }
            written.append(file.path)
        }
        return written
    }

    // MARK: Checkpoints

    /// Signs a checkpoint of the two chains' heads now (the audit log's, and
    /// `recorderID`'s manifests') and stores it, in one transaction: `sign`
    /// makes the checkpoint's bytes and signature from the heads.
    public func appendCheckpoint(
        recorderID: String, at now: Double, sign: (ChainHeads) throws -> (body: [UInt8], signature: [UInt8])
    ) throws -> CheckpointRecord {
        try write { db in try Self.appendCheckpoint(db, recorderID: recorderID, at: now, sign: sign) }
    }

    /// `appendCheckpoint` inside the caller's transaction (after an audit
    /// entry it must cover, such as an evidence export's).
    public static func appendCheckpoint(
        _ db: any SQLConnection, recorderID: String, at now: Double, sign: (ChainHeads) throws -> (body: [UInt8], signature: [UInt8])
    ) throws -> CheckpointRecord {
        guard let audit = try db.queryOne(sql: "SELECT seq, row_sha256 FROM audit_head WHERE id = 1"),
            let recorder = try db.queryOne(sql: "SELECT head_sequence, head_sha256 FROM recorders WHERE id = ?", arguments: [recorderID])
        else { throw CatalogError(.notFound, "recorder \(recorderID) is not registered in the catalog") }
        let heads = ChainHeads(
            auditSeq: try audit["seq"], auditSHA256: try audit["row_sha256"], manifestSequence: try recorder["head_sequence"],
            manifestSHA256: try recorder["head_sha256"])
        let (body, signature) = try sign(heads)
        let row = try db.queryOne(
            sql: """
                INSERT INTO checkpoints (recorder_id, at_epoch, audit_seq, audit_sha256, manifest_sequence, manifest_sha256, body, signature)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
                """,
            arguments: [
                recorderID, now, heads.auditSeq, heads.auditSHA256, heads.manifestSequence, heads.manifestSHA256, body, signature,
            ])
        guard let row else { throw CatalogError(.database, "the checkpoint was not stored") }
        return try CheckpointRecord(row: row)
    }

    /// Every checkpoint, oldest first (of one recorder when given).
    public func checkpoints(recorderID: String? = nil) throws -> [CheckpointRecord] {
        try read { db in
            if let recorderID {
                return try db.query(sql: "SELECT * FROM checkpoints WHERE recorder_id = ? ORDER BY id", arguments: [recorderID])
                    .map(CheckpointRecord.init(row:))
            }
            return try db.query(sql: "SELECT * FROM checkpoints ORDER BY id").map(CheckpointRecord.init(row:))
        }
    }

    // MARK: The audit chain

    /// The audit chain's head: the seq and row hash of its last entry (0 and 64 zeros when empty).
    public func auditHead() throws -> (seq: Int64, sha256: String)? {
        try read { db in
            try db.queryOne(sql: "SELECT seq, row_sha256 FROM audit_head WHERE id = 1").map { (try $0["seq"], try $0["row_sha256"]) }
        }
    }

    /// Up to `limit` audit entries in chain order from `seq` on (entries
    /// without a seq — inserted outside callrec — come first, seq 0).
    public func auditChain(from seq: Int64, limit: Int) throws -> [AuditChainRow] {
        try read { db in
            try db.query(sql: "SELECT * FROM audit WHERE COALESCE(seq, 0) >= ? ORDER BY COALESCE(seq, 0), id LIMIT ?", arguments: [seq, limit])
                .map(AuditChainRow.init(row:))
        }
    }

    /// The audit entries about `recordingID`, in chain order.
    public func auditChain(about recordingID: String) throws -> [AuditChainRow] {
        try read { db in
            try db.query(sql: "SELECT * FROM audit WHERE recording_id = ? ORDER BY seq", arguments: [recordingID]).map(AuditChainRow.init(row:))
        }
    }

    /// The audit entries from `first` to `last` (seq), in chain order.
    public func auditChain(seq first: Int64, through last: Int64) throws -> [AuditChainRow] {
        try read { db in
            try db.query(sql: "SELECT * FROM audit WHERE seq >= ? AND seq <= ? ORDER BY seq", arguments: [first, last])
                .map(AuditChainRow.init(row:))
        }
    }

    /// The number of audit entries, and of those without a place in the chain.
    public func auditCounts() throws -> (all: Int, unchained: Int) {
        try read { db in
            let all = try db.scalar(Int.self, sql: "SELECT count(*) FROM audit") ?? 0
            let unchained = try db.scalar(Int.self, sql: "SELECT count(*) FROM audit WHERE seq IS NULL OR row_sha256 IS NULL") ?? 0
            return (all, unchained)
        }
    }

    // MARK: Recordings without manifests

    /// The ids of the recordings catalogued before recorders signed manifests (migration v4).
    public func unsignedRecordingIDs() throws -> [String] {
        try read { db in try db.column(String.self, sql: "SELECT id FROM unsigned_recordings ORDER BY id") }
    }

    /// What the migration's audit entry committed that list to, and the list's SHA-256 now.
    public func unsignedRecordingsCommitment() throws -> (committed: String?, now: String) {
        let ids = try unsignedRecordingIDs()
        let committed = try read { db in
            try db.scalar(String.self, sql: "SELECT detail FROM audit WHERE action = 'migrate' AND target = 'v5-evidence' ORDER BY seq LIMIT 1")
        }
        return (committed, CatalogStore.unsignedRecordingsDetail(count: ids.count, sha256: CatalogStore.idListSHA256(ids)))
    }

    /// Ids of committed recordings in this storage, in id order, a page at a time.
    public func committedRecordingIDs(after id: String, limit: Int) throws -> [String] {
        try read { db in
            try db.column(
                String.self, sql: "SELECT id FROM recordings WHERE storage = ? AND state = 'committed' AND id > ? ORDER BY id LIMIT ?",
                arguments: [storage, id, limit])
        }
    }

    /// Whether a recording row with `id` exists, in any state.
    public func hasRecording(id: String) throws -> Bool {
        try read { db in try db.queryOne(sql: "SELECT 1 FROM recordings WHERE id = ?", arguments: [id]) != nil }
    }
}

// MARK: Queries for verifying evidence a page at a time

extension CatalogStore {
    /// `(?, ?, ...)` for `count` values.
    static func placeholders(_ count: Int) -> String {
        "(" + Array(repeating: "?", count: max(1, count)).joined(separator: ", ") + ")"
    }

    /// Which of `ids` have a recording row (any state).
    public func recordingIDs(among ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try read { db in
            Set(try db.column(String.self, sql: "SELECT id FROM recordings WHERE id IN \(Self.placeholders(ids.count))", arguments: SQLArguments(ids)))
        }
    }

    /// Which of `ids` are in the `erased` table.
    public func erasedIDs(among ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try read { db in
            Set(try db.column(String.self, sql: "SELECT id FROM erased WHERE id IN \(Self.placeholders(ids.count))", arguments: SQLArguments(ids)))
        }
    }

    /// For each of `ids`, the `action outcome` pairs of the audit entries about it (`delete done`).
    public func auditActions(about ids: [String]) throws -> [String: Set<String>] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var out: [String: Set<String>] = [:]
            for row in try db.query(
                sql: "SELECT recording_id, action, outcome FROM audit WHERE recording_id IN \(Self.placeholders(ids.count))", arguments: SQLArguments(ids))
            {
                let id: String = try row["recording_id"]
                let action: String = try row["action"]
                let outcome: String = try row["outcome"]
                out[id, default: []].insert(action + " " + outcome)
            }
            return out
        }
    }

    /// The catalogued files of each of `ids`, in commit order.
    public func files(ofRecordings ids: [String]) throws -> [String: [CatalogFile]] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var out: [String: [CatalogFile]] = [:]
            for row in try db.query(
                sql: "SELECT * FROM recording_files WHERE recording_id IN \(Self.placeholders(ids.count)) ORDER BY recording_id, position",
                arguments: SQLArguments(ids))
            {
                let file = try CatalogFile(row: row)
                out[file.recordingID, default: []].append(file)
            }
            return out
        }
    }

    /// Committed recordings of this storage with no manifest in force and
    /// not on the list of those made before manifests were signed.
    public func committedRecordingsWithoutManifest(limit: Int) throws -> [String] {
        try read { db in try db.column(String.self, sql: Self.committedWithoutManifestSQL, arguments: [storage, limit]) }
    }

    /// How the database answers `committedRecordingsWithoutManifest` (its
    /// query plan, one line a step): the existence of a manifest in force
    /// comes from the `manifests_in_force` index alone.
    public func committedRecordingsWithoutManifestPlan(limit: Int) throws -> [String] {
        try database.explain(sql: Self.committedWithoutManifestSQL, arguments: [storage, limit])
    }

    static let committedWithoutManifestSQL = """
        SELECT r.id FROM recordings r
        WHERE r.storage = ? AND r.state = 'committed'
        AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.recording_id = r.id AND m.withdrawn_as IS NULL)
        AND NOT EXISTS (SELECT 1 FROM unsigned_recordings u WHERE u.id = r.id)
        ORDER BY r.id LIMIT ?
        """

    /// Whether the audit log has an entry `action` about `target` whose detail contains `text`.
    public func hasAuditEntry(action: String, target: String, detailContaining text: String) throws -> Bool {
        try read { db in
            try db.column(String.self, sql: "SELECT COALESCE(detail, '') FROM audit WHERE action = ? AND target = ?", arguments: [action, target])
                .contains { $0.contains(text) }
        }
    }
}
