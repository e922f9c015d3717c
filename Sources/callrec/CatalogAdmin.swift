import ArgumentParser
import CallMedia
import CallrecCore
import Catalog
import Commit
import Evidence
import Foundation
import Keyring
import Sealing

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

            Sealed files are checked as they are stored, without opening them (the catalog holds the \
            SHA-256 of each file on disk). A sealed recording found without a row is kept: with \
            --identity KEY (the compliance key) its index is opened and it is catalogued again. A \
            reseal a crash interrupted is settled by what is on disk.

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
              callrec catalog verify --chain-only \\
                  --checkpoints /var/log/callrec/calls.jsonl
              callrec catalog verify --out /srv/recordings --identity compliance.key
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
    @Option(name: .customLong("identity"), help: ArgumentHelp(
        "A key that opens sealed recordings (mode 0600; repeatable): sealed recordings without a row are catalogued again.",
        valueName: "file"))
    var identities: [String] = []

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
            let keys = try identities.flatMap { try X25519Identity.load(path: $0) }
            let report = try store.verify(
                dryRun: dryRun, importer: CatalogImport.importer(identities: keys), salvager: salvager, by: actor, at: wallClock())
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
            for id in report.sealedOrphansKept {
                out.write("sealed recording without row \(id): kept (catalog verify --identity KEY catalogues it)\n")
            }
            for p in report.resealsSettled { out.write("interrupted reseal \(p): \(verb)settled by what is on disk\n") }
            for (id, why) in report.damaged { out.write("damaged \(id): \(why)\n") }
            // The chains are checked after the repairs (which are audited), and said before the last line.
            let findings = try printEvidence(try evidence.verify())
            out.write("\(report.healthy) recording\(report.healthy == 1 ? "" : "s") healthy"
                + (report.checksumsRecorded > 0 ? ", \(report.checksumsRecorded) checksums recorded" : "")
                + (report.isClean ? ", nothing to repair" : "") + "\n")
            if report.elsewhere > 0 {
                out.write(
                    "\(report.elsewhere) recording\(report.elsewhere == 1 ? "" : "s") stored elsewhere (other recorders' --out) "
                        + "not checked here: this verify checks storage \(store.storage)\n")
            }
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
        discussion: """
            Admin only. Examples:
              callrec catalog audit --since 2026-11-01 --user alice
              callrec catalog audit --action hold --since 2026-11-01 --until 2026-11-30
            """
    )
    @OptionGroup var location: CatalogLocation
    @Option(help: ArgumentHelp("Only entries at or after this date/time (UTC unless Z or an offset).", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only entries before this date/time (a date alone: to the end of that day).", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("Only entries by this user (operator:<login> for the operator).", valueName: "name")) var user: String?
    @Option(help: ArgumentHelp("Only entries of this action (show, export, hold, delete, login, ...).", valueName: "action")) var action: String?
    @Option(help: ArgumentHelp("Only entries about this recording id (or 'number +46...', 'rule 3').", valueName: "target")) var target: String?
    @Option(help: ArgumentHelp("The newest this many entries.", valueName: "n")) var limit: Int = 1000
    @Flag(help: "Print a JSON array instead of the table.") var json = false

    func run() throws {
        let sinceEpoch = try since.map { try CatalogTime.parse($0, zone: CatalogTime.zone("UTC")) }
        let untilEpoch = try until.map { try CatalogTime.parse($0, zone: CatalogTime.zone("UTC"), endOfDay: true) }
        try location.run { store, actor in
            let entries = try store.auditLog(
                since: sinceEpoch, until: untilEpoch, actorName: user, action: action, target: target, limit: limit, by: actor, at: wallClock())
            if json {
                struct Line: Encodable {
                    var seq: Int64?, at: String, actor: String, action: String, target: String?, outcome: String, reason: String?, detail: String?
                    var recording_id: String?, redacted: Bool
                }
                FileHandleOutput.standardOutput.write(
                    catalogJSON(entries.map {
                        Line(seq: $0.seq, at: ISO8601Time.seconds($0.atEpoch), actor: $0.actor, action: $0.action, target: $0.target,
                             outcome: $0.outcome.rawValue, reason: $0.reason, detail: $0.detail, recording_id: $0.recordingID, redacted: $0.redacted)
                    }) + "\n")
                return
            }
            var text = ""
            for e in entries {
                text += "#\(String(e.seq ?? 0).padded(6)) \(ISO8601Time.seconds(e.atEpoch))  \(e.actor.padded(16))  \(e.action.padded(12))  \(e.outcome.rawValue.padded(7))  "
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
        abstract: "Catalog users, their roles, passwords and keys: agent (own numbers), supervisor (a team, or all), admin.",
        discussion: """
            Every user has a password and a personal key. The key is made when the user is added; the \
            catalog keeps its public half, which recordings are sealed to, and its private half sealed \
            to the user's password (age's scrypt recipient, 2^18: about a second per try). The password \
            is asked at the terminal without echo, or read from --password-file (first line; the file \
            must be readable by its owner only). It is the password serve asks at login.

            A supervisor also holds the key of their team, sealed to their personal key: a team's key \
            changes (a new generation, for the supervisors it has then) whenever its supervisors do.
            """,
        subcommands: [Add.self, Passwd.self, List.self, Disable.self, Enable.self, Remove.self]
    )

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user: they keep their key, numbers and audit trail but may not sign in or act (admin only).",
            discussion: """
                A disabled user's serve login and --as are refused (audited); serve ends their sessions on the \
                server whose users page disabled them (another serve process ends them at their expiry). \
                users enable lets them in again.

                Example: callrec catalog users disable alice --reason "left the company 2026-12-01"
                """
        )
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name.") var name: String
        @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String?

        func run() throws {
            try location.run { store, actor in
                try store.setDisabled(true, user: name, by: actor, reason: reason, at: wallClock())
                FileHandleOutput.standardOutput.write("user \(name) disabled\n")
            }
        }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again (admin only).")
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name.") var name: String
        @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String?

        func run() throws {
            try location.run { store, actor in
                try store.setDisabled(false, user: name, by: actor, reason: reason, at: wallClock())
                FileHandleOutput.standardOutput.write("user \(name) enabled\n")
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user with a password and a personal key, or change one's role, team or numbers (admin only).",
            discussion: """
                A new user's password is asked at the terminal (twice) or read from --password-file. \
                Changing an existing user keeps their key and password (change those with users passwd). \
                The user hears the calls committed from now on whose parties are their numbers (and, for \
                a supervisor, their team's); catalog reseal adds them to older recordings.

                Examples:
                  callrec catalog users add alice --role agent --team sales \\
                      --number +4681234567
                  callrec catalog users add bob --role supervisor --team sales \\
                      --password-file bob.pw
                  callrec catalog users add carol --role admin
                """
        )
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name (what --as takes).") var name: String
        @Option(help: "agent, supervisor or admin.") var role: String
        @Option(help: ArgumentHelp("The team (a supervisor with a team sees that team's numbers).", valueName: "team")) var team: String?
        @Option(help: ArgumentHelp("A number of the user's own: exact or prefix* (repeat for several).", valueName: "number")) var number: [String] = []
        @Option(name: .customLong("password-file"), help: ArgumentHelp(
            "Read the new user's password from this file (first line; mode 0600) instead of asking at the terminal.", valueName: "file"))
        var passwordFile: String?
        @Option(name: .customLong("work-factor"), help: .hidden) var workFactor: Int = UserKeys.defaultWorkFactor

        func validate() throws {
            guard (10...22).contains(workFactor) else { throw ValidationError("--work-factor must be 10 to 22") }
        }

        func run() throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role must be agent, supervisor or admin") }
            let numbers = try number.map { try NumberPattern.parse($0) }
            try location.run(create: true) { store, actor in
                let user = CatalogUser(name: name, role: role, team: team, numbers: numbers)
                var key: StoredUserKey? = nil
                if let existing = try store.user(named: name), existing.recipient != nil {
                    if passwordFile != nil {
                        throw CatalogError(.invalid, "user \(name) has a password and key already; change the password with: callrec catalog users passwd \(name)")
                    }
                } else {
                    key = try UserKeys.newKey(password: try PasswordInput.new(for: name, file: passwordFile), workFactor: workFactor)
                }
                let changes = try store.putUser(user, key: key, teamKeys: TeamKeys(), by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write(
                    "user \(name): \(role.rawValue)" + (key.map { ", personal key \($0.recipient)" } ?? "") + "\n")
                for change in changes { FileHandleOutput.standardOutput.write("\(change)\n") }
            }
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user's password: the same key, sealed to the new password.",
            discussion: """
                The current password opens the key (asked at the terminal, or --old-password-file), the new one \
                seals it again (asked twice, or --password-file); every recording the user could hear, they still \
                can. --reset (admin) gives a user who lost their password a new key instead: recordings sealed to \
                the old key open for them again only once catalog reseal adds the new one.

                Examples:
                  callrec catalog users passwd alice
                  callrec catalog users passwd alice --old-password-file old.pw \\
                      --password-file new.pw
                  callrec catalog users passwd alice --reset --password-file new.pw
                """
        )
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name.") var name: String
        @Option(name: .customLong("password-file"), help: ArgumentHelp("Read the new password from this file (mode 0600).", valueName: "file"))
        var passwordFile: String?
        @Option(name: .customLong("old-password-file"), help: ArgumentHelp("Read the current password from this file (mode 0600).", valueName: "file"))
        var oldPasswordFile: String?
        @Flag(help: "Give the user a new key and password without the old one (admin; the old key's recordings need catalog reseal).")
        var reset = false
        @Option(name: .customLong("work-factor"), help: .hidden) var workFactor: Int = UserKeys.defaultWorkFactor

        func validate() throws {
            guard (10...22).contains(workFactor) else { throw ValidationError("--work-factor must be 10 to 22") }
            if reset && oldPasswordFile != nil { throw ValidationError("--reset makes a new key: it takes no --old-password-file") }
        }

        func run() throws {
            try location.run { store, actor in
                guard let user = try store.user(named: name) else {
                    throw CatalogError(.notFound, "no user '\(name)' in the catalog (callrec catalog users list)")
                }
                if reset || user.recipient == nil {
                    let password = try PasswordInput.new(for: name, file: passwordFile)
                    let (key, changes) = try UserKeys.resetKey(name, password: password, workFactor: workFactor, catalog: store, by: actor, at: wallClock())
                    FileHandleOutput.standardOutput.write("user \(name): new personal key \(key.recipient) and password\n")
                    for change in changes { FileHandleOutput.standardOutput.write("\(change)\n") }
                    return
                }
                let old = try PasswordInput.existing(for: name, file: oldPasswordFile, what: "current password")
                let new = try PasswordInput.new(for: name, file: passwordFile)
                try UserKeys.changePassword(name, from: old, to: new, workFactor: workFactor, catalog: store, by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write("user \(name): password changed (same key)\n")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users, their keys, and the teams' keys.")
        @OptionGroup var location: CatalogLocation

        func run() throws {
            try location.run { store, _ in
                var text = ""
                for u in try store.users() {
                    text += "\(u.name.padded(16))  \(u.role.rawValue.padded(10))\(u.disabled ? "  DISABLED" : "")  team \((u.team ?? "-").padded(10))  numbers \((u.numbers.isEmpty ? "-" : u.numbers.map(\.text).joined(separator: " ")).padded(24))  key \(u.recipient ?? "none (users passwd --reset)")\n"
                }
                var holders: [String: [String]] = [:]
                for u in try store.users() {
                    for wrap in try store.teamKeyWraps(of: u.name) { holders["\(wrap.team) \(wrap.generation)", default: []].append(u.name) }
                }
                let current = try store.teamKeys().filter(\.isCurrent)
                if !current.isEmpty { text += "\nteam keys:\n" }
                for key in current {
                    let who = holders["\(key.team) \(key.generation)"] ?? []
                    text += "  \(key.display)  \(key.recipient)  held by \(who.isEmpty ? "nobody" : who.joined(separator: ", "))\n"
                }
                FileHandleOutput.standardOutput.write(text)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a user and their key (admin only).",
            discussion: "A team the user supervised gets a new key for the supervisors left. The user's recordings stay; compliance still opens them.")
        @OptionGroup var location: CatalogLocation
        @Argument(help: "The user name.") var name: String

        func run() throws {
            try location.run { store, actor in
                let changes = try store.removeUser(named: name, teamKeys: TeamKeys(), by: actor, at: wallClock())
                FileHandleOutput.standardOutput.write("user \(name) removed\n")
                for change in changes { FileHandleOutput.standardOutput.write("\(change)\n") }
            }
        }
    }
}

/// `callrec catalog reseal`.
struct CatalogReseal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reseal",
        abstract: "Add to older sealed recordings the users and teams they would be sealed to now.",
        discussion: """
            A recording is sealed, when it is committed, to the users whose numbers are its parties, their \
            teams and the compliance keys. A user added later hears the calls committed after; reseal gives \
            them the older ones: for each recording, the recipients it would have now and has not yet are \
            added to each sealed file's header. The payload stays as it is, byte for byte; each file is \
            replaced atomically, its new SHA-256 entered in the catalog, and the reseal audited. It needs a \
            key that opens the recordings: the compliance key (--identity), used here and not kept.

            A signed recording (every recording a recorder committed since manifests exist) names each \
            file's SHA-256 in its manifest, which a new header changes: reseal withdraws that manifest \
            (as resealed, its hash and place in the chain kept) and signs the next one with this \
            machine's recorder key (--signing-key, by default recorder.key in the catalog's folder), \
            naming the new files and the manifest it supersedes. catalog verify and evidence bundles \
            check the new one. Once the new manifest is signed the reseal is decided: if it is cut \
            short (a crash), catalog verify finishes it from the files it left.

            Examples:
              callrec catalog reseal 20261129T081530Z-3f9a1c2e --identity compliance.key
              callrec catalog find --number +4681234567 --json | jq -r '.[].id' \\
                  | xargs callrec catalog reseal --identity compliance.key
            """
    )
    @OptionGroup var location: CatalogLocation
    @Argument(help: "The recording ids.") var ids: [String]
    @Option(name: .customLong("identity"), help: ArgumentHelp("A key that opens the recordings (mode 0600; repeatable).", valueName: "file"))
    var identities: [String] = []
    @Option(help: ArgumentHelp("Why (written to the audit log).", valueName: "text")) var reason: String?
    @Option(
        name: .customLong("signing-key"),
        help: ArgumentHelp(
            "The recorder key that signs a signed recording's new manifest (default: recorder.key in the catalog's folder; mode 0600).",
            valueName: "file"))
    var signingKey: String?

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give at least one recording id") }
        if identities.isEmpty { throw ValidationError("give --identity KEY: a key that opens the recordings (the compliance key)") }
    }

    func run() throws {
        try location.run { store, actor in
            let keys = try identities.flatMap { try X25519Identity.load(path: $0) }
            // The recorder key of this machine signs the new manifests; without one, signed recordings are refused.
            let keyPath = signingKey ?? RecorderIdentity.defaultKeyPath(outputDirectory: store.folder)
            let signer: ManifestSigner? =
                signingKey != nil || FileManager.default.fileExists(atPath: keyPath)
                ? ManifestSigner(identity: try openingRecorder { try RecorderIdentity.open(keyPath: keyPath, outputDirectory: store.folder) })
                : nil
            var failures = 0
            for id in ids {
                do {
                    let outcome = try Reseal.reseal(
                        id: id, identities: keys, catalog: store, signer: signer, by: actor, reason: reason, at: wallClock())
                    if outcome.added.isEmpty {
                        FileHandleOutput.standardOutput.write("\(id): already sealed to everyone it should be\n")
                    } else {
                        FileHandleOutput.standardOutput.write(
                            "\(id): added \(outcome.added.map(\.description).joined(separator: ", ")) (\(outcome.files) file\(outcome.files == 1 ? "" : "s"), headers only)\n")
                    }
                } catch let error as CatalogError {
                    failures += 1
                    FileHandleOutput.standardError.write("callrec: \(error.message)\n")
                } catch let error as SealingError {
                    failures += 1
                    FileHandleOutput.standardError.write("callrec: \(error)\n")
                }
            }
            if failures > 0 { throw PartialFailure() }
        }
    }
}
