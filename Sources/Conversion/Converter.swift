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

    /// Opens (or creates) the catalog in the output folder, or uses `catalog`
    /// (whose folder must be the output folder: a shared PostgreSQL catalog),
    /// and reads its recording rules.
    /// Opens (or makes) the recorder's signing key and registers it in the catalog.
    /// With `options.complianceRecipients`, every recording is sealed (`CatalogSealer`).
    /// - Parameters:
    ///   - afterCommitStep: called after each step of each commit (crash tests).
    ///   - actor: whom a new recorder's registration is audited as.
    /// - Throws: `CatalogError`, or `SealingError` for a signing key that
    ///   cannot be used (its group or others can read it, it is not Ed25519).
    public init(
        options: ConvertOptions, catalog: CatalogStore? = nil, afterCommitStep: ((CommitStep) throws -> Void)? = nil,
        actor: CatalogActor = .operator("callrec-convert")
    ) throws {
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
        // A call that ends without a recording is entered in the ledger alone (a recorded
        // one with its recording, by the committer).
        let processor = CaptureProcessor(
            options: options, diagnostics: diagnostics, policy: rules,
            onCallEnded: { report in
                if let entry = report.ledgerEntry { try catalog.addToLedger(entry) }
            }
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
                }
                packets = source.packetsRead
                try processor.finish()
                try commitWaiting(source)
            } catch let error as CaptureError {
                // The capture broke part-way: what was read is good, so finish those calls.
                packets = source.packetsRead
                try processor.finish()
                try commitWaiting(source)
                return InputResult(path: path, recordings: recordings, error: error.description, packets: packets)
            }
        } catch let error as CaptureError {
            processor.discardAll()
            waiting.removeAll()
            return InputResult(path: path, recordings: recordings, error: error.description, packets: packets)
        } catch {
            processor.discardAll()
            // The calls not committed go with their temporary files.
            waiting.removeAll()
            return InputResult(path: path, recordings: recordings, error: "\(path): \(error)", packets: packets)
        }
        return InputResult(path: path, recordings: recordings, error: nil, packets: packets)
    }
}
