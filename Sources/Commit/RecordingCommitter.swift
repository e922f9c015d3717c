import CallMedia
import Catalog
import CallrecCore
import Evidence
import Output


/// The steps of committing a recording, in order. After a crash at any of
/// them, `catalog verify` leaves either the recording complete in files and
/// catalog, or absent from both.
public enum CommitStep: String, CaseIterable, Sendable {
    /// Every file is complete and synced under its temporary name; no row yet.
    case filesSynced = "files-synced"
    /// The row is in the catalog as pending, with each file's size and
    /// SHA-256, and the recording's signed manifest in its recorder's chain.
    case rowPending = "row-pending"
    /// The manifest and its signature are synced under temporary names
    /// (after a crash before this, verify writes them again from the catalog).
    case manifestWritten = "manifest-written"
    /// The audio file has its final name; the index has not.
    case firstFileRenamed = "first-file-renamed"
    /// Every file has its final name; the row is still pending.
    case filesRenamed = "files-renamed"
    /// The row is committed: the recording is visible.
    case committed
}

/// Commits finished recordings: files, signed manifest and catalog row together.
///
/// 1. the files are synced under temporary names (done when the call finished);
/// 2. their SHA-256 is computed and the row entered as `pending`; in the same
///    transaction the signer (Evidence's `ManifestSigner`) gives the
///    recording's manifest its place in the recorder's chain and signs it;
/// 3. the manifest and its signature are written and synced under temporary names;
/// 4. the files are renamed into place (audio first, then peaks, manifest,
///    signature, the index last) and their folder synced (the index's
///    rename syncs it for the manifest and signature before it);
/// 5. the row is marked `committed`: the recording is visible, its manifest
///    signed before.
///
/// A failure at any step removes what was done (files and row); a crash is
/// settled by `catalog verify` (see `CatalogStore.insertPending`).
public struct RecordingCommitter {
    /// Where rows go.
    public let catalog: CatalogStore
    /// The folder paths in the catalog are relative to.
    public let outputDirectory: String
    /// Called after each step (tests: a crash image or an injected failure;
    /// `CALLREC_CRASH_AT` in the command line: a kill). Throwing fails the commit.
    public var afterStep: ((CommitStep) throws -> Void)?
    /// Waits out a full disk under the catalog (SQLite's `SQLITE_FULL`: the
    /// transaction was rolled back, so it is tried again); nil: fail at once.
    public var space: DiskSpaceWait?
    /// Where the recordings' ids were claimed (`ConvertOptions.recordingIDs`):
    /// each is released once its commit is over, whatever the outcome.
    public var ids: RecordingIDs?
    /// Signs each recording's manifest (nil: no manifest, as before evidence; tests only).
    public var signer: ManifestSigner?
    /// The options the recordings were made with: the manifest names those
    /// that shape the audio (nil: not known, as for a recording salvaged
    /// after a crash; the manifest then gives what the call index says).
    public var options: ConvertOptions?

    /// A committer into `catalog` for files under `outputDirectory`, each
    /// recording's manifest signed by `signer`.
    public init(
        catalog: CatalogStore, outputDirectory: String, signer: ManifestSigner?, options: ConvertOptions?,
        afterStep: ((CommitStep) throws -> Void)? = nil, space: DiskSpaceWait? = nil, ids: RecordingIDs? = nil
    ) {
        self.catalog = catalog
        self.outputDirectory = outputDirectory
        self.signer = signer
        self.options = options
        self.afterStep = afterStep
        self.space = space
        self.ids = ids
    }

    /// Claims recording ids against the calls in flight and the recordings in `catalog`.
    public static func recordingIDs(for catalog: CatalogStore) -> RecordingIDs {
        RecordingIDs { id in try catalog.callID(ofRecording: id) }
    }

    /// Runs a catalog write, again while the disk is full and `space` says to wait.
    private func catalogWrite(_ body: () throws -> Void) throws {
        guard let space else { return try body() }
        try space.retrying(path: catalog.path, isNoSpace: CatalogStore.isDiskFull, body)
    }

    /// Commits `finished`, which came from `capture` (the manifest names it
    /// with the call's packets); returns its summary, or nil when the call is
    /// recorded already (the same call seen again: never replaced, counted
    /// `calls_already_recorded`) or was erased before (noted in `diagnostics`).
    /// A file is never renamed over one that exists.
    public func commit(
        _ finished: FinishedRecording, capture: RecordingManifest.Capture = .stream(packets: nil), diagnostics: Diagnostics
    ) throws -> RecordingSummary? {
        defer { ids?.release(finished.summary.id) }
        var summary = finished.summary
        var renamed: [String] = []
        var entered = false
        // The index is renamed last; the manifest and its signature just before it.
        let content = Array(finished.files.dropLast())
        let index = finished.files.last!
        var manifestFiles: [AtomicFile] = []
        var failure: (any Error)? = nil
        do {
            try afterStep?(.filesSynced)
            // Sealing: the recipients decided again from the catalog as it stands now (the
            // sealed files' headers written again if they changed), before the files are hashed.
            let sealedTo = try finished.seal?.settle(finished.files, caller: summary.index.caller, callee: summary.index.callee)
            summary.sealedTo = sealedTo
            var files: [CatalogFile] = []
            for (position, file) in finished.files.enumerated() {
                let isIndex = position == finished.files.count - 1
                files.append(
                    CatalogFile(
                        recordingID: summary.id, position: isIndex && signer != nil ? position + 2 : position,
                        path: RecordingSummary.relative(file.path, to: outputDirectory),
                        bytes: file.size, sha256: try FileDigest.sha256(path: file.temporaryPath),
                        sealedTo: file.transform == nil ? nil : sealedTo))
            }
            summary.audioSHA256 = files.first?.sha256
            let signed: ManifestRecord?
            do {
                let row = summary.catalogRecording(relativeTo: outputDirectory)
                // The call's ledger row goes in with the recording's, in one transaction.
                let ledger = summary.ledgerEntry()
                if let signer {
                    let manifest = self.manifest(summary, files: files, capture: capture)
                    let folder = RecordingSummary.relative(index.path, to: outputDirectory).split(separator: "/").dropLast().joined(separator: "/")
                    let names = RecordingManifest.fileNames(recording: summary.id)
                    let prefix = folder.isEmpty ? "" : folder + "/"
                    var record: ManifestRecord? = nil
                    try catalogWrite {
                        record = try catalog.insertPending(row, files: files) { db in
                            try CatalogStore.addToLedger(db, ledger)
                            let record = try signer.chain(manifest, in: db)
                            return (
                                record,
                                [
                                    CatalogFile(
                                        recordingID: summary.id, position: content.count, path: prefix + names.manifest,
                                        bytes: Int64(record.body?.count ?? 0), sha256: record.sha256),
                                    CatalogFile(
                                        recordingID: summary.id, position: content.count + 1, path: prefix + names.signature,
                                        bytes: Int64(record.signature.count), sha256: FileDigest.sha256(bytes: record.signature)),
                                ]
                            )
                        }
                    }
                    signed = record
                } else {
                    try catalogWrite {
                        try catalog.insertPending(row, files: files) { db in
                            try CatalogStore.addToLedger(db, ledger)
                            return ((), [])
                        }
                    }
                    signed = nil
                }
            } catch let error as CatalogError where error.code == .held || error.code == .erased || error.code == .exists {
                for file in finished.files { file.discard() }
                if error.code != .erased { diagnostics.count(.callsAlreadyRecorded) }
                diagnostics.note(error.message)
                return nil
            }
            entered = true
            try afterStep?(.rowPending)
            if let signed, let body = signed.body {
                let folder = String(index.path[..<(index.path.lastIndex(of: "/") ?? index.path.startIndex)])
                let names = RecordingManifest.fileNames(recording: summary.id)
                for (name, bytes) in [(names.manifest, body), (names.signature, signed.signature)] {
                    let file = try AtomicFile(directory: folder, name: name, space: space)
                    manifestFiles.append(file)
                    try file.write(bytes)
                    try file.sync()
                }
                try afterStep?(.manifestWritten)
            }
            for file in content + manifestFiles + [index] {
                // The manifest and its signature are renamed without a folder sync of their own: the
                // index, renamed next in the same folder, syncs it, and only then is the row committed.
                // A crash before that leaves a pending row, which verify settles from either name (or
                // from the catalog's copy of both files' bytes).
                let isManifestFile = manifestFiles.contains { $0 === file }
                try file.publish(replacing: false, syncingFolder: !isManifestFile)
                renamed.append(file.path)
                if renamed.count == 1 { try afterStep?(.firstFileRenamed) }
            }
            try afterStep?(.filesRenamed)
            try catalogWrite { try catalog.markCommitted(id: summary.id) }
        } catch {
            failure = error
        }
        if let failure {
            // Undo: neither files nor row stay behind; a manifest signed for it is withdrawn.
            for file in finished.files + manifestFiles { file.discard() }
            for path in renamed { System.remove(path) }
            if entered { try? catalog.removePending(id: summary.id, why: "\(failure)") }
            throw failure
        }
        try afterStep?(.committed)
        return summary
    }

    /// The manifest of `summary` with its files as they will be stored (the
    /// index among them), before its place in the chain is known.
    func manifest(_ summary: RecordingSummary, files: [CatalogFile], capture: RecordingManifest.Capture) -> RecordingManifest {
        let index = summary.index
        let rate = index.sampleRate ?? 8000
        let audio: RecordingManifest.Audio
        if let options {
            let isOpus = options.format == .opus
            // Bits per second of each file, as RecordingOutput gives them to the encoder.
            let perFile: Int
            switch options.channelLayout {
            case .stereo: perFile = options.opus.bitrate(sampleRate: rate, channels: 2)
            case .mono: perFile = options.opus.bitrate(sampleRate: rate, channels: 1)
            case .split: perFile = options.opus.bitrate.map { $0 / 2 } ?? OpusSettings.automaticBitrate(perChannelAt: rate)
            }
            audio = RecordingManifest.Audio(
                format: options.format.rawValue, channels: options.channelLayout.rawValue, sampleRate: rate,
                // The lowest complexity any of the audio was encoded with (the index lists each, with times).
                bitrate: isOpus ? perFile : nil,
                complexity: isOpus ? index.opusComplexity?.map(\.complexity).min() ?? options.opus.complexity : nil,
                opusStreams: isOpus ? options.opus.layout.rawValue : nil)
        } else {
            audio = RecordingManifest.Audio(
                format: index.format ?? "opus", channels: index.layout ?? "stereo", sampleRate: rate, bitrate: nil, complexity: nil,
                opusStreams: nil)
        }
        let end = summary.start.advanced(byNanoseconds: Int64((index.durationS * 1e9).rounded()))
        return RecordingManifest(
            recording: summary.id, callID: index.callID, caller: index.caller, callee: index.callee, direction: index.direction,
            start: index.start, end: end.iso8601,
            files: files.map { .init(name: $0.path.split(separator: "/").last.map(String.init) ?? $0.path, bytes: $0.bytes, sha256: $0.sha256 ?? "") },
            capture: capture.with(packets: summary.capturePackets), audio: audio, callrecVersion: CallrecVersion.current, recorder: "")
    }
}
