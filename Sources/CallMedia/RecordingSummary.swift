import CallrecCore
import Output

/// What one finished call produced, for the command line and the catalog.
public struct RecordingSummary: Sendable {
    /// One audio file of the recording.
    public struct AudioFile: Sendable, Equatable {
        /// The final path.
        public var path: String
        /// Its size in bytes.
        public var bytes: Int64

        /// The file at `path`, of `bytes` bytes.
        package init(path: String, bytes: Int64) {
            self.path = path
            self.bytes = bytes
        }
    }

    /// The recording id.
    public var id: String
    /// The audio files written: one (stereo or mono), or one per party in
    /// channel order (split).
    public var audioFiles: [AudioFile]
    /// The call index's final path.
    public var indexPath: String
    /// The index as written.
    public var index: CallIndex
    /// Time zero of the recording.
    public var start: MediaTime

    /// The first (for stereo and mono, the only) audio file.
    public var audioPath: String { audioFiles[0].path }
    /// Bytes of all audio files together.
    public var audioBytes: Int64 { audioFiles.reduce(0) { $0 + $1.bytes } }
    /// The recording rule that chose the call (nil: none matched, the default applied).
    public var ruleID: Int64? = nil
    /// When the call was first seen (its INVITE; a call without signalling: its first
    /// stream), epoch seconds: the ledger's time for the call, as for a call not recorded.
    /// Nil: the recording's start (a salvaged recording).
    public var callStartEpoch: Double? = nil
    /// The recording rule that chose the call says `--require` (it must be recorded completely).
    public var required = false
    /// Until when the recording is kept (Unix seconds), as the recording rules decided (nil: the default retention).
    public var retainUntilEpoch: Double? = nil
    /// Recorded under an on-demand rule: `retainUntilEpoch` is the time it
    /// has to be kept in (catalog keep), after which purge removes it.
    public var onDemand = false
    /// SHA-256 of the audio file, once committed.
    public var audioSHA256: String? = nil
    /// The first and last packet of the capture that belonged to the call
    /// (Wireshark's frame numbers for a file; packets read in this run, live).
    public var capturePackets: ClosedRange<Int>? = nil
    /// Whom the files are sealed to (`age1…`, in header order), once
    /// committed; nil when they are in the clear.
    public var sealedTo: [String]? = nil

    /// Each party's media against the signalling (caller, callee), for the
    /// ledger's completeness; nil when nothing was expected (never answered).
    public var legCoverage: [LegCoverage]? = nil

    /// Whether the recording's files are sealed.
    public var isSealed: Bool { sealedTo != nil }

    /// The call index as it may be shown outside the sealed files (the JSON
    /// lines of convert and record): the index itself in the clear; for a
    /// sealed recording without what only the sealed index holds (the DTMF
    /// digits, who spoke when), `CallIndex.withoutSealedContent()`.
    public var clearIndex: CallIndex { isSealed ? index.withoutSealedContent() : index }

    /// A summary of the recording `id` whose index is `index`.
    package init(id: String, audioFiles: [AudioFile], indexPath: String, index: CallIndex, start: MediaTime) {
        self.id = id
        self.audioFiles = audioFiles
        self.indexPath = indexPath
        self.index = index
        self.start = start
    }
}

/// A finished recording whose files are complete and synced under their
/// temporary names, not yet visible: `RecordingCommitter` enters it in the
/// catalog and renames the files into place.
public struct FinishedRecording {
    /// What the recording holds.
    public var summary: RecordingSummary
    /// The files in commit order: the audio first, the call index last.
    public let files: [AtomicFile]
    /// What they are sealed through (nil: in the clear); settled at commit.
    public let seal: (any RecordingSeal)?

    /// A recording of `summary` made of `files` (audio first, index last),
    /// sealed through `seal` when given.
    package init(summary: RecordingSummary, files: [AtomicFile], seal: (any RecordingSeal)? = nil) {
        self.summary = summary
        self.files = files
        self.seal = seal
    }
}

/// How much of what the signalling expects of one party's leg reached the
/// recording's timeline (issue 16): the span from the answer to the hang-up
/// against the first and the last media of the leg, in capture time.
public struct LegCoverage: Sendable, Equatable {
    /// When the leg's media was due to start and to end.
    public var expectedFrom: MediaTime
    public var expectedTo: MediaTime
    /// When the leg's first and last media arrived (nil: it sent none).
    public var mediaFrom: MediaTime?
    public var mediaTo: MediaTime?
    /// False when the call was on hold (or one-way) at its end: a leg silent at the end is then no defect.
    public var endJudged: Bool

    /// The leg of one party.
    package init(expectedFrom: MediaTime, expectedTo: MediaTime, mediaFrom: MediaTime?, mediaTo: MediaTime?, endJudged: Bool) {
        self.expectedFrom = expectedFrom
        self.expectedTo = expectedTo
        self.mediaFrom = mediaFrom
        self.mediaTo = mediaTo
        self.endJudged = endJudged
    }

    /// Seconds after the answer before the leg's first media (0 when it started in time, or sent none).
    public var lateStartS: Double { mediaFrom.map { max(0, $0.seconds(since: expectedFrom)) } ?? 0 }
    /// Seconds before the hang-up after the leg's last media (0 when it ran to the end, sent none, or was on hold at the end).
    public var earlyEndS: Double { endJudged ? mediaTo.map { max(0, expectedTo.seconds(since: $0)) } ?? 0 : 0 }
}
