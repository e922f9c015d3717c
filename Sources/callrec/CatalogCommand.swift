import ArgumentParser
import CallMedia
import Catalog
import CatalogPostgres
import Commit
import Foundation
import Output
import Sealing

/// `callrec catalog`: find, play out, keep and erase recordings; the
/// recording rules; users and roles; the audit log.
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Find, export, hold and erase recordings; recording rules, users and the audit log.",
        discussion: """
            Every catalog command finds the catalog where convert wrote it: OUT/catalog.sqlite \
            with --out DIR (default ./recordings), or the file given with --catalog PATH, or the PostgreSQL \
            database given with --catalog postgresql://user@host:port/db (then --out says where this \
            machine's recordings are: verify checks the recordings stored there). The password comes \
            from PGPASSWORD or ~/.pgpass (or the URL, where others may see it in the process list).

            --as USER runs the command as that catalog user: an agent sees the calls of their own \
            numbers, a supervisor those of their team (or all, without a team), an admin everything. \
            Without --as, the command runs as the operator who owns the catalog file, with every right. \
            Every show, export, delete, forget, purge, hold and refusal is written to the audit log.

            Examples:
              callrec catalog find --number '+46812*' --from 2026-11-01 --to 2026-11-30
              callrec catalog show 20261129T081530Z-3f9a1c2e --as alice \\
                  --reason "complaint 4711"
              callrec catalog export 20261129T081530Z-3f9a1c2e --to call.wav
              callrec catalog rules add --skip --remote '+467*' --name "never mobiles"
              callrec catalog forget --number +46701234567 \\
                  --reason "erasure request 2026-118"
              callrec catalog keep 20261129T081530Z-3f9a1c2e --as alice
            """,
        subcommands: [
            CatalogFind.self, CatalogShow.self, CatalogExport.self, CatalogKeep.self, CatalogDiscard.self, CatalogDelete.self, CatalogForget.self,
            CatalogHold.self,
            CatalogRelease.self, CatalogPurge.self, CatalogVerify.self, CatalogReseal.self, CatalogRules.self, CatalogUsers.self,
            CatalogAudit.self, CatalogRecorders.self, CatalogCoverage.self, CatalogViewerRole.self,
        ]
    )
}

/// Where the catalog is and who acts on it: shared by every catalog command.
struct CatalogLocation: ParsableArguments {
    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("The output folder convert wrote (its catalog.sqlite; with a PostgreSQL --catalog, where its files are).", valueName: "dir"))
    var out: String = "recordings"

    @Option(
        help: ArgumentHelp(
            "The catalog itself: an SQLite file (overrides --out), or a PostgreSQL URL (postgresql://user@host:port/db).",
            valueName: "path|url"))
    var catalog: String?

    @Option(name: .customLong("as"), help: ArgumentHelp("Act as this catalog user (scopes and audits the command).", valueName: "user"))
    var user: String?

    @Option(help: ArgumentHelp(
        "Read the catalog's location from this file's 'catalog = ...' line (the --config of convert and record) when --catalog is not given.",
        valueName: "file"))
    var config: String?

    @Option(
        name: .customLong("viewer-catalog"),
        help: ArgumentHelp(
            "With --as and a PostgreSQL --catalog: the same database as the viewer role (catalog viewer-role); the user's "
                + "searches and reads go through it, under row-level security.", valueName: "url"))
    var viewerCatalog: String?

    /// The catalog's location: --catalog (an SQLite file, or a PostgreSQL URL
    /// as given), else the --config file's `catalog`, else OUT/catalog.sqlite.
    func location() throws -> String {
        if let catalog { return catalog }
        if let config {
            do {
                if let configured = try ConfigFile(path: config).catalog { return configured }
            } catch let failure as ConfigFile.Failure {
                throw ValidationError(failure.description)
            }
        }
        return (out.hasSuffix("/") ? out : out + "/") + CatalogStore.fileName
    }

    /// The viewer role's URL: --viewer-catalog, else the --config file's `viewer-catalog`.
    func viewerLocation() throws -> String? {
        if let viewerCatalog { return viewerCatalog }
        guard let config else { return nil }
        do {
            return try ConfigFile(path: config).viewerCatalog
        } catch let failure as ConfigFile.Failure {
            throw ValidationError(failure.description)
        }
    }

    /// Opens the catalog (it must exist unless `create`) and resolves the actor.
    func open(create: Bool = false) throws -> (CatalogStore, CatalogActor) {
        let location = try location()
        // An SQLite catalog elsewhere than --out is made where it is named; recordings' files are always under --out.
        if create, PostgresURL.isURL(location) || catalog == nil { try AtomicFile.makeDirectories(out) }
        // The viewer role only for a catalog user: the operator reads everything through the owner's connection.
        let store = try CatalogStore.open(location, folder: out, create: create, viewer: user == nil ? nil : try viewerLocation())
        return (store, try store.actor(named: user, login: operatorLogin()))
    }

    /// Opens the catalog (it must exist unless `create`) and runs `body` with
    /// it and the actor, reporting failures as `reportingCatalogErrors` does.
    func run(create: Bool = false, _ body: (CatalogStore, CatalogActor) throws -> Void) throws {
        try reportingCatalogErrors {
            let (store, actor) = try open(create: create)
            try body(store, actor)
        }
    }
}

/// The login of whoever runs callrec, as the audit log names them: `USER`,
/// else `LOGNAME`, else the password entry of the real uid, else `uid N`.
func operatorLogin() -> String {
    let env = ProcessInfo.processInfo.environment
    return env["USER"] ?? env["LOGNAME"] ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
}

/// The wall clock, for audit entries, retention and purge (never for media timing).
func wallClock() -> Double { Date().timeIntervalSince1970 }

/// Runs a catalog command: its failures (a refusal, a missing recording, a
/// database or file error) print one line and exit with status 1.
func reportingCatalogErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CatalogError {
        FileHandleOutput.standardError.write("callrec: \(error.message)\n")
        throw PartialFailure()
    } catch let error as OutputError {
        FileHandleOutput.standardError.write("callrec: \(error)\n")
        throw PartialFailure()
    } catch let error as SealingError {
        // A key file others may read, a damaged sealed file (naming the chunk), a key that does not open it.
        FileHandleOutput.standardError.write("callrec: \(error)\n")
        throw PartialFailure()
    } catch let error as ValidationError {
        throw error
    } catch is PartialFailure {
        throw PartialFailure()
    } catch {
        // Anything else the catalog's backend or the file system reports.
        FileHandleOutput.standardError.write("callrec: catalog: \(error)\n")
        throw PartialFailure()
    }
}

/// Parses the times the catalog commands take: `2026-11-29`,
/// `2026-11-29T08:15`, `2026-11-29T08:15:30`, each optionally with `Z` or an
/// offset (`+01:00`); without one, the time is read in `zone`.
enum CatalogTime {
    static func parse(_ text: String, zone: TimeZone, endOfDay: Bool = false) throws -> Double {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = calendar
        formatter.timeZone = zone
        for format in ["yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd'T'HH:mmXXXXX", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        }
        formatter.dateFormat = "yyyy-MM-dd"
        if let day = formatter.date(from: text) {
            // A date alone: its start, or for an upper bound its end (the next midnight).
            return endOfDay ? (calendar.date(byAdding: .day, value: 1, to: day) ?? day).timeIntervalSince1970 : day.timeIntervalSince1970
        }
        throw ValidationError("'\(text)' is not a date or time (2026-11-29, 2026-11-29T08:15, 2026-11-29T08:15:30Z)")
    }

    /// The zone named `name`, or a usage error.
    static func zone(_ name: String) throws -> TimeZone {
        guard let zone = TimeZone(identifier: name) else {
            throw ValidationError("'\(name)' is not a time zone (an IANA name such as Europe/Stockholm, or UTC)")
        }
        return zone
    }

}

/// JSON for scripts: sorted keys, no escaped slashes.
func catalogJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
}

/// Untrusted text (numbers, Call-IDs from captures) made safe for one line of a table.
func display(_ text: String?) -> String {
    text.map(RecordingNaming.safeForDisplay) ?? "?"
}
