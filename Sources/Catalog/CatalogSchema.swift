import GRDB

/// The catalog's migrations, in order. A migration, once released, never
/// changes; later ones add to it.
enum CatalogSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-recordings") { db in
            try db.create(table: "recordings") { t in
                t.primaryKey("id", .text)
                t.column("call_id", .text).notNull()
                t.column("caller", .text)
                t.column("callee", .text)
                t.column("direction", .text).notNull()
                t.column("start", .text).notNull()
                t.column("start_epoch", .double).notNull().indexed()
                t.column("duration_s", .double).notNull()
                t.column("audio_path", .text).notNull()
                t.column("index_path", .text).notNull()
                t.column("audio_bytes", .integer).notNull()
                t.column("codecs", .text).notNull()
                t.column("end_reason", .text).notNull()
            }
            try db.create(index: "recordings_caller", on: "recordings", columns: ["caller"])
            try db.create(index: "recordings_callee", on: "recordings", columns: ["callee"])
        }
        migrator.registerMigration("v2-rules-access-retention") { db in
            // Recordings: checksums, speech and stream statistics, retention, holds, commit state.
            for (column, type) in [
                ("audio_sha256", "TEXT"), ("sample_rate", "INTEGER"),
                ("caller_talk_s", "REAL"), ("callee_talk_s", "REAL"), ("overtalk_s", "REAL"),
                ("dtmf_count", "INTEGER"), ("silence_share", "REAL"),
                ("caller_packets", "INTEGER"), ("callee_packets", "INTEGER"),
                ("caller_lost", "INTEGER"), ("callee_lost", "INTEGER"),
                ("caller_jitter_ms", "REAL"), ("callee_jitter_ms", "REAL"),
                ("rule_id", "INTEGER"),
                ("retain_until_epoch", "REAL NOT NULL DEFAULT 0"),
                ("hold_reason", "TEXT"), ("hold_by", "TEXT"), ("hold_at_epoch", "REAL"),
                ("state", "TEXT NOT NULL DEFAULT 'committed' CHECK (state IN ('pending', 'committed', 'deleting'))"),
                ("damaged", "INTEGER NOT NULL DEFAULT 0"),
            ] {
                try db.execute(sql: "ALTER TABLE recordings ADD COLUMN \(column) \(type)")
            }
            // Rows from v1 get the default retention of 24 months from their start.
            try db.execute(sql: """
                UPDATE recordings SET retain_until_epoch =
                    CAST(strftime('%s', CAST(start_epoch AS INTEGER), 'unixepoch', '+24 months') AS REAL)
                """)
            try db.execute(sql: "CREATE INDEX recordings_call_id ON recordings(call_id)")
            try db.execute(sql: "CREATE INDEX recordings_retain_until ON recordings(retain_until_epoch)")
            try db.execute(sql: "CREATE INDEX recordings_unsettled ON recordings(state) WHERE state != 'committed'")

            try db.execute(sql: """
                CREATE TABLE recording_files (
                    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    path TEXT NOT NULL UNIQUE,
                    bytes INTEGER NOT NULL,
                    sha256 TEXT,
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
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    position INTEGER NOT NULL,
                    name TEXT,
                    action TEXT NOT NULL CHECK (action IN ('record', 'skip')),
                    direction TEXT CHECK (direction IN ('inbound', 'outbound', 'internal', 'unknown')),
                    local_pattern TEXT,
                    remote_pattern TEXT,
                    weekdays TEXT,
                    hours TEXT,
                    except_hours TEXT,
                    time_zone TEXT NOT NULL DEFAULT 'UTC',
                    sample_percent REAL NOT NULL DEFAULT 100,
                    retention TEXT
                )
                """)

            try db.execute(sql: """
                CREATE TABLE users (
                    name TEXT PRIMARY KEY,
                    role TEXT NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
                    team TEXT
                )
                """)
            try db.execute(sql: """
                CREATE TABLE user_numbers (
                    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                    pattern TEXT NOT NULL,
                    PRIMARY KEY (user, pattern)
                )
                """)

            // The audit log: rows are added, never changed or removed.
            try db.execute(sql: """
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at_epoch REAL NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT,
                    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'refused', 'failed')),
                    reason TEXT,
                    detail TEXT
                )
                """)
            try db.execute(sql: "CREATE INDEX audit_at ON audit(at_epoch)")
            try db.execute(sql: """
                CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                """)
            try db.execute(sql: """
                CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                """)

            // Ids of erased recordings (an id is a time and a hash: no number, no Call-ID),
            // so neither converting the capture again nor restoring files brings them back.
            try db.execute(sql: """
                CREATE TABLE erased (
                    id TEXT PRIMARY KEY,
                    at_epoch REAL NOT NULL,
                    action TEXT NOT NULL
                )
                """)
        }
        return migrator
    }
}
