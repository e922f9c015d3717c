import Crypto

extension CatalogSchema {
    /// v7: the call ledger (issue 16; docs/FORMATS.md, "The call ledger"):
    /// one row for every call seen, recorded or not, and the key its
    /// Call-ID is hashed with.
    ///
    /// - `call_ledger.call_key`: HMAC-SHA256 of the Call-ID (for a call
    ///   without signalling, the name made from its first stream) under the
    ///   catalog's `ledger_key`, hex. The Call-ID itself is not kept: the key
    ///   recognises a call seen again (a capture converted twice) and nothing
    ///   else. A call a rule skipped keeps no parties either.
    /// - `outcome`: `recorded`, `skipped_by_rule`, `not_answered`, `no_media`,
    ///   `encrypted_no_key`, `unsupported_codec`, `dropped`, `failed`;
    ///   `detail` says which cause (dropped) or which error (failed).
    /// - `complete`, `one_sided`, `gaps_s`, `cut`: a recording's defects.
    /// - `required`: a `--require` rule matched the call.
    /// - `rules.required`: the rule's `--require`.
    static let ledger = CatalogMigration("v7-call-ledger") { db in
        let d = db.dialect
        try db.execute(sql: """
            CREATE TABLE call_ledger (
                call_key \(d.text) PRIMARY KEY,
                start_epoch \(d.real) NOT NULL,
                end_epoch \(d.real) NOT NULL,
                direction \(d.text) NOT NULL,
                caller \(d.text),
                callee \(d.text),
                signalled \(d.integer) NOT NULL,
                outcome \(d.text) NOT NULL CHECK (outcome IN ('recorded', 'skipped_by_rule', 'not_answered', 'no_media', \
            'encrypted_no_key', 'unsupported_codec', 'dropped', 'failed')),
                detail \(d.text),
                rule_id \(d.integer),
                required \(d.integer) NOT NULL DEFAULT 0,
                recording_id \(d.text),
                complete \(d.integer) NOT NULL DEFAULT 0,
                one_sided \(d.integer) NOT NULL DEFAULT 0,
                gaps_s \(d.real) NOT NULL DEFAULT 0,
                cut \(d.integer) NOT NULL DEFAULT 0,
                retain_until_epoch \(d.real) NOT NULL
            )
            """)
        try db.execute(sql: "CREATE INDEX call_ledger_start ON call_ledger(start_epoch)")
        try db.execute(sql: "CREATE INDEX call_ledger_recording ON call_ledger(recording_id) WHERE recording_id IS NOT NULL")
        try db.execute(sql: "CREATE INDEX call_ledger_retain_until ON call_ledger(retain_until_epoch)")
        try db.execute(sql: "CREATE TABLE ledger_key (id \(d.integer) PRIMARY KEY CHECK (id = 1), key_hex \(d.text) NOT NULL)")
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try db.execute(
            sql: "INSERT INTO ledger_key (id, key_hex) VALUES (1, ?)",
            arguments: [key.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()])
        try db.execute(sql: "ALTER TABLE rules ADD COLUMN required \(d.integer) NOT NULL DEFAULT 0")
    }

    /// v11: an index holding every column `catalog coverage` counts by, led
    /// by the call's start, so a month of a million-call ledger is counted
    /// from the index alone rather than with a read of the table per row.
    static let ledgerCoverageIndex = CatalogMigration("v11-ledger-coverage-index") { db in
        try db.execute(
            sql: "CREATE INDEX call_ledger_coverage ON call_ledger(start_epoch, outcome, complete, one_sided, gaps_s, cut, required, rule_id)")
    }
}
