extension CatalogSchema {
    /// v6: what sealed recordings need (issue 13; docs/FORMATS.md, "Keys in
    /// the catalog"). The catalog holds public keys and wrapped private keys
    /// only: nothing in it opens a recording without a user's password.
    ///
    /// - `users.key_recipient`, `users.key_wrapped`: a user's personal key,
    ///   its public half (`age1…`) and the private half as an age file sealed
    ///   to the user's password (one scrypt stanza), whose content is the key
    ///   in age-keygen's format. Opening it is also how a password is checked.
    /// - `team_keys`: each generation of a team's key (a new one whenever the
    ///   team's supervisors change); the one without `retired_epoch` is the
    ///   one recordings are sealed to now.
    /// - `team_key_wraps`: a generation's private key sealed to one
    ///   supervisor's personal key (`recipient`: that key when it was wrapped).
    /// - `recording_files.sealed_to`: the recipients (`age1…`, space
    ///   separated) a sealed file's header wraps its key for, in header order;
    ///   NULL for a file in the clear. `pending_*`: a reseal in progress (the
    ///   file's next SHA-256, size and recipients), settled by verify after a crash.
    /// - `recordings.dtmf_times`: when each DTMF digit was sent, without the
    ///   digit (`[[channel, at_s, duration_s], ...]` as JSON): the digits
    ///   themselves live only in the call index, sealed when sealing is on.
    static let sealing = CatalogMigration("v6-sealing") { db in
        let d = db.dialect
        try db.execute(sql: "ALTER TABLE users ADD COLUMN key_recipient \(d.text)")
        try db.execute(sql: "ALTER TABLE users ADD COLUMN key_wrapped \(d.blob)")
        try db.execute(sql: """
            CREATE TABLE team_keys (
                team \(d.text) NOT NULL,
                generation \(d.integer) NOT NULL,
                recipient \(d.text) NOT NULL UNIQUE,
                created_epoch \(d.real) NOT NULL,
                retired_epoch \(d.real),
                PRIMARY KEY (team, generation)
            )
            """)
        try db.execute(sql: "CREATE UNIQUE INDEX team_keys_current ON team_keys(team) WHERE retired_epoch IS NULL")
        try db.execute(sql: """
            CREATE TABLE team_key_wraps (
                team \(d.text) NOT NULL,
                generation \(d.integer) NOT NULL,
                "user" \(d.text) NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                recipient \(d.text) NOT NULL,
                wrapped \(d.blob) NOT NULL,
                PRIMARY KEY (team, generation, "user"),
                FOREIGN KEY (team, generation) REFERENCES team_keys(team, generation)
            )
            """)
        try db.execute(sql: #"CREATE INDEX team_key_wraps_user ON team_key_wraps("user")"#)
        for (column, type) in [
            ("sealed_to", d.text), ("pending_sha256", d.text), ("pending_bytes", d.integer), ("pending_sealed_to", d.text),
        ] {
            try db.execute(sql: "ALTER TABLE recording_files ADD COLUMN \(column) \(type)")
        }
        try db.execute(sql: "CREATE INDEX recording_files_pending ON recording_files(recording_id) WHERE pending_sha256 IS NOT NULL")
        try db.execute(sql: "ALTER TABLE recordings ADD COLUMN dtmf_times \(d.text)")
    }
}
