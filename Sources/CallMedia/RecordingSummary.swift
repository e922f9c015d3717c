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

/// When the first and the last media of one leg arrived (audio, comfort
/// noise or RFC 4733 events that reached its timeline): what `LegCoverage`
/// holds against the signalling. Extending it is the call ledger's only work
/// per packet (the Benchmarks' `CallLedger` suite measures it beside the
/// whole per-packet path).
public struct MediaSpan: Sendable, Equatable {
    public var first: MediaTime
    public var last: MediaTime

    /// The span of a leg whose first media arrived at `time`.
    @inlinable
    public init(at time: MediaTime) {
        first = time
        last = time
    }

    /// Takes the arrival of the leg's next media (a packet reordered behind a later one leaves it).
    @inlinable
    public mutating func extend(to time: MediaTime) {
        if time > last { last = time }
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
    /// The spans the call was on hold (or one-way), each within the expected
    /// span: the leg may be silent there by right, wherever in the call they
    /// fall (at the answer, in the middle, or open at the end).
    public var holds: [ClosedRange<MediaTime>]

    /// The leg of one party.
    package init(
        expectedFrom: MediaTime, expectedTo: MediaTime, mediaFrom: MediaTime?, mediaTo: MediaTime?, holds: [ClosedRange<MediaTime>] = []
    ) {
        self.expectedFrom = expectedFrom
        self.expectedTo = expectedTo
        self.mediaFrom = mediaFrom
        self.mediaTo = mediaTo
        self.holds = holds
    }

    /// Seconds of expected media (after the answer, off hold) before the leg's first (0 when it started in time, or sent none).
    public var lateStartS: Double {
        guard let mediaFrom else { return 0 }
        return max(0, mediaFrom.seconds(since: expectedFrom) - heldSeconds(from: expectedFrom, to: mediaFrom))
    }

    /// Seconds of expected media (off hold, before the hang-up) after the leg's last (0 when it ran to the end, or sent none).
    /// A leg that stops when the call goes on hold for good is not cut; one that stopped long before the hold is.
    public var earlyEndS: Double {
        guard let mediaTo else { return 0 }
        return max(0, expectedTo.seconds(since: mediaTo) - heldSeconds(from: mediaTo, to: expectedTo))
    }

    /// Seconds on hold between `start` and `end`.
    private func heldSeconds(from start: MediaTime, to end: MediaTime) -> Double {
        guard start < end else { return 0 }
        return holds.reduce(0) { sum, hold in
            let lower = max(start, hold.lowerBound)
            let upper = min(end, hold.upperBound)
            return lower < upper ? sum + upper.seconds(since: lower) : sum
        }
    }
}
