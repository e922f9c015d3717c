import Foundation

extension CatalogSchema {
    /// v5: what makes the catalog evidence (issue 15; docs/FORMATS.md,
    /// "Evidence"): the audit log becomes a hash chain (existing entries are
    /// chained in id order), recorders and their keys, each recording's
    /// signed manifest in a per-recorder chain, signed checkpoints of both
    /// chains, and the list of recordings committed before manifests were
    /// signed (committed to by an audit entry, so it cannot grow unnoticed).
    static let evidence = CatalogMigration("v5-evidence") { db in
        let d = db.dialect
        // The audit chain.
        for (column, type) in [
            ("seq", d.integer), ("recording_id", d.text), ("salt", d.text), ("personal_sha256", d.text), ("previous_sha256", d.text),
            ("row_sha256", d.text), ("redacted", "\(d.integer) NOT NULL DEFAULT 0"),
        ] {
            try db.execute(sql: "ALTER TABLE audit ADD COLUMN \(column) \(type)")
        }
        try db.execute(sql: "CREATE TABLE audit_head (id \(d.integer) PRIMARY KEY CHECK (id = 1), seq \(d.integer) NOT NULL, row_sha256 \(d.text) NOT NULL)")
        try db.execute(sql: "INSERT INTO audit_head (id, seq, row_sha256) VALUES (1, 0, ?)", arguments: [AuditChain.genesis])
        // Existing entries join the chain in the order they were written.
        try db.execute(sql: d.dropTrigger("audit_no_update", on: "audit"))
        var previous = AuditChain.genesis
        var seq: Int64 = 0
        for row in try db.query(sql: "SELECT id, at_epoch, actor, action, target, outcome, reason, detail FROM audit ORDER BY id") {
            seq += 1
            let target: String? = try row["target"]
            let salt = AuditChain.newSalt()
            let personal = FileDigest.sha256(
                bytes: AuditChain.personalBytes(salt: salt, target: target, reason: try row["reason"], detail: try row["detail"]))
            let record = AuditChain.Record(
                seq: seq, previousSHA256: previous, atEpoch: try row["at_epoch"], actor: try row["actor"], action: try row["action"],
                outcome: try row["outcome"], recordingID: target.flatMap { AuditChain.isRecordingID($0) ? $0 : nil }, personalSHA256: personal)
            previous = record.sha256
            let id: Int64 = try row["id"]
            try db.execute(
                sql: "UPDATE audit SET seq = ?, recording_id = ?, salt = ?, personal_sha256 = ?, previous_sha256 = ?, row_sha256 = ? WHERE id = ?",
                arguments: [seq, record.recordingID, salt, personal, record.previousSHA256, previous, id])
        }
        try db.execute(sql: "UPDATE audit_head SET seq = ?, row_sha256 = ? WHERE id = 1", arguments: [seq, previous])
        try db.execute(sql: "CREATE UNIQUE INDEX audit_seq ON audit(seq)")
        try db.execute(sql: "CREATE INDEX audit_recording ON audit(recording_id) WHERE recording_id IS NOT NULL")
        // An entry changes once at most: when the recording's data is erased, its
        // personal fields and salt go; everything its record holds stays.
        let auditRecord = SQLDialect.unchanged([
            "id", "seq", "at_epoch", "actor", "action", "outcome", "recording_id", "personal_sha256", "previous_sha256", "row_sha256",
        ])
        for statement in d.guardedUpdateTrigger(
            table: "audit",
            allowed: "OLD.redacted = 0 AND NEW.redacted = 1 AND NEW.target IS NULL AND NEW.reason IS NULL AND NEW.detail IS NULL "
                + "AND NEW.salt IS NULL AND \(auditRecord)",
            message: "the audit log is append-only")
        {
            try db.execute(sql: statement)
        }

        // Recorders: one Ed25519 key each; the head of its manifest chain.
        try db.execute(sql: """
            CREATE TABLE recorders (
                id \(d.text) PRIMARY KEY,
                public_key \(d.text) NOT NULL,
                fingerprint \(d.text) NOT NULL,
                label \(d.text) NOT NULL,
                registered_epoch \(d.real) NOT NULL,
                head_sequence \(d.integer) NOT NULL DEFAULT 0,
                head_sha256 \(d.text)
            )
            """)
        for statement in d.noDeleteTriggers(table: "recorders", message: "a recorder is never removed from the catalog") {
            try db.execute(sql: statement)
        }
        for statement in d.guardedUpdateTrigger(
            table: "recorders",
            allowed: "NEW.head_sequence = OLD.head_sequence + 1 AND NEW.head_sha256 IS NOT NULL AND "
                + SQLDialect.unchanged(["id", "public_key", "fingerprint", "label", "registered_epoch"]),
            message: "a recorder's key never changes and its manifest chain only grows")
        {
            try db.execute(sql: statement)
        }

        // Manifests: every one a recorder signed, in its chain, kept when the recording goes.
        try db.execute(sql: """
            CREATE TABLE manifests (
                recorder_id \(d.text) NOT NULL REFERENCES recorders(id),
                sequence \(d.integer) NOT NULL,
                recording_id \(d.text) NOT NULL,
                sha256 \(d.text) NOT NULL,
                previous_sha256 \(d.text),
                signature \(d.blob) NOT NULL,
                body \(d.blob),
                withdrawn_epoch \(d.real),
                withdrawn_as \(d.text),
                PRIMARY KEY (recorder_id, sequence)
            )
            """)
        try db.execute(sql: "CREATE INDEX manifests_recording ON manifests(recording_id)")
        for statement in d.noDeleteTriggers(table: "manifests", message: "a signed manifest is never removed from its chain") {
            try db.execute(sql: statement)
        }
        for statement in d.guardedUpdateTrigger(
            table: "manifests",
            allowed: "OLD.withdrawn_as IS NULL AND NEW.withdrawn_as IS NOT NULL AND NEW.withdrawn_epoch IS NOT NULL AND NEW.body IS NULL AND "
                + SQLDialect.unchanged(["recorder_id", "sequence", "recording_id", "sha256", "previous_sha256", "signature"]),
            message: "a signed manifest never changes (it can only be withdrawn with its recording)")
        {
            try db.execute(sql: statement)
        }

        // Checkpoints: a recorder's signature over the heads of both chains.
        try db.execute(sql: """
            CREATE TABLE checkpoints (
                id \(d.generatedPrimaryKey),
                recorder_id \(d.text) NOT NULL REFERENCES recorders(id),
                at_epoch \(d.real) NOT NULL,
                audit_seq \(d.integer) NOT NULL,
                audit_sha256 \(d.text) NOT NULL,
                manifest_sequence \(d.integer) NOT NULL,
                manifest_sha256 \(d.text),
                body \(d.blob) NOT NULL,
                signature \(d.blob) NOT NULL
            )
            """)
        for statement in d.appendOnlyTriggers(table: "checkpoints", message: "checkpoints are append-only") {
            try db.execute(sql: statement)
        }

        // Recordings committed before manifests were signed.
        try db.execute(sql: "CREATE TABLE unsigned_recordings (id \(d.text) PRIMARY KEY)")
        try db.execute(sql: "INSERT INTO unsigned_recordings (id) SELECT id FROM recordings")
        let ids = try db.column(String.self, sql: "SELECT id FROM unsigned_recordings ORDER BY id")
        try AuditChain.append(
            db, at: Date().timeIntervalSince1970, actor: "callrec", action: "migrate", target: "v5-evidence", outcome: "done", reason: nil,
            detail: CatalogStore.unsignedRecordingsDetail(count: ids.count, sha256: CatalogStore.idListSHA256(ids)))
    }
}

extension CatalogStore {
    /// The SHA-256 of `ids`, one per line, each line ending in a newline:
    /// `sort ids.txt | sha256sum`.
    static func idListSHA256(_ ids: [String]) -> String {
        FileDigest.sha256(bytes: Array(ids.sorted().map { $0 + "\n" }.joined().utf8))
    }

    /// The detail of the migration's audit entry that commits to the list of unsigned recordings.
    static func unsignedRecordingsDetail(count: Int, sha256: String) -> String {
        "\(count) recordings were catalogued before recorders signed manifests; SHA-256 of their ids, sorted, one per line: \(sha256)"
    }
}

extension CatalogSchema {
    /// v13: the manifests in force, by recording, in an index of their own.
    /// `catalog verify` asks of every committed recording whether a manifest
    /// in force vouches for it; through `manifests_recording` each answer read
    /// the manifest's row (a page of the table's bodies, 1 KB a row) to see
    /// whether it was withdrawn: scattered reads that made the scan of 100k
    /// recordings take 2.2 s (0.56 s CPU), where this index alone answers in
    /// 0.25 s (0.2 s CPU). Withdrawn manifests are few, so the index is about
    /// as large as `manifests_recording`.
    static let manifestsInForceIndex = CatalogMigration("v13-manifests-in-force-index") { db in
        try db.execute(sql: "CREATE INDEX manifests_in_force ON manifests(recording_id) WHERE withdrawn_as IS NULL")
    }
}
