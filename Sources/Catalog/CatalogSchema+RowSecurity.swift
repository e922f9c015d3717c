/// Row-level security on PostgreSQL (issue 18, item 3): per-user visibility
/// enforced by the database too, for the viewer role that serve and `--as`
/// queries connect as (`--viewer-catalog`, `catalog viewer-role`), so that a
/// bug in the application's own filter (`AccessScope`) or an SQL injection in
/// a viewer's query still reads only the calls that viewer may see.
///
/// The viewer is named per transaction: `set_config('callrec.viewer', NAME,
/// true)` (`SET LOCAL`), which `PostgresCatalogDatabase.read(viewer:_:)`
/// runs after `BEGIN`. The policies ask `callrec_viewer_patterns()`, which
/// applies exactly the rule of `CatalogStore.scope(of:)`: an agent their own
/// numbers; a supervisor their own and their team's (every call without a
/// team); an admin every call; no viewer, an unknown or a disabled one:
/// nothing. Numbers match as `NumberPattern.matches` does
/// (`callrec_number_matches`: exact, `prefix*`, `*` and `?` anywhere).
///
/// Only SELECT policies exist: the viewer role is granted SELECT and nothing
/// else on these tables, and with RLS enabled an operation no policy allows
/// is refused, so it can neither change a recording nor, not owning the
/// tables, drop a policy or switch RLS off. RLS is not FORCEd: the table
/// owner is the catalog's ordinary connection (convert, record, verify,
/// purge, the admin pages), which must see every row and could switch RLS
/// off anyway; what matters is that the viewer role is never the owner,
/// which `PostgresCatalogDatabase.checkViewerRole()` refuses.
///
/// SQLite has no row-level security: on SQLite the migration does nothing
/// and visibility is the application's filter alone.
extension CatalogSchema {
    static let rowSecurity = CatalogMigration("v12-row-security") { db in
        guard db.dialect.kind == .postgres else { return }
        // NumberPattern's glob as a LIKE with '\' as the escape, the translation of
        // SQLDialect.likePattern(glob:): '\', '%', '_' escaped first, then '*' -> '%', '?' -> '_'.
        // On "C" collation LIKE's '_' is one character (code point), as Swift's matcher takes one scalar.
        try db.execute(sql: #"""
            CREATE FUNCTION callrec_number_matches(pattern text, value text) RETURNS boolean
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $body$
                SELECT value IS NOT NULL AND pattern IS NOT NULL AND (value COLLATE "C") LIKE
                    replace(replace(replace(replace(replace(pattern, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') ESCAPE '\'
            $body$
            """#)
        // SECURITY DEFINER: it reads users and user_numbers as the catalog's owner, so the
        // viewer role needs no grant on users (where password hashes and keys live).
        // NULL means every recording; an empty array none. search_path fixed to the
        // catalog's schema, then pg_temp (which PostgreSQL would otherwise search first),
        // so a viewer cannot put a temporary `users` of their own in its way.
        let schema = try db.scalar(String.self, sql: "SELECT current_schema()::text") ?? "public"
        let quotedSchema = "\"" + schema.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        try db.execute(sql: #"""
            CREATE FUNCTION callrec_viewer_patterns() RETURNS text[]
            LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = \#(quotedSchema), pg_temp AS $body$
            DECLARE
                viewer text := nullif(current_setting('callrec.viewer', true), '');
                who record;
            BEGIN
                IF viewer IS NULL THEN RETURN ARRAY[]::text[]; END IF;
                SELECT role, team, disabled INTO who FROM users WHERE name = viewer;
                IF NOT FOUND OR who.disabled <> 0 THEN RETURN ARRAY[]::text[]; END IF;
                IF who.role = 'admin' OR (who.role = 'supervisor' AND who.team IS NULL) THEN RETURN NULL; END IF;
                IF who.role = 'supervisor' THEN
                    RETURN ARRAY(
                        SELECT DISTINCT n.pattern FROM user_numbers n JOIN users u ON u.name = n."user"
                        WHERE u.team = who.team OR n."user" = viewer);
                END IF;
                -- An agent, and (as Role(rawValue:) ?? .agent reads it) any role callrec does not know.
                RETURN ARRAY(SELECT pattern FROM user_numbers WHERE "user" = viewer);
            END
            $body$
            """#)
        try db.execute(sql: "REVOKE ALL ON FUNCTION callrec_viewer_patterns() FROM PUBLIC")
        try db.execute(sql: "ALTER TABLE recordings ENABLE ROW LEVEL SECURITY")
        // The function in a scalar subquery: an InitPlan, evaluated once per query, not once per row.
        try db.execute(sql: """
            CREATE POLICY callrec_viewer ON recordings FOR SELECT USING (
                (SELECT callrec_viewer_patterns()) IS NULL
                OR EXISTS (
                    SELECT 1 FROM unnest((SELECT callrec_viewer_patterns())) AS p(pattern)
                    WHERE callrec_number_matches(p.pattern, caller) OR callrec_number_matches(p.pattern, callee)))
            """)
        // What hangs off a recording is visible when its recording is: the subquery on
        // recordings is itself under the policy above for the viewer role.
        for table in ["recording_files", "recording_notes", "recording_tags"] {
            try db.execute(sql: "ALTER TABLE \(table) ENABLE ROW LEVEL SECURITY")
            try db.execute(sql: """
                CREATE POLICY callrec_viewer ON \(table) FOR SELECT USING (
                    EXISTS (SELECT 1 FROM recordings r WHERE r.id = \(table).recording_id))
                """)
        }
    }
}

extension CatalogStore {
    /// The tables a viewer role reads (and may only read), each under a row-level
    /// security policy on PostgreSQL (migration `v12-row-security`).
    public static let viewerTables = ["recordings", "recording_files", "recording_notes", "recording_tags"]

    /// Runs `body` read-only as `actor` sees the catalog: on the viewer
    /// database (`viewerDatabase`, a PostgreSQL role under row-level
    /// security) with the viewer set to the user for the transaction, when
    /// there is one and the actor is a catalog user; else on the catalog's
    /// own connection. The application's filter still applies on both: the
    /// database's policy is the second wall, not the first.
    func readAs<T>(_ actor: CatalogActor, _ body: (any SQLConnection) throws -> T) throws -> T {
        if let viewerDatabase, case .user(let user) = actor { return try viewerDatabase.read(viewer: user.name, body) }
        return try read(body)
    }

    /// Recording `id` as `actor` may read it (nil when absent, or when the
    /// viewer database's row-level security hides it from them).
    public func recording(id: String, by actor: CatalogActor) throws -> CatalogRecording? {
        try readAs(actor) { db in try CatalogRecording.fetchOne(db, id: id) }
    }

    /// The files of recording `id` as `actor` may read them, in commit order.
    public func files(of id: String, by actor: CatalogActor) throws -> [CatalogFile] {
        try readAs(actor) { db in try Self.files(db, id) }
    }
}
