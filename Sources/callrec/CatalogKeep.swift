import ArgumentParser
import CallrecCore
import Catalog

/// `callrec catalog keep ID`.
struct CatalogKeep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep",
        abstract: "Keep a call an on-demand rule recorded: otherwise purge removes it once its time to be kept is past.",
        discussion: """
            A rule added with --on-demand 24h records its calls provisionally: each is kept only that long unless \
            someone who may see it keeps it (an agent their own calls), and catalog purge removes those nobody \
            kept. A kept call is retained for its rule's --retain (24 months by default) from the call's start. \
            Audited; a call not recorded on demand, or kept already, is refused.

            Example: callrec catalog keep 20261129T081530Z-3f9a1c2e --as alice
            """
    )
    @OptionGroup var location: CatalogLocation
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String?

    func run() throws {
        try location.run { store, actor in
            let kept = try store.keep(id: id, by: actor, reason: reason, at: wallClock())
            FileHandleOutput.standardOutput.write("\(id): kept, retained until \(ISO8601Time.seconds(kept.retainUntilEpoch))\n")
        }
    }
}

/// `callrec catalog discard ID --reason`.
struct CatalogDiscard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discard",
        abstract: "Delete a recording of one's own that no rule requires and no hold protects (any role, within what they may see).",
        discussion: """
            The employee's own say: an agent may delete a call of their own numbers unless a legal hold protects it \
            or a rule added with --require recorded it (both refuse, audited). Its files and row go, as with \
            catalog delete. Audited with the reason.

            Example: callrec catalog discard 20261129T081530Z-3f9a1c2e --as alice --reason "a private call"
            """
    )
    @OptionGroup var location: CatalogLocation
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String

    func run() throws {
        try location.run { store, actor in
            try printErasure(try store.discard(id: id, by: actor, reason: reason, at: wallClock()), verb: "deleted")
        }
    }
}
