/// The catalog's migrations, in order: one list for both backends. A
/// migration, once released, never changes; later ones add to it. On SQLite
/// each writes exactly the DDL earlier releases wrote (the history is GRDB's
/// `grdb_migrations` table, so catalogs written by them open and migrate);
/// on PostgreSQL the same tables with the dialect's column types (history
/// in `catalog_migrations`).
enum CatalogSchema {
    static let migrations: [CatalogMigration] = [
        CatalogMigration("v1-recordings") { db in
            let d = db.dialect
            // GRDB's table builder wrote this on SQLite: DOUBLE, quoted names.
            let double = d.kind == .sqlite ? "DOUBLE" : d.real
            try db.execute(sql: """
                CREATE TABLE "recordings" ("id" \(d.text) PRIMARY KEY NOT NULL, "call_id" \(d.text) NOT NULL, "caller" \(d.text), \
                "callee" \(d.text), "direction" \(d.text) NOT NULL, "start" \(d.text) NOT NULL, "start_epoch" \(double) NOT NULL, \
                "duration_s" \(double) NOT NULL, "audio_path" \(d.text) NOT NULL, "index_path" \(d.text) NOT NULL, \
                "audio_bytes" \(d.integer) NOT NULL, "codecs" \(d.text) NOT NULL, "end_reason" \(d.text) NOT NULL)
                """)
            try db.execute(sql: #"CREATE INDEX "recordings_on_start_epoch" ON "recordings"("start_epoch")"#)
            try db.execute(sql: #"CREATE INDEX "recordings_caller" ON "recordings"("caller")"#)
            try db.execute(sql: #"CREATE INDEX "recordings_callee" ON "recordings"("callee")"#)
        },
        CatalogMigration("v2-rules-access-retention") { db in
            let d = db.dialect
            // Recordings: checksums, speech and stream statistics, retention, holds, commit state.
            for (column, type) in [
                ("audio_sha256", d.text), ("sample_rate", d.integer),
                ("caller_talk_s", d.real), ("callee_talk_s", d.real), ("overtalk_s", d.real),
                ("dtmf_count", d.integer), ("silence_share", d.real),
                ("caller_packets", d.integer), ("callee_packets", d.integer),
                ("caller_lost", d.integer), ("callee_lost", d.integer),
                ("caller_jitter_ms", d.real), ("callee_jitter_ms", d.real),
                ("rule_id", d.integer),
                ("retain_until_epoch", "\(d.real) NOT NULL DEFAULT 0"),
                ("hold_reason", d.text), ("hold_by", d.text), ("hold_at_epoch", d.real),
                ("state", "\(d.text) NOT NULL DEFAULT 'committed' CHECK (state IN ('pending', 'committed', 'deleting'))"),
                ("damaged", "\(d.integer) NOT NULL DEFAULT 0"),
            ] {
                try db.execute(sql: "ALTER TABLE recordings ADD COLUMN \(column) \(type)")
            }
            // Rows from v1 get the default retention of 24 months from their start.
            switch d.kind {
            case .sqlite:
                try db.execute(sql: """
                    UPDATE recordings SET retain_until_epoch =
                        CAST(strftime('%s', CAST(start_epoch AS INTEGER), 'unixepoch', '+24 months') AS REAL)
                    """)
            case .postgres:
                try db.execute(sql: """
                    UPDATE recordings SET retain_until_epoch = extract(epoch FROM
                        (to_timestamp(trunc(start_epoch)) AT TIME ZONE 'UTC' + interval '24 months') AT TIME ZONE 'UTC')
                    """)
            }
            try db.execute(sql: "CREATE INDEX recordings_call_id ON recordings(call_id)")
            try db.execute(sql: "CREATE INDEX recordings_retain_until ON recordings(retain_until_epoch)")
            try db.execute(sql: "CREATE INDEX recordings_unsettled ON recordings(state) WHERE state != 'committed'")

            try db.execute(sql: """
                CREATE TABLE recording_files (
                    recording_id \(d.text) NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                    position \(d.integer) NOT NULL,
                    path \(d.text) NOT NULL UNIQUE,
                    bytes \(d.integer) NOT NULL,
                    sha256 \(d.text),
                    PRIMARY KEY (recording_id, position)
                )
                """)
            try db.execute(sql: """
                INSERT INTO recording_files (recording_id, position, path, bytes, sha256)
                    SELECT id, 0, audio_path, audio_bytes, NULL FROM recordings
                """)
            try db.execute(sql: """
                INSERT INTO recording_files (recording_id, position, path, bytes, sha256)
                    SELECT id, 1, index_path, 0, NULL FROM recordings
                """)

            try db.execute(sql: """
                CREATE TABLE rules (
                    id \(d.generatedPrimaryKey),
                    position \(d.integer) NOT NULL,
                    name \(d.text),
                    action \(d.text) NOT NULL CHECK (action IN ('record', 'skip')),
                    direction \(d.text) CHECK (direction IN ('inbound', 'outbound', 'internal', 'unknown')),
                    local_pattern \(d.text),
                    remote_pattern \(d.text),
                    weekdays \(d.text),
                    hours \(d.text),
                    except_hours \(d.text),
                    time_zone \(d.text) NOT NULL DEFAULT 'UTC',
                    sample_percent \(d.real) NOT NULL DEFAULT 100,
                    retention \(d.text)
                )
                """)

            try db.execute(sql: """
                CREATE TABLE users (
                    name \(d.text) PRIMARY KEY,
                    role \(d.text) NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
                    team \(d.text)
                )
                """)
            // `user` is a reserved word in PostgreSQL: queries quote it ("user") on both.
            let user = d.kind == .sqlite ? "user" : "\"user\""
            try db.execute(sql: """
                CREATE TABLE user_numbers (
                    \(user) \(d.text) NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                    pattern \(d.text) NOT NULL,
                    PRIMARY KEY (\(user), pattern)
                )
                """)

            // The audit log: rows are added, never changed or removed.
            try db.execute(sql: """
                CREATE TABLE audit (
                    id \(d.generatedPrimaryKey),
                    at_epoch \(d.real) NOT NULL,
                    actor \(d.text) NOT NULL,
                    action \(d.text) NOT NULL,
                    target \(d.text),
                    outcome \(d.text) NOT NULL CHECK (outcome IN ('done', 'refused', 'failed')),
                    reason \(d.text),
                    detail \(d.text)
                )
                """)
            try db.execute(sql: "CREATE INDEX audit_at ON audit(at_epoch)")
            for statement in d.appendOnlyTriggers(table: "audit", message: "the audit log is append-only") {
                try db.execute(sql: statement)
            }

            // Ids of erased recordings (an id is a time and a hash: no number, no Call-ID),
            // so neither converting the capture again nor restoring files brings them back.
            try db.execute(sql: """
                CREATE TABLE erased (
                    id \(d.text) PRIMARY KEY,
                    at_epoch \(d.real) NOT NULL,
                    action \(d.text) NOT NULL
                )
                """)
        },
        CatalogMigration("v3-storage") { db in
            let d = db.dialect
            // Which storage holds a recording's files: '' for the folder of an SQLite catalog;
            // in a PostgreSQL catalog, which several recorders may share, the name of the
            // storage the writer's --out folder is (`host:/absolute/out` unless named). Verify
            // and start-up repairs touch only the rows of their own storage.
            try db.execute(sql: "ALTER TABLE recordings ADD COLUMN storage \(d.text) NOT NULL DEFAULT ''")
            try db.execute(sql: "CREATE INDEX recordings_storage ON recordings(storage, id)")
        },
        CatalogMigration("v4-media-encrypted") { db in
            // A recording of a call whose media was partly encrypted (SRTP after a ZRTP
            // handshake the SDP did not show) holds only the audio sent in clear: said here.
            try db.execute(sql: "ALTER TABLE recordings ADD COLUMN media_encrypted \(db.dialect.integer) NOT NULL DEFAULT 0")
        },
        evidence,
        sealing,
        notes,
        // v7 landed after v8 (the two were written at once): applied in this order.
        ledger,
        usersDisabled,
        onDemand,
        ledgerCoverageIndex,
        rowSecurity,
        manifestsInForceIndex,
    ]

    /// On-demand rules (`rules add --record --on-demand 24h`) and the
    /// recordings they keep provisionally: `rules.on_demand` (the time to
    /// keep one in, `24h`); `recordings.on_demand` (1: nobody has kept it
    /// yet, and purge removes it once its time is past), `kept_by` and
    /// `kept_at_epoch` (who kept it, when).
    static let onDemand = CatalogMigration("v10-on-demand") { db in
        let d = db.dialect
        try db.execute(sql: "ALTER TABLE rules ADD COLUMN on_demand \(d.text)")
        try db.execute(sql: "ALTER TABLE recordings ADD COLUMN on_demand \(d.integer) NOT NULL DEFAULT 0")
        try db.execute(sql: "ALTER TABLE recordings ADD COLUMN kept_by \(d.text)")
        try db.execute(sql: "ALTER TABLE recordings ADD COLUMN kept_at_epoch \(d.real)")
    }

    /// A user an admin disabled (`catalog users disable`, serve's users
    /// page): kept, with their key and their audit trail, but signed in
    /// nowhere (serve's login, `--as`) until enabled again.
    static let usersDisabled = CatalogMigration("v9-users-disabled") { db in
        try db.execute(sql: "ALTER TABLE users ADD COLUMN disabled \(db.dialect.integer) NOT NULL DEFAULT 0")
    }

    /// Notes and tags on recordings (`serve`'s call page): who wrote what
    /// when; removed with their recording. (v7 is coverage's.)
    static let notes = CatalogMigration("v8-notes-tags") { db in
        let d = db.dialect
        try db.execute(sql: """
            CREATE TABLE recording_notes (
                id \(d.generatedPrimaryKey),
                recording_id \(d.text) NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                author \(d.text) NOT NULL,
                at_epoch \(d.real) NOT NULL,
                body \(d.text) NOT NULL
            )
            """)
        try db.execute(sql: "CREATE INDEX recording_notes_recording ON recording_notes(recording_id, id)")
        try db.execute(sql: """
            CREATE TABLE recording_tags (
                recording_id \(d.text) NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                tag \(d.text) NOT NULL,
                author \(d.text) NOT NULL,
                at_epoch \(d.real) NOT NULL,
                PRIMARY KEY (recording_id, tag)
            )
            """)
        try db.execute(sql: "CREATE INDEX recording_tags_tag ON recording_tags(tag, recording_id)")
    }
}
