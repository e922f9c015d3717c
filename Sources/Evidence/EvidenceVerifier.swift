import Catalog
import Dispatch
import Foundation
import Sealing

/// One thing `catalog verify` found wrong with the evidence: what, about
/// which audit entry, manifest, recording or checkpoint, in one line.
public struct EvidenceFinding: Sendable, Equatable, CustomStringConvertible {
    /// What kind of break.
    public enum Kind: String, Sendable {
        /// An audit entry's record does not hash to the hash it carries (edited).
        case auditAltered = "audit-altered"
        /// An audit entry's target, reason or detail differ from its commitment (edited).
        case auditCommitment = "audit-commitment"
        /// An audit entry does not link to the one before (inserted, moved, or edited with its hash recomputed).
        case auditLink = "audit-link"
        /// Audit entries are missing from the middle of the chain (deleted).
        case auditMissing = "audit-missing"
        /// An audit entry has no place in the chain (inserted outside callrec).
        case auditUnchained = "audit-unchained"
        /// The chain ends before its head (entries deleted at the end) or its head was changed.
        case auditStops = "audit-stops"
        /// A manifest's bytes do not hash to its hash, or say something else than its row.
        case manifestAltered = "manifest-altered"
        /// A manifest's signature does not verify with its recorder's key.
        case manifestSignature = "manifest-signature"
        /// A manifest does not link to the one before it.
        case manifestLink = "manifest-link"
        /// Manifests are missing from a recorder's chain (removed with their recordings).
        case manifestMissing = "manifest-missing"
        /// A recorder's chain ends before its head.
        case manifestStops = "manifest-stops"
        /// A manifest was withdrawn without an erasure or repair that explains it.
        case withdrawalUnexplained = "withdrawal-unexplained"
        /// A recording its manifest vouches for is gone, and no erasure says why.
        case recordingGone = "recording-gone"
        /// A committed recording has no manifest in the chain.
        case recordingUnsigned = "recording-unsigned"
        /// The catalog's files of a recording differ from its signed manifest.
        case fileMismatch = "file-mismatch"
        /// A file on disk differs from the catalog and its manifest (found when files are read).
        case fileDamaged = "file-damaged"
        /// A checkpoint's signature does not verify.
        case checkpointSignature = "checkpoint-signature"
        /// The chains no longer pass through what a checkpoint signed.
        case checkpointMismatch = "checkpoint-mismatch"
        /// A recorder without a registration in the audit log, or whose id or fingerprint does not fit its key.
        case recorderUnregistered = "recorder-unregistered"
        /// The list of recordings made before manifests existed changed.
        case unsignedListChanged = "unsigned-list-changed"
    }

    public var kind: Kind
    /// What it is about: `audit #17`, `recording 20261129T081530Z-3f9a1c2e`, `manifest 3f9a1c2e5b7d9e01#5`, `checkpoint #3`.
    public var subject: String
    /// What is wrong, and what it means.
    public var message: String

    public init(_ kind: Kind, _ subject: String, _ message: String) {
        self.kind = kind
        self.subject = subject
        self.message = message
    }

    public var description: String { "\(subject): \(message)" }
}

/// What verifying the evidence found.
public struct EvidenceReport: Sendable {
    public var findings: [EvidenceFinding] = []
    /// Audit entries in the chain.
    public var auditEntries = 0
    /// Recorders, and manifests in their chains (withdrawn ones included).
    public var recorders = 0
    public var manifests = 0
    /// Manifests whose signature was checked (those withdrawn have no bytes left to check).
    public var signaturesChecked = 0
    /// Checkpoints checked: the catalog's, and copies given from outside.
    public var checkpoints = 0
    public var outsideCheckpoints = 0
    /// Recordings made before manifests were signed.
    public var unsignedRecordings = 0

    /// Whether nothing was found.
    public var isClean: Bool { findings.isEmpty }
}

/// Checks the evidence a catalog holds, without reading a recording's files
/// (`CatalogStore.verify` reads them): the audit chain entry by entry, every
/// recorder's chain of manifests with their signatures, each recording
/// against its manifest, each checkpoint (the catalog's, and copies kept
/// elsewhere) against both chains. Memory stays flat: everything is read a
/// page at a time.
public struct EvidenceVerifier: Sendable {
    /// The catalog.
    public let catalog: CatalogStore
    /// Checkpoints copied from outside the catalog (record's JSON lines, the journal).
    public var outsideCheckpoints: [Checkpoint.Copy] = []
    /// Rows per page.
    public var pageSize = 2000

    public init(catalog: CatalogStore, outsideCheckpoints: [Checkpoint.Copy] = []) {
        self.catalog = catalog
        self.outsideCheckpoints = outsideCheckpoints
    }

    /// Runs every check.
    public func verify() throws -> EvidenceReport {
        var report = EvidenceReport()
        let recorders = try checkRecorders(&report)
        let checkpoints = try catalog.checkpoints().map { stored in (stored: true, copy: Checkpoint.Copy(body: stored.body, signature: stored.signature), id: stored.id) }
        let all = checkpoints + outsideCheckpoints.map { (stored: false, copy: Optional($0), id: Int64(0)) }
        // The audit chain (a SHA-256 or two per entry) and the scans of the recordings on another
        // thread, while this one walks the manifest chains: run before and after the chains, they
        // left one core idle. Each part's findings go into a report of its own, joined below in the
        // order they were made in before (audit, manifests, recordings without one), and the first
        // error thrown in that order is the one verify throws.
        let neededAudit = Set(all.compactMap { $0.copy?.auditSeq })
        let aside = Pending { [self] in
            var audit = EvidenceReport(), recordings = EvidenceReport()
            let at = Result { try checkAuditChain(&audit, needed: neededAudit) }
            let scanned = Result { try checkRecordingsHaveManifests(&recordings) }
            return (audit: audit, at: at, recordings: recordings, scanned: scanned)
        }
        var chains = EvidenceReport()
        var manifestAt: [String: [Int64: String]] = [:]
        let walked = Result {
            for recorder in recorders {
                let needed = Set(all.compactMap { $0.copy?.recorder == recorder.record.id ? $0.copy?.manifestSequence : nil })
                manifestAt[recorder.record.id] = try checkManifestChain(recorder, &chains, needed: needed)
            }
        }
        let done = aside.wait()
        let auditAt = try done.at.get()
        try walked.get()
        try done.scanned.get()
        report.auditEntries = done.audit.auditEntries
        report.manifests = chains.manifests
        report.signaturesChecked = chains.signaturesChecked
        report.findings += done.audit.findings + chains.findings + done.recordings.findings
        // Checkpoints: signed by a known recorder, and the chains still pass through what they signed.
        let keys = Dictionary(uniqueKeysWithValues: recorders.map { ($0.record.id, $0.key) })
        for (stored, copy, id) in all {
            let subject = stored ? "checkpoint #\(id)" : "outside checkpoint"
            if stored { report.checkpoints += 1 } else { report.outsideCheckpoints += 1 }
            guard let copy else {
                report.findings.append(.init(.checkpointMismatch, subject, "its signed bytes are not a checkpoint"))
                continue
            }
            let named = "\(subject) (recorder \(copy.recorder), \(copy.at))"
            guard let key = keys[copy.recorder] ?? nil else {
                report.findings.append(.init(.checkpointSignature, named, "signed by a recorder the catalog does not know"))
                continue
            }
            guard copy.isSigned(by: key) else {
                report.findings.append(.init(.checkpointSignature, named, "its signature does not verify with recorder \(copy.recorder)'s key"))
                continue
            }
            if copy.auditSeq > 0 {
                switch auditAt[copy.auditSeq] {
                case nil:
                    report.findings.append(.init(
                        .checkpointMismatch, named, "it signed the audit chain up to #\(copy.auditSeq), which is no longer in the chain: entries were removed"))
                case let hash? where hash != copy.auditSHA256:
                    report.findings.append(.init(
                        .checkpointMismatch, named,
                        "the audit chain up to #\(copy.auditSeq) is not the one it signed: the log before it was rewritten"))
                default: break
                }
            }
            if copy.manifestSequence > 0 {
                switch manifestAt[copy.recorder]?[copy.manifestSequence] {
                case nil:
                    report.findings.append(.init(
                        .checkpointMismatch, named, "it signed manifest #\(copy.manifestSequence), which is no longer in the chain"))
                case let hash? where hash != copy.manifestSHA256:
                    report.findings.append(.init(
                        .checkpointMismatch, named, "manifest #\(copy.manifestSequence) is not the one it signed: the chain was rewritten"))
                default: break
                }
            }
        }
        let (committed, now) = try catalog.unsignedRecordingsCommitment()
        report.unsignedRecordings = try catalog.unsignedRecordingIDs().count
        if committed != now {
            report.findings.append(.init(
                .unsignedListChanged, "unsigned recordings",
                "the list of recordings made before manifests were signed is not the one the audit log committed to (\(committed ?? "no such entry"))"))
        }
        return report
    }

    struct Recorder {
        var record: RecorderRecord
        var key: VerifyingKey?
    }

    private func checkRecorders(_ report: inout EvidenceReport) throws -> [Recorder] {
        var out: [Recorder] = []
        for record in try catalog.recorders() {
            report.recorders += 1
            let subject = "recorder \(record.id)"
            guard let key = try? VerifyingKey(pem: record.publicKeyPEM) else {
                report.findings.append(.init(.recorderUnregistered, subject, "its public key is not an Ed25519 key"))
                out.append(Recorder(record: record, key: nil))
                continue
            }
            if RecorderIdentity.id(of: key) != record.id || key.fingerprint != record.fingerprint {
                report.findings.append(.init(.recorderUnregistered, subject, "its id or fingerprint does not belong to its key (\(key.fingerprint))"))
            }
            if try !catalog.hasAuditEntry(action: "recorder", target: subject, detailContaining: key.fingerprint) {
                report.findings.append(.init(
                    .recorderUnregistered, subject, "no audit entry registers it with this key: it was added outside callrec"))
            }
            out.append(Recorder(record: record, key: key))
        }
        return out
    }

    /// Walks the audit chain; returns the hash each entry in `needed` carries.
    private func checkAuditChain(_ report: inout EvidenceReport, needed: Set<Int64>) throws -> [Int64: String] {
        var at: [Int64: String] = [:]
        var previousSeq: Int64 = 0
        var previousHash = AuditChain.genesis
        var next: Int64 = 0
        while true {
            let page = try catalog.auditChain(from: next, limit: pageSize)
            if page.isEmpty { break }
            for row in page {
                report.auditEntries += 1
                let seq = row.record.seq
                guard seq > 0, let carried = row.rowSHA256 else {
                    report.findings.append(.init(
                        .auditUnchained, "audit entry id \(row.id)", "it has no place in the chain: it was inserted outside callrec"))
                    continue
                }
                let subject = "audit #\(seq)"
                if seq == previousSeq {
                    report.findings.append(.init(.auditLink, subject, "two entries claim this place in the chain"))
                    continue
                }
                let gap = seq > previousSeq + 1
                if gap {
                    let missing = previousSeq + 1 == seq - 1 ? "#\(previousSeq + 1) is" : "#\(previousSeq + 1) to #\(seq - 1) are"
                    report.findings.append(.init(.auditMissing, subject, "audit entries \(missing) missing before it: they were deleted"))
                }
                if row.record.sha256 != carried {
                    report.findings.append(.init(
                        .auditAltered, subject,
                        "it was altered after it was written: its time, actor, action, outcome or recording no longer hash to the hash it carries"))
                } else if !gap && row.record.previousSHA256 != previousHash {
                    report.findings.append(.init(
                        .auditLink, subject,
                        "it does not follow #\(previousSeq): its link names another entry (one was inserted, moved, or edited with its hash recomputed)"))
                }
                if let personal = row.personalBytes {
                    if FileDigest.sha256(bytes: personal) != row.record.personalSHA256 {
                        report.findings.append(.init(
                            .auditCommitment, subject, "it was altered after it was written: its target, reason or detail differ from what it committed to"))
                    }
                } else if !row.redacted || row.target != nil || row.reason != nil || row.detail != nil {
                    report.findings.append(.init(.auditCommitment, subject, "its salt is gone but it is not a redacted entry: it was altered"))
                }
                if needed.contains(seq) { at[seq] = carried }
                previousSeq = seq
                previousHash = carried
            }
            next = max(next, previousSeq + 1)
            if page.count < pageSize { break }
        }
        if let head = try catalog.auditHead(), head.seq != previousSeq || head.sha256 != previousHash {
            if head.seq > previousSeq {
                report.findings.append(.init(
                    .auditStops, "audit #\(previousSeq)",
                    "the chain stops here but its head says #\(head.seq): the last \(head.seq - previousSeq) entr\(head.seq - previousSeq == 1 ? "y was" : "ies were") deleted"))
            } else {
                report.findings.append(.init(
                    .auditStops, "audit #\(previousSeq)", "the chain's head (#\(head.seq)) does not name its last entry: the head was changed"))
            }
        }
        return at
    }

    /// Walks one recorder's manifests; returns the hash at each sequence in `needed`.
    private func checkManifestChain(_ recorder: Recorder, _ report: inout EvidenceReport, needed: Set<Int64>) throws -> [Int64: String] {
        let id = recorder.record.id
        var at: [Int64: String] = [:]
        var previousSequence: Int64 = 0
        var previousHash: String? = nil
        var page = try catalog.manifests(recorderID: id, after: 0, limit: pageSize)
        let key = recorder.key
        var checking = Pending { [page] in ManifestPageCheck(page: page, key: key) }
        while !page.isEmpty {
            // Signatures and bytes on the other cores, while this thread reads what the catalog
            // holds about the page's recordings, fetches the next page and makes this page's
            // findings: the Ed25519 verifications are most of verify's CPU. The next page's
            // check starts as soon as the page is fetched, before this one's is waited for, so
            // that a core that finished its share of this page's signatures, or that this
            // thread's work after the wait would have left idle, takes the next page's.
            let live = page.filter { $0.withdrawnAs == nil }, withdrawn = page.filter { $0.withdrawnAs != nil }
            let known = try PageLookups(catalog: catalog, live: live, withdrawn: withdrawn)
            let next = page.count < pageSize ? [] : try catalog.manifests(recorderID: id, after: page[page.count - 1].sequence, limit: pageSize)
            let checkingNext = next.isEmpty ? nil : Pending { [next] in ManifestPageCheck(page: next, key: key) }
            let checked = checking.wait()
            if let checkingNext { checking = checkingNext }
            report.signaturesChecked += checked.signed
            for (k, manifest) in page.enumerated() {
                report.manifests += 1
                // Named only when something is found, not once per manifest for nothing.
                var subject: String { "manifest \(id)#\(manifest.sequence) (recording \(manifest.recordingID))" }
                let gap = manifest.sequence > previousSequence + 1
                if gap {
                    let first = previousSequence + 1, last = manifest.sequence - 1
                    report.findings.append(.init(
                        .manifestMissing, "manifest \(id)#\(manifest.sequence)",
                        "manifest\(first == last ? " #\(first) is" : "s #\(first) to #\(last) are") missing before it: "
                            + "\(first == last ? "its recording was" : "their recordings were") removed with \(first == last ? "it" : "them")"))
                } else if manifest.previousSHA256 != previousHash {
                    report.findings.append(.init(
                        .manifestLink, subject, "it does not follow #\(previousSequence): its link names another manifest"))
                }
                switch checked.results[k] {
                case .ok: break
                case .altered(let why): report.findings.append(.init(.manifestAltered, subject, why))
                case .badSignature:
                    report.findings.append(.init(.manifestSignature, subject, "its signature does not verify with recorder \(id)'s key: it was not signed by this recorder"))
                case .withdrawn:
                    if manifest.withdrawnAs == nil {
                        report.findings.append(.init(.manifestAltered, subject, "its bytes are gone but it was never withdrawn"))
                    }
                }
                if needed.contains(manifest.sequence) { at[manifest.sequence] = manifest.sha256 }
                previousSequence = manifest.sequence
                previousHash = manifest.sha256
            }
            checkLive(live, facts: checked.facts, known: known, report: &report)
            checkWithdrawn(withdrawn, known: known, report: &report)
            page = next
        }
        if recorder.record.headSequence != previousSequence || recorder.record.headSHA256 != previousHash {
            report.findings.append(.init(
                .manifestStops, "manifest \(id)#\(previousSequence)",
                recorder.record.headSequence > previousSequence
                    ? "recorder \(id)'s chain stops here but its head says #\(recorder.record.headSequence): its last manifests were removed"
                    : "recorder \(id)'s head (#\(recorder.record.headSequence)) does not name its last manifest: the head was changed"))
        }
        return at
    }

    /// Manifests in force: their recordings exist, with the files they name.
    private func checkLive(_ manifests: [ManifestRecord], facts: [String: ManifestFacts], known: PageLookups, report: inout EvidenceReport) {
        let existing = known.existing, files = known.files, erased = known.erasedGone
        for manifest in manifests {
            let subject = "recording \(manifest.recordingID)"
            guard existing.contains(manifest.recordingID) else {
                report.findings.append(.init(
                    .recordingGone, subject,
                    "it is gone: manifest \(manifest.recorderID)#\(manifest.sequence) vouches for it, and "
                        + (erased.contains(manifest.recordingID) ? "its erasure did not withdraw it" : "no erasure (delete, forget, purge) is recorded")))
                continue
            }
            guard let signed = facts[manifest.sha256] else { continue }
            // A recording has a handful of files: lists searched in order, not a dictionary and a set per recording.
            let catalogued = (files[manifest.recordingID] ?? []).compactMap { file -> (name: Substring, file: CatalogFile)? in
                file.path.hasSuffix(".manifest.json") || file.path.hasSuffix(".manifest.sig") ? nil : (Self.fileName(of: file.path), file)
            }
            var differences: [String] = []
            for file in signed.files {
                // The first catalogued file of the name, as before.
                guard let known = catalogued.first(where: { $0.name == file.name })?.file else {
                    differences.append("\(file.name) is in the manifest, not in the catalog")
                    continue
                }
                if known.sha256 != file.sha256 {
                    differences.append("\(file.name): the catalog's SHA-256 \(known.sha256 ?? "-") is not the signed \(file.sha256)")
                } else if known.bytes != file.bytes {
                    differences.append("\(file.name): \(known.bytes) bytes in the catalog, \(file.bytes) signed")
                }
            }
            for (name, _) in catalogued where !signed.files.contains(where: { $0.name == name }) {
                differences.append("\(name) is in the catalog, not in the manifest")
            }
            if !differences.isEmpty {
                report.findings.append(.init(
                    .fileMismatch, subject, "its files differ from its signed manifest: " + differences.joined(separator: "; ")))
            }
        }
    }

    /// Withdrawn manifests: an erasure, a repair or a replacement explains each.
    private func checkWithdrawn(_ manifests: [ManifestRecord], known: PageLookups, report: inout EvidenceReport) {
        let actions = known.withdrawnActions, erased = known.erasedWithdrawn
        for manifest in manifests {
            let how = manifest.withdrawnAs ?? ""
            let done = actions[manifest.recordingID] ?? []
            let explained: Bool
            switch how {
            case "delete", "forget", "purge": explained = erased.contains(manifest.recordingID) && done.contains(how + " done")
            case "rolled back": explained = done.contains("verify done")
            case "failed": explained = done.contains("commit failed")
            case "replaced": explained = done.contains("replace done")
            // A reseal signs the next manifest in the transaction that withdraws this one; a crash
            // before its audit entry leaves verify to finish it (and audit that).
            case "resealed": explained = done.contains("reseal done") || done.contains("verify done")
            default: explained = false
            }
            if !explained {
                report.findings.append(.init(
                    .withdrawalUnexplained, "manifest \(manifest.recorderID)#\(manifest.sequence) (recording \(manifest.recordingID))",
                    "withdrawn as '\(how)', but no audit entry of such an erasure or repair of the recording exists: the recording was removed and the manifest made to look withdrawn"))
            }
        }
    }

    private func checkRecordingsHaveManifests(_ report: inout EvidenceReport) throws {
        for id in try catalog.committedRecordingsWithoutManifest(limit: 10_000) {
            report.findings.append(.init(
                .recordingUnsigned, "recording \(id)",
                "it has no manifest in the chain: no recorder of this catalog signed it, or its manifest was withdrawn while it stayed"))
        }
    }

    static func name(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// What follows a catalogued path's last `/`, without a copy (found in
    /// its UTF-8 bytes: `String.lastIndex(of:)` walks characters back one grapheme at a time).
    static func fileName(of path: String) -> Substring {
        path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path[path.utf8.index(after: $0)...] } ?? path[...]
    }
}

/// What the catalog holds about one page of manifests' recordings: read
/// before the checks that use it, while the page's signatures are checked.
struct PageLookups {
    /// Of the recordings of manifests in force: those with a row, their files, and those gone that an erasure names.
    var existing: Set<String> = []
    var files: [String: [CatalogFile]] = [:]
    var erasedGone: Set<String> = []
    /// Of the recordings of withdrawn manifests: the audit entries' `action outcome` about each, and those erased.
    var withdrawnActions: [String: Set<String>] = [:]
    var erasedWithdrawn: Set<String> = []

    init(catalog: CatalogStore, live: [ManifestRecord], withdrawn: [ManifestRecord]) throws {
        if !live.isEmpty {
            let ids = live.map(\.recordingID)
            existing = try catalog.recordingIDs(among: ids)
            files = try catalog.files(ofRecordings: ids)
            erasedGone = try catalog.erasedIDs(among: ids.filter { !existing.contains($0) })
        }
        if !withdrawn.isEmpty {
            let ids = withdrawn.map(\.recordingID)
            withdrawnActions = try catalog.auditActions(about: ids)
            erasedWithdrawn = try catalog.erasedIDs(among: ids)
        }
    }
}

/// A value made on another thread (a page's `ManifestPageCheck`, the audit
/// chain's walk); `wait()` gives it.
final class Pending<Value>: @unchecked Sendable {
    private let done = DispatchGroup()
    // SAFETY: written once by the job before it leaves `done`, read only after waiting for `done`.
    private var value: Value?

    init(_ make: @escaping @Sendable () -> Value) {
        done.enter()
        DispatchQueue.global().async { [self] in
            value = make()
            done.leave()
        }
    }

    func wait() -> Value {
        done.wait()
        return value!
    }
}

/// The bytes and signatures of one page of manifests, checked in parallel.
struct ManifestPageCheck {
    enum Result: Sendable {
        case ok
        case altered(String)
        case badSignature
        case withdrawn
    }

    var results: [Result]
    /// What each manifest in force says, by its SHA-256.
    var facts: [String: ManifestFacts] = [:]
    var signed = 0

    init(page: [ManifestRecord], key: VerifyingKey?) {
        let count = page.count
        let slots = UnsafeMutableBufferPointer<(Result, ManifestFacts?)>.allocate(capacity: count)
        slots.initialize(repeating: (.ok, nil))
        defer { slots.deallocate() }
        let chunks = max(1, min(count, ProcessInfo.processInfo.activeProcessorCount * 4))
        // SAFETY: each iteration writes only the slots of its own index range.
        nonisolated(unsafe) let out = slots
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let lower = chunk * count / chunks, upper = (chunk + 1) * count / chunks
            for k in lower..<upper { out[k] = ManifestPageCheck.check(page[k], key: key) }
        }
        results = slots.map(\.0)
        for (k, slot) in slots.enumerated() {
            if let fact = slot.1 { facts[page[k].sha256] = fact }
            if case .withdrawn = slot.0 { continue }
            signed += 1
        }
    }

    static func check(_ manifest: ManifestRecord, key: VerifyingKey?) -> (Result, ManifestFacts?) {
        guard let body = manifest.body else { return (.withdrawn, nil) }
        guard FileDigest.sha256(bytes: body) == manifest.sha256 else {
            return (.altered("its bytes do not hash to the hash it carries: it was altered"), nil)
        }
        guard let key, key.isValidSignature(manifest.signature, for: body) else { return (.badSignature, nil) }
        guard let facts = ManifestFacts(body) else { return (.altered("its bytes are not a version-1 manifest"), nil) }
        if facts.recording != manifest.recordingID || facts.recorder != manifest.recorderID || facts.sequence != manifest.sequence
            || facts.previousSHA256 != manifest.previousSHA256
        {
            return (.altered("its signed bytes name another recording or place in the chain than its row (recording \(facts.recording), #\(facts.sequence))"), facts)
        }
        return (.ok, facts)
    }
}
