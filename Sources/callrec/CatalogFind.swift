import CallrecCore
import ArgumentParser
import Catalog
import Evidence
import Foundation
import Keyring
import Output
import Sealing

/// `callrec catalog find`.
struct CatalogFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "find",
        abstract: "List the recordings that match every filter given, newest first.",
        discussion: """
            Numbers: exact (+4681234567), a prefix ('+46812*'), or a pattern with * and ? \
            ('+46*1?34'). Quote patterns so the shell leaves them alone. Dates are read in --tz \
            (default UTC) unless they carry Z or an offset; --to with a date alone includes that day.

            Talk time, DTMF and silence come from speech and DTMF detection in the call index; \
            recordings whose index lacks them never match those filters.

            Examples:
              callrec catalog find --number +4681234567
              callrec catalog find --caller '+46812*' --direction inbound \\
                  --from 2026-11-01 --to 2026-11-30
              callrec catalog find --min-duration 60 --dtmf --json
              callrec catalog find --as alice            (alice's own calls only)
            """
    )

    @OptionGroup var location: CatalogLocation

    @Option(help: ArgumentHelp("Either party's number: exact, prefix* or pattern.", valueName: "number"))
    var number: String?
    @Option(help: ArgumentHelp("The caller's number: exact, prefix* or pattern.", valueName: "number"))
    var caller: String?
    @Option(help: ArgumentHelp("The callee's number: exact, prefix* or pattern.", valueName: "number"))
    var callee: String?
    @Option(name: .customLong("call-id"), help: ArgumentHelp("The SIP Call-ID, exactly.", valueName: "id"))
    var callID: String?
    @Option(help: ArgumentHelp("Started at or after this date/time.", valueName: "time"))
    var from: String?
    @Option(help: ArgumentHelp("Started before this date/time (a date alone: up to its end).", valueName: "time"))
    var to: String?
    @Option(help: ArgumentHelp("The zone dates without Z or offset are read in.", valueName: "zone"))
    var tz: String = "UTC"
    @Option(help: ArgumentHelp("inbound, outbound, internal or unknown.", valueName: "direction"))
    var direction: String?
    @Option(help: ArgumentHelp("At least this long, seconds.", valueName: "s"))
    var minDuration: Double?
    @Option(help: ArgumentHelp("At most this long, seconds.", valueName: "s"))
    var maxDuration: Double?
    @Option(help: ArgumentHelp("Both parties together spoke at least this long, seconds.", valueName: "s"))
    var minTalk: Double?
    @Option(help: ArgumentHelp("Both parties together spoke at most this long, seconds.", valueName: "s"))
    var maxTalk: Double?
    @Flag(inversion: .prefixedNo, help: "Only calls with (--dtmf) or without (--no-dtmf) DTMF digits.")
    var dtmf: Bool?
    @Option(help: ArgumentHelp("Nobody spoke for at least this share of the call, 0 to 1.", valueName: "share"))
    var minSilence: Double?
    @Option(help: ArgumentHelp("Nobody spoke for at most this share of the call, 0 to 1.", valueName: "share"))
    var maxSilence: Double?
    @Option(help: ArgumentHelp("Tagged with this tag (serve's call page sets tags).", valueName: "tag"))
    var tag: String?
    @Option(help: ArgumentHelp("A note on the call contains this text.", valueName: "text"))
    var note: String?
    @Flag(help: "Only recordings under legal hold.")
    var held = false
    @Option(help: ArgumentHelp("At most this many recordings.", valueName: "n"))
    var limit: Int = 100
    @Flag(help: "Print a JSON array of recordings instead of the table.")
    var json = false

    func validate() throws {
        if let direction, CallDirection(rawValue: direction) == nil {
            throw ValidationError("--direction must be inbound, outbound, internal or unknown")
        }
        if limit < 1 || limit > 1_000_000 { throw ValidationError("--limit must be between 1 and 1000000") }
        for share in [minSilence, maxSilence].compactMap({ $0 }) where !(0...1).contains(share) {
            throw ValidationError("--min-silence and --max-silence are shares from 0 to 1")
        }
    }

    func query() throws -> RecordingQuery {
        let zone = try CatalogTime.zone(tz)
        var query = RecordingQuery(limit: limit)
        func pattern(_ text: String?, _ option: String) throws -> NumberPattern? {
            guard let text else { return nil }
            guard let p = NumberPattern(text) else { throw ValidationError("\(option) '\(text)' is not a number pattern") }
            return p
        }
        query.number = try pattern(number, "--number")
        query.caller = try pattern(caller, "--caller")
        query.callee = try pattern(callee, "--callee")
        query.callID = callID
        query.from = try from.map { try CatalogTime.parse($0, zone: zone) }
        query.to = try to.map { try CatalogTime.parse($0, zone: zone, endOfDay: true) }
        query.direction = direction.flatMap(CallDirection.init(rawValue:))
        query.minDuration = minDuration
        query.maxDuration = maxDuration
        query.minTalk = minTalk
        query.maxTalk = maxTalk
        query.dtmf = dtmf
        query.minSilence = minSilence
        query.maxSilence = maxSilence
        query.held = held ? true : nil
        if let tag {
            guard let normalized = CatalogStore.normalizedTag(tag) else { throw ValidationError("--tag '\(tag)' is not a tag (letters, digits, - _ . :)") }
            query.tag = normalized
        }
        query.noteText = note
        return query
    }

    func run() throws {
        let query = try query()
        try location.run { store, actor in
            let result = try store.find(query, by: actor, at: wallClock())
            let out = FileHandleOutput.standardOutput
            if json {
                out.write(catalogJSON(result.recordings.map { RecordingJSON($0, store: store) }) + "\n")
            } else {
                out.write(Self.table(result.recordings, store: store))
                out.write("\(result.recordings.count) recording\(result.recordings.count == 1 ? "" : "s")"
                    + (result.recordings.count == limit ? " (the first \(limit); --limit shows more)" : "") + "\n")
            }
            if result.withheld > 0 {
                FileHandleOutput.standardError.write(
                    "callrec: refused: \(result.withheld) more matching recording\(result.withheld == 1 ? " is not a call" : "s are not calls") \(actor.display) may see (audited)\n")
            }
        }
    }

    static func table(_ recordings: [CatalogRecording], store: CatalogStore) -> String {
        var text = "ID                         START (UTC)           LENGTH  DIRECTION  CALLER -> CALLEE                PATH\n"
        for r in recordings {
            let length = String(format: "%7.1fs", r.durationS)
            let parties = "\(display(r.caller)) -> \(display(r.callee))"
            let flags = (r.isHeld ? " [hold]" : "") + (r.damaged ? " [damaged]" : "") + (r.mediaEncrypted ? " [part encrypted]" : "")
            text += "\(r.id)  \(String(r.start.prefix(19)).replacingOccurrences(of: "T", with: " "))  \(length)  \(r.direction.padded(9))  \(parties.padded(30))  \(store.filePath(r.audioPath, storage: r.storage))\(flags)\n"
        }
        return text
    }
}

/// `callrec catalog show ID`.
struct CatalogShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one recording: parties, times, files, checksums, statistics, retention, hold, who it is sealed to.",
        discussion: """
            Audited (who, when, --reason). With --as USER, callrec asks USER's password at the terminal \
            (or reads --password-file) and opens the recording with USER's keys: a sealed recording's \
            DTMF digits are shown only then, or with --identity KEY (the compliance key). A wrong password \
            is refused, and the refusal audited.

            Example: callrec catalog show 20261129T081530Z-3f9a1c2e --as bob --reason "QA review"
            """
    )

    @OptionGroup var location: CatalogLocation
    @OptionGroup var keyOptions: KeyOptions
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Why you look at it (written to the audit log).", valueName: "text")) var reason: String?
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        try location.run { store, actor in
            let now = wallClock()
            // Whether the user may see it at all first: a refusal needs no password.
            let r = try store.authorizedRecording(id: id, action: "show", by: actor, reason: reason, at: now)
            let files = try store.files(of: id, by: actor)
            // Checked against the catalog and the signed manifest before anything of it is shown.
            try store.refuseUnlessIntact(r, action: "show", problems: try integrityCheck(store)(r, files), by: actor, reason: reason, at: now)
            let sealed = files.first?.isSealed ?? false
            let keys = try keyOptions.keys(for: actor, catalog: store, action: "show", target: id, reason: reason, at: now, needed: sealed)
            // The digits: from the index, when it can be read (in the clear, or opened with the keys given).
            var index: CallIndex? = nil
            if !sealed || keys != nil {
                let opened = try RecordingAccess.open(
                    id: id, keys: keys ?? .none, actor: actor, catalog: store, action: "show", reason: reason, at: now)
                index = try? opened.index()
            }
            try store.audit("show", target: id, outcome: .done, by: actor, at: now, reason: reason, detail: keys.map { "opened with \($0.owner)" })
            let directory = try store.keyDirectory()
            let sealedTo = files.first?.sealedTo.map { directory.describe($0) }
            if json {
                var line = RecordingJSON(r, store: store)
                line.sealed_to = files.first?.sealedTo.map { recipients in recipients.map { directory.holder(of: $0)?.description ?? $0 } }
                line.dtmf = index?.dtmf
                FileHandleOutput.standardOutput.write(catalogJSON(line) + "\n")
                return
            }
            func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "-" }
            var lines = [
                "id           \(r.id)",
                "call-id      \(display(r.callID))",
                "caller       \(display(r.caller))",
                "callee       \(display(r.callee))",
                "direction    \(r.direction)",
                "start        \(r.start)",
                "duration     \(r.durationS) s",
                "codecs       \(r.codecs) at \(opt(r.sampleRate)) Hz",
                "end          \(r.endReason)",
                "packets      caller \(opt(r.callerPackets)) (lost \(opt(r.callerLost)), jitter \(opt(r.callerJitterMs)) ms), callee \(opt(r.calleePackets)) (lost \(opt(r.calleeLost)), jitter \(opt(r.calleeJitterMs)) ms)",
                "talk time    caller \(opt(r.callerTalkS)) s, callee \(opt(r.calleeTalkS)) s, overtalk \(opt(r.overtalkS)) s",
                "dtmf         \(Self.dtmf(count: r.dtmfCount, times: r.dtmfTimes, index: index, sealed: sealed)), silence share \(opt(r.silenceShare))",
                "rule         \(r.ruleID.map { "rule \($0)" } ?? "no rule matched (recorded by default)")",
                "retain until \(ISO8601Time.seconds(r.retainUntilEpoch))",
                "legal hold   \(r.holdReason.map { "\($0) (by \(r.holdBy ?? "?") at \(ISO8601Time.seconds(r.holdAtEpoch ?? 0)))" } ?? "none")",
                "sealed to    \(sealedTo.map { $0.isEmpty ? "sealed (recipients not known)" : $0 } ?? "not sealed (in the clear)")",
            ]
            if r.damaged { lines.append("DAMAGED      a file is missing or its SHA-256 differs (catalog verify)") }
            if r.mediaEncrypted { lines.append("ENCRYPTED    part of the call's media was encrypted: only the audio sent in clear is recorded") }
            if !r.storage.isEmpty { lines.append("storage      \(r.storage)") }
            if let manifest = try store.manifest(of: r.id) {
                lines.append("signed       manifest #\(manifest.sequence) of recorder \(manifest.recorderID), sha256 \(manifest.sha256); files and signature checked")
            } else {
                lines.append("signed       no: catalogued before recorders signed manifests (files checked against the catalog)")
            }
            for f in files {
                lines.append("file         \(store.filePath(f.path, storage: r.storage))  \(f.bytes) bytes  sha256 \(f.sha256 ?? "-")")
            }
            FileHandleOutput.standardOutput.write(lines.joined(separator: "\n") + "\n")
        }
    }

    /// `3 digits: 4 at 12.34 s (caller), ...`, or their times alone when the digits are sealed.
    static func dtmf(count: Int?, times: String?, index: CallIndex?, sealed: Bool) -> String {
        guard let count else { return "-" }
        let speakers = ["caller", "callee"]
        if let index {
            let listed = index.dtmf.map { "\($0.digit ?? "?") at \($0.atS) s (\(speakers[min(1, max(0, $0.channel))]))" }
            return "\(count) digit\(count == 1 ? "" : "s")" + (listed.isEmpty ? "" : ": " + listed.joined(separator: ", "))
        }
        let at = DTMFTimes.parse(times).map { "\($0.atS) s (\(speakers[min(1, max(0, $0.channel))]))" }
        return "\(count) digit\(count == 1 ? "" : "s")" + (at.isEmpty ? "" : " at " + at.joined(separator: ", "))
            + (sealed && count > 0 ? " (the digits are sealed: --as USER or --identity KEY shows them)" : "")
    }
}

/// The catalog's `dtmf_times`: `[[channel, at_s, duration_s], ...]`.
enum DTMFTimes {
    static func parse(_ text: String?) -> [(channel: Int, atS: Double, durationS: Double)] {
        guard let text, let data = text.data(using: .utf8), let rows = try? JSONSerialization.jsonObject(with: data) as? [[Double]] else {
            return []
        }
        return rows.compactMap { $0.count == 3 ? (Int($0[0]), $0[1], $0[2]) : nil }
    }
}

/// `callrec catalog export ID --to PATH` and `--evidence FILE.zip`.
struct CatalogExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Copy one recording out of the archive (Ogg Opus or WAV), or export it as evidence (a signed zip).",
        discussion: """
            The recording is checked first: every file against the catalogued SHA-256, the catalog's files \
            against the recording's signed manifest, the manifest's signature against its recorder's key. A \
            recording that fails is not exported; the refusal is audited. \
            WAV is 16-bit PCM at 48 kHz (what an Opus decoder yields), channel 0 the caller, 1 the callee. \
            The format follows the extension of --to unless --format says otherwise. Audited.

            --evidence FILE.zip writes an evidence bundle (needs --reason): the recording as stored and \
            decoded to WAV, its call index and peaks, its manifest and signature, the recorder's public key, \
            the audit entries about it with the chain links that check them, a checkpoint and the bundle's \
            SHA256SUMS signed with the recorder's key (OUT/recorder.key, or --signing-key), and a VERIFY.txt \
            that says how to check all of it with sha256sum and openssl on any machine; callrec \
            verify-evidence checks it too.

            A sealed recording is opened with the keys of the --as user (whose password callrec asks \
            at the terminal, or reads from --password-file) or with --identity KEY, and decrypted as it is \
            copied or decoded: its plaintext is never on disk but at --to. A recording those keys do not \
            open is refused, and the refusal audited. An evidence bundle of a sealed recording is decoded \
            with --identity (a key it was sealed to).

            Examples:
              callrec catalog export 20261129T081530Z-3f9a1c2e --to /tmp/call.opus
              callrec catalog export 20261129T081530Z-3f9a1c2e --to /tmp/call.wav \\
                  --reason "dispute 4711"
              callrec catalog export 20261129T081530Z-3f9a1c2e \\
                  --evidence dispute-4711.zip --reason "dispute 4711"
              callrec catalog export 20261129T081530Z-3f9a1c2e --to call.wav --as alice \\
                  --password-file ~/.callrec-password
              callrec catalog export 20261129T081530Z-3f9a1c2e --to call.opus \\
                  --identity compliance.key
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case opus, wav }

    @OptionGroup var location: CatalogLocation
    @OptionGroup var keyOptions: KeyOptions
    @Argument(help: "The recording id.") var id: String
    @Option(help: ArgumentHelp("Where to write the copy.", valueName: "path")) var to: String?
    @Option(help: ArgumentHelp("Write an evidence bundle (a zip file) here instead.", valueName: "file.zip")) var evidence: String?
    @Option(help: "opus (the file as recorded) or wav (decoded). Default: from the extension of --to.") var format: Format?
    @Option(help: ArgumentHelp("Why it leaves the archive (written to the audit log; required with --evidence).", valueName: "text")) var reason: String?
    @Option(help: ArgumentHelp("Evidence: the recorder key that signs the bundle (default OUT/recorder.key).", valueName: "file")) var signingKey: String?

    func validate() throws {
        if (to == nil) == (evidence == nil) { throw ValidationError("give --to PATH (a copy) or --evidence FILE.zip (an evidence bundle)") }
        if evidence != nil && (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--evidence needs --reason: why the recording is exported as evidence is written to the audit log")
        }
    }

    func run() throws {
        if let evidence { return try exportEvidence(to: evidence) }
        let to = self.to!
        let chosen = format ?? (to.lowercased().hasSuffix(".wav") ? .wav : .opus)
        try location.run { store, actor in
            let now = wallClock()
            let r = try store.authorizedRecording(id: id, action: "export", by: actor, reason: reason, at: now)
            guard store.isLocal(storage: r.storage) else {
                throw CatalogError(
                    .notFound, "recording \(id) is stored on another machine (storage \(r.storage)); export it there, with --out that folder")
            }
            let files = try store.files(of: id, by: actor)
            try store.refuseUnlessIntact(r, action: "export", problems: try integrityCheck(store)(r, files), by: actor, reason: reason, at: now)
            let source = store.filePath(r.audioPath, storage: r.storage)
            let sealed = files.first?.isSealed ?? false
            let keys = try keyOptions.keys(for: actor, catalog: store, action: "export", target: id, reason: reason, at: now, needed: sealed)
            if sealed && keys == nil {
                try store.refuse(
                    actor, action: "export", target: id, reason: reason, at: now,
                    because: "it is sealed, and no key was given to open it (--as USER with their password, or --identity KEY)")
            }
            let opened = try RecordingAccess.open(id: id, keys: keys ?? .none, actor: actor, catalog: store, action: "export", reason: reason, at: now)
            let audio = try opened.audio()
            switch chosen {
            case .opus:
                let file = try AtomicFile(path: to)
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                var offset: Int64 = 0
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try audio.read(into: $0, at: offset) }
                    if n == 0 { break }
                    try buffer.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                    offset += Int64(n)
                }
                try file.commit()
            case .wav:
                _ = try OpusToWAV.convert(source: audio, name: source, wavPath: to)
            }
            try store.audit(
                "export", target: id, outcome: .done, by: actor, at: now, reason: reason,
                detail: "to \(to) as \(chosen.rawValue)" + (sealed ? ", opened with \(keys!.owner)" : ""))
            FileHandleOutput.standardOutput.write("exported \(id) to \(to) (\(chosen.rawValue))\n")
        }
    }

    private func exportEvidence(to path: String) throws {
        try location.run { store, actor in
            let exporter = try openingRecorder { try RecorderIdentity.open(keyPath: signingKey ?? RecorderIdentity.defaultKeyPath(outputDirectory: store.folder), outputDirectory: store.folder) }
            let identities: [any AgeIdentity] = try openingRecorder { try keyOptions.identities.flatMap { try X25519Identity.load(path: $0) } }
            let result = try EvidenceBundle.export(
                recording: id, to: path, catalog: store, exporter: exporter, identities: identities, by: actor, reason: reason ?? "",
                at: wallClock())
            FileHandleOutput.standardOutput.write(
                "exported \(id) as evidence to \(path): \(result.files.count) files, audit entries #\(result.auditRange.lowerBound) to "
                    + "#\(result.auditRange.upperBound), signed by recorder \(exporter.id); check it with: callrec verify-evidence \(path)\n")
        }
    }
}
