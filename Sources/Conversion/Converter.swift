import CallMedia
import Catalog
import CallrecCore
import Capture
import Commit
import Output
import Pipeline

/// Batch conversion: reads each capture from start to end and commits every
/// call found in it. Inputs are independent: one that fails does not stop
/// the others, and the calls it finished before failing are kept.
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
    /// The catalog every recording is entered into (OUT/catalog.sqlite).
    public let catalog: CatalogStore
    /// The catalog's recording rules, read once when conversion starts.
    public let rules: RuleSet
    /// Commits each recording: files and catalog row together.
    public let committer: RecordingCommitter
    /// Held while the converter lives, so `catalog verify` does not repair commits in progress.
    private let lock: CatalogLock

    /// Opens (or creates) the catalog in the output folder and reads its recording rules.
    /// - Parameter afterCommitStep: called after each step of each commit (crash tests).
    public init(options: ConvertOptions, afterCommitStep: ((CommitStep) throws -> Void)? = nil) throws {
        try AtomicFile.makeDirectories(options.outputDirectory)
        catalog = try CatalogStore(path: options.outputDirectory + "/" + CatalogStore.fileName)
        lock = try catalog.writerLock()
        rules = try catalog.ruleSet()
        var options = options
        let ids = RecordingCommitter.recordingIDs(for: catalog)
        options.recordingIDs = ids
        self.options = options
        committer = RecordingCommitter(catalog: catalog, outputDirectory: options.outputDirectory, afterStep: afterCommitStep, ids: ids)
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
        let processor = CaptureProcessor(options: options, diagnostics: diagnostics, policy: rules) { finished in
            guard let summary = try committer.commit(finished, diagnostics: diagnostics) else { return }
            recordings.append(summary)
            onRecording(summary)
        }
        var packets = 0
        do {
            let source = try CaptureSource(input, diagnostics: diagnostics)
            onOpen(source)
            do {
                try source.forEachPacket { packet in
                    try processor.process(packet)
                }
                packets = source.packetsRead
                try processor.finish()
            } catch let error as CaptureError {
                // The capture broke part-way: what was read is good, so finish those calls.
                packets = source.packetsRead
                try processor.finish()
                return InputResult(path: path, recordings: recordings, error: error.description, packets: packets)
            }
        } catch let error as CaptureError {
            processor.discardAll()
            return InputResult(path: path, recordings: recordings, error: error.description, packets: packets)
        } catch {
            processor.discardAll()
            return InputResult(path: path, recordings: recordings, error: "\(path): \(error)", packets: packets)
        }
        return InputResult(path: path, recordings: recordings, error: nil, packets: packets)
    }
}
