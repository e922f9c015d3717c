import ArgumentParser
import CallMedia
import Commit
import Catalog
import Evidence
import Foundation

/// `callrec catalog verify`.
struct CatalogVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check files, signatures and the audit chain; repair what a crash left.",
        discussion: """
            Reads every catalogued file and compares its SHA-256, then repairs: the recording of a \
            call that was in flight when a recorder or convert died is salvaged (its Ogg Opus audio \
            closed at its last complete page, its index and peaks rebuilt from the audio and its tags, \
            committed with end_reason crashed); other temporary files no commit finished are removed; \
            an interrupted commit is completed when all its files are \
            complete, else rolled back; an interrupted deletion is finished; a row whose files are all \
            gone is removed; a complete recording on disk without a row is catalogued from its index, \
            incomplete ones removed; a file whose SHA-256 differs marks its recording damaged (kept, \
            never exported). Admin only; repairs are audited. Exit status 1 when damage remains. \
            It waits for no one: while a convert writes to the catalog, verify refuses to start.

            Then it checks the evidence, without reading files again: the audit log entry by entry \
            (an entry edited, inserted, removed or moved, even with the triggers dropped: each names \
            its place, audit #N), every recorder's chain of signed manifests (a manifest missing, \
            altered, or not signed by its recorder's key; a recording gone without an erasure; a \
            recording without a manifest; a recording whose catalogued files differ from what was \
            signed), and every signed checkpoint against both chains. Give the checkpoints record \
            printed (its JSON lines, or the journal) with --checkpoints: a catalog rewritten since, \
            hashes and all, no longer matches them. Exit status 1 when anything is found.

            Examples:
              callrec catalog verify --out /srv/recordings
              callrec catalog verify --chain-only --checkpoints /var/log/callrec/calls.jsonl
            """
    )
    @OptionGroup var location: CatalogLocation
    @Flag(help: "Only report; change nothing.") var dryRun = false
    @Flag(help: "Check the chains and signatures only: read no recording's files, repair nothing.") var chainOnly = false
    @Option(
        help: ArgumentHelp(
            "A file with checkpoints kept outside the catalog: record's JSON lines, or its standard error (the journal).",
            valueName: "file"))
    var checkpoints: [String] = []
    @Option(
        help: ArgumentHelp(
            "The key that signs the manifest of a recording salvaged after a crash (default: the folder's recorder.key, "
                + "made if there is none).", valueName: "file"))
    var signingKey: String?

    func run() throws {
        let outside = try checkpoints.flatMap { path -> [Checkpoint.Copy] in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("--checkpoints \(path): cannot read it")
            }
            let found = Checkpoint.copies(in: text)
            if found.isEmpty { throw ValidationError("--checkpoints \(path): no checkpoint in it (record prints them among its JSON lines)") }
            return found
        }
        try location.run { store, actor in
            let evidence = EvidenceVerifier(catalog: store, outsideCheckpoints: outside)
            if chainOnly {
                let findings = try printEvidence(try evidence.verify())
                if findings > 0 { throw PartialFailure() }
                return
            }
            // A recording salvaged from what a crash left is signed by the folder's recorder,
            // whose key is opened (and registered) only when there is one to sign.
            var signer: ManifestSigner? = nil
            let keyPath = signingKey
            let salvager: PartialSalvager = { files, catalog in
                if signer == nil {
                    let identity = try RecorderIdentity.open(keyPath: keyPath, outputDirectory: catalog.folder)
                    try identity.register(in: catalog, label: RecorderIdentity.label(outputDirectory: catalog.folder), by: actor, at: wallClock())
                    signer = ManifestSigner(identity: identity)
                }
                return try RecordingSalvage(signer: signer).salvage(files, into: catalog)
            }
            let report = try store.verify(dryRun: dryRun, importer: CatalogImport.recording, salvager: salvager, by: actor, at: wallClock())
            let out = FileHandleOutput.standardOutput
            let verb = dryRun ? "would " : ""
            for (id, detail) in report.salvaged { out.write("recording cut by a crash \(id): salvaged, \(detail)\n") }
            for p in report.temporaryFilesRemoved { out.write("temporary file \(p): \(verb)removed\n") }
            for id in report.pendingCompleted { out.write("interrupted commit \(id): \(verb)completed (files and row)\n") }
            for id in report.pendingRolledBack { out.write("interrupted commit \(id): \(verb)rolled back (a file was missing or incomplete)\n") }
            for id in report.deletionsFinished { out.write("interrupted deletion \(id): \(verb)finished\n") }
            for id in report.rowsWithoutFiles { out.write("row without files \(id): \(verb)removed\n") }
            for id in report.orphansCatalogued { out.write("recording without row \(id): \(verb)catalogued from its index\n") }
            for p in report.orphanFilesRemoved { out.write("file without row \(p): \(verb)removed\n") }
            for (id, why) in report.damaged { out.write("damaged \(id): \(why)\n") }
            // The chains are checked after the repairs (which are audited), and said before the last line.
            let findings = try printEvidence(try evidence.verify())
            out.write("\(report.healthy) recording\(report.healthy == 1 ? "" : "s") healthy"
                + (report.checksumsRecorded > 0 ? ", \(report.checksumsRecorded) checksums recorded" : "")
                + (report.isClean ? ", nothing to repair" : "") + "\n")
            if !report.damaged.isEmpty || findings > 0 { throw PartialFailure() }
        }
    }

    /// Prints what the evidence check found; returns how many problems.
    private func printEvidence(_ report: EvidenceReport) throws -> Int {
        let out = FileHandleOutput.standardOutput
        for finding in report.findings { out.write("evidence: \(display(finding.subject)): \(display(finding.message))\n") }
        out.write(
            "evidence: \(report.auditEntries) audit entr\(report.auditEntries == 1 ? "y" : "ies") chained, \(report.manifests) manifest\(report.manifests == 1 ? "" : "s") "
                + "of \(report.recorders) recorder\(report.recorders == 1 ? "" : "s") (\(report.signaturesChecked) signature\(report.signaturesChecked == 1 ? "" : "s") checked), "
                + "\(report.checkpoints) checkpoint\(report.checkpoints == 1 ? "" : "s")"
                + (report.outsideCheckpoints > 0 ? " and \(report.outsideCheckpoints) kept outside" : "")
                + (report.unsignedRecordings > 0 ? ", \(report.unsignedRecordings) recording\(report.unsignedRecordings == 1 ? "" : "s") from before signing" : "")
                + (report.isClean ? ": intact" : ": \(report.findings.count) problem\(report.findings.count == 1 ? "" : "s")") + "\n")
        return report.findings.count
    }
}

/// `callrec catalog audit`.
struct CatalogAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List the audit log: who did what to which recording, when, why, and whether it was refused.",
        discussion: "Admin only. Example: callrec catalog audit --since 2026-11-01 --user alice"
    )
    @OptionGroup var location: CatalogLocation
    @Option(help: ArgumentHelp("Only entries at or after this date/time (UTC unless Z or an offset).", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only entries by this user (operator:<login> for the operator).", valueName: "name")) var user: String?
    @Option(help: ArgumentHelp("Only entries about this recording id (or 'number +46...', 'rule 3').", valueName: "target")) var target: String?
    @Option(help: ArgumentHelp("The newest this many entries.", valueName: "n")) var limit: Int = 1000
    @Flag(help: "Print a JSON array instead of the table.") var json = false

    func run() throws {
        let sinceEpoch = try since.map { try CatalogTime.parse($0, zone: CatalogTime.zone("UTC")) }
        try location.run { store, actor in
            let entries = try store.auditLog(since: sinceEpoch, actorName: user, target: target, limit: limit, by: actor, at: wallClock())
            if json {
                struct Line: Encodable {
                    var seq: Int64?, at: String, actor: String, action: String, target: String?, outcome: String, reason: String?, detail: String?
                    var recording_id: String?, redacted: Bool
                }
                FileHandleOutput.standardOutput.write(
                    catalogJSON(entries.map {
                        Line(seq: $0.seq, at: CatalogTime.iso($0.atEpoch), actor: $0.actor, action: $0.action, target: $0.target,
                             outcome: $0.outcome.rawValue, reason: $0.reason, detail: $0.detail, recording_id: $0.recordingID, redacted: $0.redacted)
                    }) + "\n")
                return
            }
            var text = ""
            for e in entries {
                text += "#\(String(e.seq ?? 0).padded(6)) \(CatalogTime.iso(e.atEpoch))  \(e.actor.padded(16))  \(e.action.padded(12))  \(e.outcome.rawValue.padded(7))  "
                    + (e.redacted ? "\(e.recordingID ?? "-") [target, reason and detail erased]" : display(e.target ?? "-"))
                if let reason = e.reason { text += "  why: \(display(reason))" }
                if let detail = e.detail { text += "  (\(display(detail)))" }
                text += "\n"
            }
            FileHandleOutput.standardOutput.write(text + "\(entries.count) entr\(entries.count == 1 ? "y" : "ies")\n")
        }
    }
}

/// `callrec catalog users`.
struct CatalogUsers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Catalog users and their roles: agent (own numbers), supervisor (a team, or all), admin.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user, or replace one of the same name (admin only).",
            discussion: """
                Examples:
                  callrec catalog users add alice --role agent --team sales --number +4681234567
                  callrec catalog users add bob --role supervisor --team sales
                  callrec catalog users add carol --role admin
                """
        )
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name (what --as takes).") var name: String
        @Option(help: "agent, supervisor or admin.") var role: String
        @Option(help: ArgumentHelp("The team (a supervisor with a team sees that team's numbers).", valueName: "team")) var team: String?
        @Option(help: ArgumentHelp("A number of the user's own: exact or prefix* (repeat for several).", valueName: "number")) var number: [String] = []

        func run() throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role must be agent, supervisor or admin") }
            let numbers = try number.map { try NumberPattern.parse($0) }
            try location.run(create: true) { store, actor in
                try store.putUser(CatalogUser(name: name, role: role, team: team, numbers: numbers), by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write("user \(name): \(role.rawValue)\n")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users.")
        @OptionGroup var location: CatalogLocation

        func run() throws {
            try location.run { store, _ in
                var text = ""
                for u in try store.users() {
                    text += "\(u.name.padded(16))  \(u.role.rawValue.padded(10))  team \((u.team ?? "-").padded(10))  numbers \(u.numbers.isEmpty ? "-" : u.numbers.map(\.text).joined(separator: " "))\n"
                }
                FileHandleOutput.standardOutput.write(text)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user (admin only).")
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name.") var name: String

        func run() throws {
            try location.run { store, actor in
                try store.removeUser(named: name, by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write("user \(name) removed\n")
            }
        }
    }
}
