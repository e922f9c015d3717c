import ArgumentParser
import Catalog

/// Prints what an erasure did: erased, kept (and why), failed; any failure
/// makes the command exit with status 1.
func printErasure(_ report: ErasureReport, verb: String) throws {
    let out = FileHandleOutput.standardOutput
    for id in report.erased { out.write("\(verb) \(id)\n") }
    for (id, why) in report.kept { out.write("kept \(id): \(why)\n") }
    for (id, why) in report.failed { FileHandleOutput.standardError.write("callrec: \(id): \(why) (catalog verify finishes it)\n") }
    out.write("\(report.erased.count) \(verb), \(report.kept.count) kept under legal hold\n")
    if !report.failed.isEmpty { throw PartialFailure() }
}

/// `callrec catalog delete ID`.
struct CatalogDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete one recording: its files and its row (supervisor or admin; not under legal hold).",
        discussion: "Audited. Example: callrec catalog delete 20261129T081530Z-3f9a1c2e --reason \"recorded by mistake\""
    )
    @OptionGroup var location: CatalogLocation
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String

    func run() throws {
        try location.run { store, actor in
            let report = try store.delete(id: id, by: actor, reason: reason, at: wallClock())
            try printErasure(report, verb: "deleted")
        }
    }
}

/// `callrec catalog forget --number N`.
struct CatalogForget: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Erase every recording of one party (right to erasure), except those under legal hold.",
        discussion: """
            Removes the files and rows of every recording in which the number is caller or callee, \
            and reports each recording kept and why. Admin only; audited.

            Example: callrec catalog forget --number +46701234567 --reason "erasure request 2026-118"
            """
    )
    @OptionGroup var location: CatalogLocation
    @Option(help: ArgumentHelp("The party's number, exactly as catalogued.", valueName: "number")) var number: String
    @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String

    func run() throws {
        try location.run { store, actor in
            let report = try store.forget(number: try NumberPattern.parse(number), by: actor, reason: reason, at: wallClock())
            try printErasure(report, verb: "erased")
        }
    }
}

/// `callrec catalog purge`.
struct CatalogPurge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Remove every recording past its retention (24 months unless its rule says otherwise), except held ones.",
        discussion: "Admin only; audited. Run it daily (cron, a systemd timer). Example: callrec catalog purge --dry-run"
    )
    @OptionGroup var location: CatalogLocation
    @Flag(help: "Only list what would be removed.") var dryRun = false
    @Option(help: ArgumentHelp("Why (written to the audit log; default: retention ended).", valueName: "text")) var reason: String?

    func run() throws {
        try location.run { store, actor in
            let report = try store.purge(by: actor, reason: reason, at: wallClock(), dryRun: dryRun)
            try printErasure(report, verb: dryRun ? "would purge" : "purged")
        }
    }
}

/// `callrec catalog hold ID --reason`.
struct CatalogHold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Put a recording under legal hold: no purge, deletion or erasure removes it until released.",
        discussion: "Admin only; audited. Example: callrec catalog hold 20261129T081530Z-3f9a1c2e --reason \"case 2026-17\""
    )
    @OptionGroup var location: CatalogLocation
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Why (the case or matter).", valueName: "text")) var reason: String

    func run() throws {
        try location.run { store, actor in
            try store.hold(id: id, reason: reason, by: actor, at: wallClock())
            FileHandleOutput.standardOutput.write("\(id) is under legal hold: \(reason)\n")
        }
    }
}

/// `callrec catalog release ID --reason`.
struct CatalogRelease: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Lift a legal hold (retention and erasure apply again).",
        discussion: "Admin only; audited. Example: callrec catalog release 20261129T081530Z-3f9a1c2e --reason \"case closed\""
    )
    @OptionGroup var location: CatalogLocation
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Why.", valueName: "text")) var reason: String

    func run() throws {
        try location.run { store, actor in
            try store.release(id: id, reason: reason, by: actor, at: wallClock())
            FileHandleOutput.standardOutput.write("\(id): legal hold released\n")
        }
    }
}
