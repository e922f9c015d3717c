import CallMedia
import Catalog
import CallrecCore
import Output


/// The steps of committing a recording, in order. After a crash at any of
/// them, `catalog verify` leaves either the recording complete in files and
/// catalog, or absent from both.
public enum CommitStep: String, CaseIterable, Sendable {
    /// Every file is complete and synced under its temporary name; no row yet.
    case filesSynced = "files-synced"
    /// The row is in the catalog as pending, with each file's size and SHA-256.
    case rowPending = "row-pending"
    /// The audio file has its final name; the index has not.
    case firstFileRenamed = "first-file-renamed"
    /// Every file has its final name; the row is still pending.
    case filesRenamed = "files-renamed"
    /// The row is committed: the recording is visible.
    case committed
}

/// Commits finished recordings: files and catalog row together.
///
/// 1. the files are synced under temporary names (done when the call finished);
/// 2. their SHA-256 is computed and the row entered as `pending`;
/// 3. the files are renamed into place (audio first, index last) and their folder synced;
/// 4. the row is marked `committed`.
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

    /// A committer into `catalog` for files under `outputDirectory`.
    public init(
        catalog: CatalogStore, outputDirectory: String, afterStep: ((CommitStep) throws -> Void)? = nil, space: DiskSpaceWait? = nil,
        ids: RecordingIDs? = nil
    ) {
        self.catalog = catalog
        self.outputDirectory = outputDirectory
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

    /// Commits `finished`; returns its summary, or nil when the call is
    /// recorded already (the same call seen again: never replaced, counted
    /// `calls_already_recorded`) or was erased before (noted in `diagnostics`).
    /// A file is never renamed over one that exists.
    public func commit(_ finished: FinishedRecording, diagnostics: Diagnostics) throws -> RecordingSummary? {
        defer { ids?.release(finished.summary.id) }
        var summary = finished.summary
        var renamed: [String] = []
        var entered = false
        do {
            try afterStep?(.filesSynced)
            var files: [CatalogFile] = []
            for (position, file) in finished.files.enumerated() {
                files.append(
                    CatalogFile(
                        recordingID: summary.id, position: position, path: RecordingSummary.relative(file.path, to: outputDirectory),
                        bytes: file.size, sha256: try FileDigest.sha256(path: file.temporaryPath)))
            }
            summary.audioSHA256 = files.first?.sha256
            do {
                let row = summary.catalogRecording(relativeTo: outputDirectory)
                try catalogWrite { try catalog.insertPending(row, files: files) }
            } catch let error as CatalogError where error.code == .held || error.code == .erased || error.code == .exists {
                for file in finished.files { file.discard() }
                if error.code != .erased { diagnostics.count(.callsAlreadyRecorded) }
                diagnostics.note(error.message)
                return nil
            }
            entered = true
            try afterStep?(.rowPending)
            for file in finished.files {
                try file.publish(replacing: false)
                renamed.append(file.path)
                if renamed.count == 1 { try afterStep?(.firstFileRenamed) }
            }
            try afterStep?(.filesRenamed)
            try catalogWrite { try catalog.markCommitted(id: summary.id) }
        } catch {
            // Undo: neither files nor row stay behind.
            for file in finished.files { file.discard() }
            for path in renamed { System.remove(path) }
            if entered { try? catalog.removePending(id: summary.id) }
            throw error
        }
        try afterStep?(.committed)
        return summary
    }
}
