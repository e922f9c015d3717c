import CallMedia
import Catalog
import CallrecCore
import Capture
import Commit
import Evidence
import Foundation
import Output
import Pipeline

/// Batch conversion: reads each capture from start to end and commits every
/// call found in it. Inputs are independent: one that fails does not stop
/// the others, and the calls it finished before failing are kept.
///
/// Each recording's manifest names the capture it came from. For a capture
/// file that includes the SHA-256 of the whole file, computed while it is
/// read (`CaptureDigest`), so the calls of a file are committed when the file
/// has been read to its end: until then they wait, complete and synced under
/// their temporary names (a crash before leaves only those, which verify
/// removes). From standard input or an interface each call is committed as
/// it ends, its manifest naming the stream and the call's packets.
///
/// With `jobs` above 1, each input's calls are decoded, mixed, encoded and
/// analysed on that many worker threads (`CallWorkers`, as `record` runs
/// them), while this thread reads, routes and commits: a call's end is
/// committed here in the order the calls ended, once every packet before it
/// has been processed, so the output is the same as with one job — the same
/// recording ids, files byte for byte, manifest chain, catalog and ledger
/// rows, and the same first error (the input stops where one job would have
/// stopped). Inputs are read one after another: the commits of one, and the
/// recorded-already decisions between overlapping captures, come in the
/// order of the command line.
public struct Converter {
    /// The outcome of one input.
    public struct InputResult: Sendable {
        public var path: String
        public var recordings: [RecordingSummary]
        /// The error that stopped reading, if any. Recordings completed before it are kept.
        public var error: String?
        /// Packets read from the input.
        public var packets: Int
    }

    public let options: ConvertOptions
    /// The catalog every recording is entered into (OUT/catalog.sqlite, or
    /// the one given: a PostgreSQL catalog that other converters share).
    public let catalog: CatalogStore
    /// The catalog's recording rules, read once when conversion starts.
    public let rules: RuleSet
    /// Commits each recording: files, signed manifest and catalog row together.
    public let committer: RecordingCommitter
    /// Whose key signs the manifests (`--signing-key`, or the folder's `recorder.key`).
    public let identity: RecorderIdentity
    /// Held while the converter lives, so `catalog verify` does not repair commits in progress.
    private let lock: CatalogLock
    /// Worker threads for each input's calls (1: every call on the reading thread).
    public let jobs: Int
    /// Bytes of packets queued for the workers of one input, all together (each worker's share is
    /// its queue): memory for the hand-off stays the same whatever `jobs` is.
    public static let workerQueueBytes = 16 << 20

    /// The jobs `--jobs` gives when not set: one per core this process may run on.
    public static var defaultJobs: Int { ProcessInfo.processInfo.activeProcessorCount }
    /// The jobs `--jobs` accepts (as record's).
    public static let jobsRange = 1...1024

    /// Opens (or creates) the catalog in the output folder, or uses `catalog`
    /// (whose folder must be the output folder: a shared PostgreSQL catalog),
    /// and reads its recording rules.
    /// Opens (or makes) the recorder's signing key and registers it in the catalog.
    /// With `options.complianceRecipients`, every recording is sealed (`CatalogSealer`).
    /// - Parameters:
    ///   - afterCommitStep: called after each step of each commit (crash tests).
    ///   - actor: whom a new recorder's registration is audited as.
    ///   - jobs: worker threads for each input's calls (clamped to `jobsRange`); 1 runs every
    ///     call on the thread that calls `convert`.
    /// - Throws: `CatalogError`, or `SealingError` for a signing key that
    ///   cannot be used (its group or others can read it, it is not Ed25519).
    public init(
        options: ConvertOptions, catalog: CatalogStore? = nil, afterCommitStep: ((CommitStep) throws -> Void)? = nil,
        actor: CatalogActor = .operator("callrec-convert"), jobs: Int = 1
    ) throws {
        self.jobs = min(max(jobs, Converter.jobsRange.lowerBound), Converter.jobsRange.upperBound)
        try AtomicFile.makeDirectories(options.outputDirectory)
        let catalog = try catalog ?? CatalogStore(path: options.outputDirectory + "/" + CatalogStore.fileName)
        self.catalog = catalog
        lock = try catalog.writerLock()
        rules = try catalog.ruleSet()
        var options = options
        options.sealer = try CatalogSealer.forOptions(options, catalog: catalog)
        let ids = RecordingCommitter.recordingIDs(for: catalog)
        options.recordingIDs = ids
        self.options = options
        identity = try RecorderIdentity.open(keyPath: options.signingKeyPath, outputDirectory: options.outputDirectory)
        try identity.register(
            in: catalog, label: RecorderIdentity.label(outputDirectory: options.outputDirectory), by: actor, at: Date().timeIntervalSince1970)
        committer = RecordingCommitter(
            catalog: catalog, outputDirectory: options.outputDirectory, signer: ManifestSigner(identity: identity), options: options,
            afterStep: afterCommitStep, ids: ids)
    }

    /// Converts one capture (a path, or `-` for standard input).
    /// - Parameter onRecording: called with each recording as it is committed.
    public func convert(
        path: String, diagnostics: Diagnostics, onRecording: @escaping (RecordingSummary) -> Void = { _ in }
    ) -> InputResult {
        convert(.file(path), diagnostics: diagnostics, onRecording: onRecording)
    }

    /// Converts one input: a capture file, standard input, or a live interface (until stopped).
    /// - Parameters:
    ///   - onOpen: called with the source once it is open (a live capture is stopped through its `stopHandle`).
    ///   - onRecording: called with each recording as it is committed.
    public func convert(
        _ input: CaptureSource.Input, diagnostics: Diagnostics, onOpen: (CaptureSource) -> Void = { _ in },
        onRecording: @escaping (RecordingSummary) -> Void = { _ in }
    ) -> InputResult {
        let path = input.interface ?? input.path ?? "-"
        var recordings: [RecordingSummary] = []
        let committer = self.committer
        let isFile = input.interface == nil && path != "-"
        let digest = isFile ? CaptureDigest() : nil
        // A file's calls wait for its SHA-256; a stream's and an interface's are committed as they end.
        var waiting: [FinishedRecording] = []
        let stream: RecordingManifest.Capture =
            input.interface.map { .interface(name: $0, filter: input.filter, packets: nil) } ?? .stream(packets: nil)
        let catalog = self.catalog
        // With workers, the effects of each call's end (below: the commit, the ledger row) run on
        // this thread in capture order, in `release`; with none, at once.
        let workers =
            jobs > 1
            ? CallWorkers(
                count: jobs, queueBytes: max(256 << 10, Converter.workerQueueBytes / jobs), order: .capture, diagnostics: diagnostics)
            : nil
        // A call that ends without a recording is entered in the ledger alone (a recorded
        // one with its recording, by the committer).
        let processor = CaptureProcessor(
            options: options, diagnostics: diagnostics, policy: rules, executor: workers ?? InlineExecutor(diagnostics: diagnostics),
            onCallEnded: { report in
                if let entry = report.ledgerEntry { try catalog.addToLedger(entry) }
            },
            onCallFailed: nil,
            // Calls turned away at --max-calls: `dropped`, a second's worth in one transaction.
            onCallsDropped: { entries in try catalog.addToLedger(entries) }
        ) { finished in
            if isFile {
                waiting.append(finished)
                return
            }
            guard let summary = try committer.commit(finished, capture: stream, diagnostics: diagnostics) else { return }
            recordings.append(summary)
            onRecording(summary)
        }
        /// Commits the calls of a file read to its end (or as far as it could be read).
        func commitWaiting(_ source: CaptureSource) throws {
            guard let digest, !waiting.isEmpty else { return }
            var complete = source.readToEnd
            if !complete {
                // Parsing stopped early: the rest is read for the digest, unparsed.
                do {
                    try source.drainToEnd()
                    complete = true
                } catch {
                    diagnostics.note("the capture could not be read to its end for its SHA-256 (\(error)); the manifests name it without one")
                }
            }
            let capture = RecordingManifest.Capture.file(path: path, bytes: digest.bytes, sha256: complete ? digest.finalize() : nil, packets: nil)
            let batch = waiting
            waiting = []
            for finished in batch {
                guard let summary = try committer.commit(finished, capture: capture, diagnostics: diagnostics) else { continue }
                recordings.append(summary)
                onRecording(summary)
            }
        }
        var packets = 0
        do {
            let source = try CaptureSource(input, diagnostics: diagnostics, observer: digest)
            onOpen(source)
            do {
                try source.forEachPacket { packet in
                    try processor.process(packet)
                    try workers?.release(force: !isFile)
                }
                packets = source.packetsRead
                try processor.finish()
                try workers?.finish(into: diagnostics)
                try commitWaiting(source)
            } catch let error as CaptureError {
                // The capture broke part-way: what was read is good, so finish those calls.
                packets = source.packetsRead
                try processor.finish()
                try workers?.finish(into: diagnostics)
                try commitWaiting(source)
                return InputResult(path: path, recordings: recordings, error: error.description, packets: packets)
            }
        } catch let error as CaptureError {
            workers?.stop(into: diagnostics)
            processor.discardAll()
            waiting.removeAll()
            return InputResult(path: path, recordings: recordings, error: error.description, packets: packets)
        } catch {
            // The workers stop where they are: what they held back goes, as the rest of the input.
            workers?.stop(into: diagnostics)
            processor.discardAll()
            // The calls not committed go with their temporary files.
            waiting.removeAll()
            return InputResult(path: path, recordings: recordings, error: "\(path): \(error)", packets: packets)
        }
        return InputResult(path: path, recordings: recordings, error: nil, packets: packets)
    }
}
