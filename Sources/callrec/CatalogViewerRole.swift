import ArgumentParser
import Catalog
import CatalogPostgres
import Foundation

/// `callrec catalog viewer-role ROLE`: the PostgreSQL role that serve and
/// `--as` queries read through, under row-level security.
struct CatalogViewerRole: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "viewer-role",
        abstract: "Make the PostgreSQL role that serve and --as queries read through, under row-level security.",
        discussion: """
            On a PostgreSQL catalog each recording (and its files, notes and tags) is visible to a viewer role \
            only when the catalog user named for the transaction may see it: an agent the calls of their own \
            numbers, a supervisor their team's, an admin all, nobody named: none. This is the database's own \
            check beside callrec's: a bug in callrec's filter or an SQL injection in a user's query still reads \
            only that user's calls. It does not hold against someone who controls the serve process itself, \
            which may name any user.

            This command, run as the catalog's owner (the --catalog of convert and record, without --as), creates \
            ROLE when it does not exist (LOGIN, no password: set one with psql's \\password ROLE, or use peer or \
            certificate authentication) and grants it SELECT on recordings, recording_files, recording_notes and \
            recording_tags and nothing else: no write, no users table, never ownership. Running it again changes \
            nothing. Then give serve and --as both URLs; the owner's stays for audit, sessions and admin actions.

            SQLite has no row-level security: on an SQLite catalog visibility is callrec's filter alone.

            Examples:
              callrec catalog viewer-role callrec_serve \\
                  --catalog postgresql://callrec@db/calls
              callrec serve --catalog postgresql://callrec@db/calls \\
                  --viewer-catalog postgresql://callrec_serve@db/calls
              callrec catalog find --as alice --catalog postgresql://callrec@db/calls \\
                  --viewer-catalog postgresql://callrec_serve@db/calls
            """
    )

    @OptionGroup var location: CatalogLocation
    @Argument(help: ArgumentHelp("The role (lower-case letters, digits and _).", valueName: "role")) var role: String

    func run() throws {
        try location.run { store, actor in
            let now = wallClock()
            try store.require(.admin, actor, action: "viewer-role", target: "role \(role)", reason: nil, at: now)
            guard let database = store.database as? PostgresCatalogDatabase else {
                throw CatalogError(.invalid, "\(store.path): an SQLite catalog has no row-level security and no roles (give a PostgreSQL --catalog)")
            }
            try database.grantViewer(role: role)
            try store.audit("viewer-role", target: "role \(role)", outcome: .done, by: actor, at: now)
            FileHandleOutput.standardOutput.write(
                "role \(role) reads \(store.path) under row-level security: give serve and --as "
                    + "--viewer-catalog \(Self.url(database.url, role: role))\n")
        }
    }

    /// The owner's URL with `role` as the user (no password).
    static func url(_ owner: PostgresURL, role: String) -> String {
        var url = owner
        url.user = role
        url.password = nil
        return url.redacted
    }
}
