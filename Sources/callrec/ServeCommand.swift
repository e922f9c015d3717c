import ArgumentParser
import Catalog
import CatalogPostgres
import Foundation
import Serve

/// `callrec serve`: the catalog's recordings in the browser.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the catalog's recordings to its users in the browser: sign in, find a call, listen.",
        discussion: """
            Users are the catalog's users (callrec catalog users add NAME --role ROLE --password-file F): they sign in \
            with their password, which also opens their key for sealed recordings; the server holds that key in memory \
            for the session only. An agent sees the calls of their own numbers, a supervisor those of their team, an admin \
            every call (but hears a sealed one only with a key it is sealed to). Every sign-in, search, page, listen and \
            refusal is written to the catalog's audit log.

            The server binds to 127.0.0.1:8080 unless --listen says otherwise. To reach it from other machines, either \
            give --tls-cert and --tls-key (PEM files) or put it behind a reverse proxy that terminates TLS (README, \
            "Listening in the browser") and give --secure-cookies there.

            On a PostgreSQL catalog, --viewer-catalog names the same database as a role made by callrec catalog \
            viewer-role: users' searches, calls, files, notes and tags are then read through it, and the database's \
            row-level security lets each transaction see only the signed-in user's calls, whatever callrec's own \
            filter does. The --catalog connection stays for sign-in, sessions, the audit log and admin actions.

            Examples:
              callrec serve --out /var/lib/callrec
              callrec serve --out /var/lib/callrec --listen 0.0.0.0:8443 \\
                  --tls-cert cert.pem --tls-key key.pem
              callrec serve --catalog postgresql://callrec@db/callrec \\
                  --out /var/lib/callrec
              callrec serve --catalog postgresql://callrec@db/callrec \\
                  --viewer-catalog postgresql://callrec_serve@db/callrec
              callrec serve --out /var/lib/callrec --download-reason agent,supervisor,admin
            """
    )

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("The output folder convert or record wrote (its catalog.sqlite and recordings).", valueName: "dir"))
    var out: String = "recordings"

    @Option(help: ArgumentHelp("The catalog itself: an SQLite file, or a PostgreSQL URL (postgresql://user@host:port/db).", valueName: "path|url"))
    var catalog: String?

    @Option(
        name: .customLong("viewer-catalog"),
        help: ArgumentHelp(
            "With a PostgreSQL --catalog: the same database as the viewer role (callrec catalog viewer-role); users' searches "
                + "and calls are read through it, under row-level security.", valueName: "url"))
    var viewerCatalog: String?

    @Option(help: ArgumentHelp("The address and port to listen on (host:port; [::1]:port for IPv6).", valueName: "host:port"))
    var listen: String = "127.0.0.1:8080"

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM).", valueName: "file"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-cert (PEM, readable by its owner only).", valueName: "file"))
    var tlsKey: String?

    @Flag(help: "Mark the session cookie Secure without --tls-cert (behind a reverse proxy that terminates TLS).")
    var secureCookies = false

    @Option(help: ArgumentHelp("Sign a user out after this many minutes without a request.", valueName: "minutes"))
    var idleMinutes: Double = 30

    @Option(help: ArgumentHelp("Sign a user out this many hours after they signed in, however active.", valueName: "hours"))
    var sessionHours: Double = 12

    @Option(
        name: .customLong("download-reason"),
        help: ArgumentHelp(
            "The roles that must say why they download a call (written to the audit log): a comma-separated list of agent, "
                + "supervisor, admin, or none.", valueName: "roles"))
    var downloadReason: String = "supervisor,admin"

    /// `--download-reason` as roles.
    func reasonRoles() throws -> Set<Role> {
        if downloadReason == "none" { return [] }
        var roles: Set<Role> = []
        for name in downloadReason.split(separator: ",") {
            guard let role = Role(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--download-reason takes agent, supervisor and admin separated by commas, or none (not '\(name)')")
            }
            roles.insert(role)
        }
        if roles.isEmpty { throw ValidationError("--download-reason takes agent, supervisor and admin separated by commas, or none") }
        return roles
    }

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        _ = try address()
        if !(idleMinutes > 0) || !(sessionHours > 0) { throw ValidationError("--idle-minutes and --session-hours must be above 0") }
        _ = try reasonRoles()
    }

    /// `127.0.0.1:8080` -> ("127.0.0.1", 8080); `[::1]:8080` -> ("::1", 8080).
    func address() throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("--listen must be host:port, such as 127.0.0.1:8080 or [::1]:8080")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen must name the address to bind (127.0.0.1 for this machine only)") }
        return (host, port)
    }

    func run() throws {
        let (host, port) = try address()
        try reportingCatalogErrors {
            let location = catalog ?? (out.hasSuffix("/") ? out : out + "/") + CatalogStore.fileName
            let store = try CatalogStore.open(location, folder: out, create: false, viewer: viewerCatalog)
            var options = ServeOptions(
                host: host, port: port, idleTimeout: idleMinutes * 60, absoluteTimeout: sessionHours * 3600,
                secureCookies: secureCookies || tlsCert != nil, tlsCertificate: tlsCert, tlsKey: tlsKey)
            options.downloadReasonRoles = try reasonRoles()
            let server = try CallServer(catalog: store, options: options)
            let scheme = tlsCert == nil ? "http" : "https"
            FileHandleOutput.standardError.write("callrec serve: \(scheme)://\(listen)/ for the users of \(store.path)\n")
            if !["127.0.0.1", "::1", "localhost"].contains(host) && tlsCert == nil && !secureCookies {
                FileHandleOutput.standardError.write(
                    "callrec serve: note: listening beyond this machine without TLS: passwords and audio cross the network in clear (give --tls-cert/--tls-key, or a TLS reverse proxy)\n")
            }
            do {
                try server.run()
            } catch let error as ServeSetupError {
                throw CatalogError(.invalid, error.description)
            }
        }
    }
}
