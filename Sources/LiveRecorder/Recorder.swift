import CallMedia
import CallrecCore
import Capture
import Catalog
import Commit
import Evidence
import Foundation
import Output
import Pipeline

/// The live recorder (`callrec record`): reads a capture stream that never
/// ends (standard input from `tcpdump -U -w -`, or a live interface), writes
/// each call when it ends, and keeps going for months.
///
/// Threads:
/// - a reader takes packets from the input into a bounded queue (for a pipe
///   it waits when the queue is full, so the writer slows down; for a live
///   interface it drops and counts, beside libpcap's own counts);
/// - the front (the thread that calls `run`) slices packets, follows SIP and
///   routes RTP (`CaptureProcessor`): state that spans calls;
/// - `jobs` workers (`CallWorkers`) decode, mix, encode, analyse and commit
///   the calls, each call on one worker;
/// - a status thread prints the state every `statusInterval` seconds and on
///   `reportStatus()` (SIGUSR1).
///
/// Time. Calls end on BYE, CANCEL and the idle timeouts in capture time, as
/// in convert. When no packet arrives at all, capture time is moved on by
/// the wall-clock time since the last packet (checked every 200 ms), so
/// calls still end on a silent link; while packets flow, the wall clock
/// plays no part and the same input gives the same output.
///
/// Start and stop. `init` settles what a crash left (`CatalogStore.recover`:
/// interrupted commits, and temporary files when the previous recorder did
/// not stop cleanly) and takes the catalog's writer lock. `stop()` (SIGINT,
/// SIGTERM) stops reading, processes what was read, ends every call in flight
/// as `cut`, commits them and returns from `run`. A full disk pauses writing
/// (`DiskSpaceWait`) up to `diskFullWait` seconds, then the recorder stops.
public final class Recorder: @unchecked Sendable {
    // SAFETY: the mutable state shared between threads (`stopReason`,
    // `readerError`, `front`, `statusRequested`, `monitorDone`) is guarded by
    // `mutex`; everything else is either fixed after init or owned by the
    // thread in `run` (the processor, the rules).

    /// What the recorder is asked to do.
    public struct Settings: Sendable {
        /// Output folder, formats, timeouts, local parties: as for convert.
        public var convert: ConvertOptions
        /// Worker threads for the calls (default: the number of cores).
        public var jobs: Int
        /// Seconds between two status lines (0: only on request).
        public var statusInterval: Double = 60
        /// Seconds a full disk is waited out before the recorder stops (0: stop at once).
        public var diskFullWait: Double = 600
        /// Seconds between two reads of the catalog's recording rules.
        public var rulesInterval: Double = 5
        /// Bytes of packets queued between the reader and the front (a live
        /// interface's burst beyond it is dropped and counted).
        public var packetQueueBytes = 16 << 20
        /// Bytes of RTP payload queued per worker.
        public var workerQueueBytes = 4 << 20
        /// Finished calls whose lines wait for a slow reader of the output
        /// before more are dropped (counted): recording never waits for it.
        public var lineQueueLength = 4096
        /// Seconds to wait at the end for queued lines to be taken.
        public var lineFlushTimeout: Double = 10
        /// Who the start-up repairs are audited as.
        public var actor: CatalogActor = .operator("callrec-record")
        /// Called after each step of each commit (crash tests).
        public var afterCommitStep: (@Sendable (CommitStep) throws -> Void)? = nil
        /// Seconds between two signed checkpoints of the audit and manifest
        /// chains (one more is made when the recorder stops); 0: only then.
        public var checkpointInterval: Double = 300
        /// When Opus complexity is lowered because the workers fall behind (`OverloadControl`).
        public var overload = OverloadSettings()

        /// Settings with `convert`'s options and one worker per core.
        public init(convert: ConvertOptions, jobs: Int = ProcessInfo.processInfo.activeProcessorCount) {
            self.convert = convert
            self.jobs = jobs
        }
    }

    /// Where the recorder's output goes (called on any of its threads).
    public struct Events: Sendable {
        /// Each finished call, in the order calls ended.
        public var call: @Sendable (FinishedCall) -> Void
        /// Lines for the operator (standard error): start, repairs, status, disk, notes.
        public var message: @Sendable (String) -> Void
        /// Each signed checkpoint, as its JSON line (`Checkpoint.jsonLine`), on
        /// the same thread as `call` and in turn with the calls' lines.
        public var checkpoint: @Sendable (String) -> Void
        /// Each coverage failure (a required call that ended without a complete
        /// recording), as its JSON line, on the same thread as `call`, after its call's line.
        public var coverageFailure: @Sendable (String) -> Void
        /// Each overload step (Opus complexity lowered or raised, still behind at
        /// the lowest), as its JSON line, on the same thread as `call` and in turn with the calls' lines.
        public var overload: @Sendable (String) -> Void

        /// Events delivered to these closures.
        public init(
            call: @escaping @Sendable (FinishedCall) -> Void, message: @escaping @Sendable (String) -> Void,
            checkpoint: @escaping @Sendable (String) -> Void = { _ in }, coverageFailure: @escaping @Sendable (String) -> Void = { _ in },
            overload: @escaping @Sendable (String) -> Void = { _ in }
        ) {
            self.call = call
            self.message = message
            self.checkpoint = checkpoint
            self.coverageFailure = coverageFailure
            self.overload = overload
        }
    }

    /// One line of standard output: a finished call, a signed checkpoint, or a coverage failure.
    enum OutputLine: Sendable {
        case call(FinishedCall)
        case checkpoint(String)
        case coverageFailure(String)
        case overload(String)
    }

    /// Why `run` returned.
    public enum StopReason: String, Sendable {
        /// The input ended (the pipe was closed).
        case endOfInput = "end of input"
        /// `stop()` was called (SIGINT, SIGTERM).
        case stopped
        /// The disk stayed full longer than `diskFullWait`.
        case diskFull = "disk full"
        /// The input could not be read on (not a capture, cut, unreadable).
        case inputFailed = "input failed"
        /// An error no call could absorb.
        case failed
    }

    /// What a run did.
    public struct Summary: Sendable {
        public var reason: StopReason
        /// The error behind `inputFailed` or `failed`.
        public var error: String?
        /// Calls by outcome.
        public var recorded: Int
        public var skipped: Int
        public var encrypted: Int
        public var noMedia: Int
        public var failed: Int
        /// Calls turned away at `--max-calls` (a disk that stayed full: those are `failed` lines, `dropped` in the ledger).
        public var droppedCalls: Int
        /// Required calls that ended without a complete recording (each had its `coverage_failure` line).
        public var coverageFailures: Int
        /// Packets processed, and packets the input delivered (the difference: `dropped.queue`).
        public var packets: Int
        public var captured: Int
        /// Packets dropped because callrec fell behind a live interface: from
        /// its own queue, by the kernel (`ps_drop`), by the interface (`ps_ifdrop`).
        public var dropped: Drops
        /// Lines of finished calls not written because the output was not read.
        public var linesDropped: Int
        /// Overload: steps of Opus complexity down and up, and the lowest any frame was encoded with.
        public var complexityStepsDown = 0
        public var complexityStepsUp = 0
        public var lowestComplexity: Int? = nil
        /// Every count of the run (front and workers).
        public var counters: [(name: String, value: Int)]
        /// Notes about unusual input, at most `Diagnostics.maxNotes`.
        public var notes: [String]
    }

    /// Packets lost before callrec could process them (live capture only).
    public struct Drops: Sendable, Equatable {
        /// Dropped from the queue between the reader and the front (it was full).
        public var queue = 0
        /// libpcap's counts: dropped by the kernel, and by the interface or its driver.
        public var kernel = 0
        public var interface = 0
        /// All of them.
        public var total: Int { queue + kernel + interface }
    }

    /// What the front last published, for status lines.
    struct FrontState: Sendable {
        var packets = 0
        var callsInFlight = 0
        var callsEnded = 0
        var dialogs = 0
        var candidateStreams = 0
        var callsOverLimit = 0
        var streamsOverLimit = 0
        var tcpOverLimit = 0
        /// The capture time the front had reached, and the wall clock (monotonic) when it was there.
        var capture: MediaTime? = nil
        var routedAt = 0.0
    }

    /// The repairs made at start-up (nil when another writer held the catalog).
    public let recovery: VerifyReport?
    public let settings: Settings
    /// Where packets come from: a stream or file (`-`: standard input), or a live interface; with an optional BPF filter.
    public let input: CaptureSource.Input

    private let events: Events
    private let catalog: CatalogStore
    private let lock: CatalogLock
    private let committer: RecordingCommitter
    private let space: DiskSpaceWait
    private let ledger: CallLedger
    private let rules: LiveRules
    private let packets: HandoffQueue<PacketInfo>
    private let lines: HandoffQueue<OutputLine>
    /// Whose key signs the manifests and checkpoints.
    public let identity: RecorderIdentity
    /// What each manifest says the packets came from.
    private let capture: RecordingManifest.Capture
    /// The heads the last checkpoint signed (guarded by `checkpointLock`:
    /// the monitor thread and `run`'s last checkpoint both make them).
    private var lastCheckpoint: (audit: Int64, manifests: Int64)? = nil
    private let checkpointLock = Lock()
    private let marker: String
    private let keepMarker: Bool
    private let started = monotonicSeconds()

    private let mutex = Lock()
    private var stopReason: StopReason? = nil
    private var readerError: String? = nil
    /// libpcap's drop counts, as the reader last read them.
    private var liveDrops = (kernel: 0, interface: 0)
    /// Packets the input delivered to the reader.
    private var captured = 0
    /// The reader's counts (skipped bytes, filtered packets), once it has finished.
    private var readerDiagnostics: Diagnostics? = nil
    /// Stops a live capture's read loop (set by the reader once the interface is open).
    private var stopHandle: CaptureSource.StopHandle? = nil
    private var front = FrontState()
    private var statusRequested = false
    private var monitorDone = false
    private var workers: CallWorkers? = nil
    /// The complexity every call encodes its next frame with (nil: never changed: `overload.lag` 0, or not Opus).
    private let complexityLevel: OpusComplexityLevel?
    /// The overload control: changed by the status thread alone, read by `run` after that thread has ended.
    private var overload: OverloadControl? = nil

    /// The file whose presence at start says the previous recorder did not stop cleanly.
    public static let runningMarker = ".callrec-record.running"

    /// Opens (or creates) the catalog in the output folder, or uses `catalog`
    /// (whose folder must be the output folder: a shared PostgreSQL catalog),
    /// repairs what a crash left in its storage, takes the writer lock and
    /// reads the recording rules. Nothing is read from `input` until `run`.
    /// - Throws: `CatalogError.busy` while `catalog verify` repairs the
    ///   catalog; an error when the folder or catalog cannot be opened.
    public init(settings: Settings, input: CaptureSource.Input, events: Events, catalog: CatalogStore? = nil) throws {
        self.settings = settings
        self.input = input
        self.events = events
        let out = settings.convert.outputDirectory
        try AtomicFile.makeDirectories(out)
        self.catalog = try catalog ?? CatalogStore(path: out + "/" + CatalogStore.fileName)
        marker = out + "/" + Recorder.runningMarker
        let unclean = System.exists(marker)
        // Whose key signs, first: the recordings salvaged below are signed with it too.
        identity = try RecorderIdentity.open(keyPath: settings.convert.signingKeyPath, outputDirectory: out)
        try identity.register(in: self.catalog, label: RecorderIdentity.label(outputDirectory: out), by: settings.actor, at: Date().timeIntervalSince1970)
        events.message(identity.startLine)
        do {
            // The recordings of the calls that were in flight are kept as far as they were written.
            let salvage = RecordingSalvage(peaks: settings.convert.peaks, signer: ManifestSigner(identity: identity))
            let report = try self.catalog.recover(
                scanFolders: unclean, salvager: salvage.salvager, by: settings.actor, at: Date().timeIntervalSince1970)
            recovery = report
            for line in Recorder.describe(report, unclean: unclean, out: out) { events.message(line) }
        } catch let error as CatalogError where error.code == .busy {
            recovery = nil
            events.message(
                "callrec: another callrec is writing to \(out); start-up repairs skipped (callrec catalog verify makes them)")
        }
        // Repairs a crash called for but could not make: the marker stays for the next start.
        keepMarker = unclean && recovery == nil
        lock = try self.catalog.writerLock()
        rules = LiveRules(try self.catalog.ruleSet())
        // The lines go through a queue to their own thread: a reader of the output that
        // stops reading holds up that thread alone, never the calls.
        let lines = HandoffQueue<OutputLine>(capacity: max(1, settings.lineQueueLength), byteCapacity: 1)
        self.lines = lines
        let message = events.message
        ledger = CallLedger { call in
            lines.push(.call(call), bytes: UnsafeRawBufferPointer(start: nil, count: 0), wait: false)
            if let failure = call.coverageFailure {
                message(failure.message)
                lines.push(.coverageFailure(failure.jsonLine), bytes: UnsafeRawBufferPointer(start: nil, count: 0), wait: false)
            }
        }
        // A slot per 128 bytes: an RTP packet with its headers is about 200.
        packets = HandoffQueue(capacity: max(1024, settings.packetQueueBytes / 128), byteCapacity: settings.packetQueueBytes)
        // `self` is needed by the disk events (a give-up stops the recorder): set below.
        let stopper = StopRelay()
        space = DiskSpaceWait(limit: settings.diskFullWait) { event in
            switch event {
            case .full(let path, let limit):
                message("callrec: disk full writing \(path); recording paused, waiting up to \(Int(limit)) s for space")
            case .resumed(let seconds):
                message("callrec: disk space is back after \(Int(seconds.rounded())) s; recording resumed")
            case .gaveUp(let path, let seconds):
                message(
                    "callrec: disk still full after \(Int(seconds.rounded())) s (\(path)); stopping: calls in flight "
                        + "are not written, every call written so far is kept")
                stopper.stop(.diskFull)
            }
        }
        var options = settings.convert
        options.diskSpace = space
        // A capture file (given by name, or redirected to standard input) is read as fast as the
        // recorder takes it: nothing is owed to the clock, so its complexity never changes.
        if settings.overload.lag > 0 && options.format == .opus && !Recorder.isRegularFile(input) {
            let level = OpusComplexityLevel(options.opus.complexity)
            options.opusComplexity = level
            complexityLevel = level
        } else {
            complexityLevel = nil
        }
        let ids = RecordingCommitter.recordingIDs(for: self.catalog)
        options.recordingIDs = ids
        options.sealer = try CatalogSealer.forOptions(options, catalog: self.catalog)
        if let interface = input.interface {
            capture = .interface(name: interface, filter: input.filter, packets: nil)
        } else if let path = input.path, path != "-" {
            // A file replayed: named with its size; its calls are committed as they end, before its SHA-256 is known.
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
            capture = .file(path: path, bytes: size, sha256: nil, packets: nil)
        } else {
            capture = .stream(packets: nil)
        }
        committer = RecordingCommitter(
            catalog: self.catalog, outputDirectory: out, signer: ManifestSigner(identity: identity), options: options,
            afterStep: settings.afterCommitStep, space: space, ids: ids)
        self.options = options
        stopper.recorder = self
        try Recorder.writeMarker(marker)
    }

    private let options: ConvertOptions

    deinit {
        withExtendedLifetime(lock) {}
    }

    /// Passes a stop from the disk-space wait to the recorder, which does not exist yet when the wait is made.
    private final class StopRelay: @unchecked Sendable {
        // SAFETY: set once in init before any thread starts.
        weak var recorder: Recorder?
        func stop(_ reason: StopReason) { recorder?.stop(reason) }
    }

    /// Asks the recorder to stop: nothing more is read; what was read is
    /// processed, every call in flight ends as `cut` and is committed, and
    /// `run` returns. Safe from any thread (a signal watcher).
    public func stop() {
        stop(.stopped)
    }

    private func stop(_ reason: StopReason) {
        mutex.lock()
        if stopReason == nil || reason == .diskFull { stopReason = reason }
        let handle = stopHandle
        mutex.unlock()
        packets.finishInput()
        handle?.stop()
        // Calls in flight cannot wait for a disk that is full: they fail now rather than hold up the stop.
        if space.fullSince != nil { space.cancel() }
    }

    /// Prints a status line now (SIGUSR1). Safe from any thread.
    public func reportStatus() {
        mutex.lock()
        statusRequested = true
        mutex.signal()
        mutex.unlock()
    }

    /// Reads and records until the input ends or `stop()` is called, then
    /// finishes every call in flight. Call once.
    public func run() -> Summary {
        let diagnostics = Diagnostics()
        let workers = CallWorkers(count: settings.jobs, queueBytes: settings.workerQueueBytes)
        mutex.lock()
        self.workers = workers
        mutex.unlock()
        let ledger = self.ledger
        let committer = self.committer
        let capture = self.capture
        let catalog = self.catalog
        let space = self.space
        let events = self.events
        let lines = self.lines
        let processor = CaptureProcessor(
            options: options, diagnostics: diagnostics, policy: rules, executor: workers,
            // Every call enters the catalog's ledger: a recorded one with its recording (the
            // committer), any other here, alone. A ledger write that fails is the call's error.
            // A required call not recorded completely is a coverage failure: its line follows the call's.
            onCallEnded: { report in
                var failure: (any Error)? = nil
                var entry = report.recording?.ledgerEntry()
                if let alone = report.ledgerEntry {
                    entry = alone
                    do { try catalog.addToLedger(alone) } catch { failure = error }
                }
                var call = FinishedCall(report, error: failure)
                if failure != nil { entry = report.failedLedgerEntry(failure!) }
                call.coverageFailure = entry.flatMap { CoverageFailureLine($0, sequence: report.sequence) }
                ledger.add(call)
            },
            onCallFailed: { report, error in
                // A call the recorder gave up on for a disk that stayed full was dropped, not failed by itself.
                let entry = space.gaveUp ? report.droppedLedgerEntry(cause: "disk full: \(error)") : report.failedLedgerEntry(error)
                do {
                    try catalog.addToLedger(entry)
                } catch {
                    // The catalog's disk may be the full one: said, at least, where the operator looks.
                    events.message(
                        "callrec: call \(RecordingNaming.safeForDisplay(report.callID)) could not be entered in the ledger as "
                            + "\(entry.outcome.rawValue) (\(entry.detail ?? "")): \(error)")
                }
                var call = FinishedCall(report, error: error)
                call.coverageFailure = CoverageFailureLine(entry, sequence: report.sequence)
                ledger.add(call)
            },
            // Calls turned away at --max-calls, a second's worth in one transaction; a required
            // one is a coverage failure at once (it has no call line of its own).
            onCallsDropped: { entries in
                do {
                    try catalog.addToLedger(entries)
                } catch {
                    events.message("callrec: \(entries.count) calls turned away at --max-calls could not be entered in the ledger: \(error)")
                }
                ledger.noteDropped(entries.count)
                for entry in entries {
                    guard let failure = CoverageFailureLine(entry, sequence: nil) else { continue }
                    ledger.noteCoverageFailure()
                    events.message(failure.message)
                    lines.push(.coverageFailure(failure.jsonLine), bytes: UnsafeRawBufferPointer(start: nil, count: 0), wait: false)
                }
            },
            onRecording: { finished in
                let notes = Diagnostics()
                guard try committer.commit(finished, capture: capture, diagnostics: notes) != nil else {
                    // A legal hold or an erasure kept it out: its files are gone.
                    throw OutputError(code: .io, path: finished.summary.id, message: notes.notes.first ?? "not committed")
                }
            })
        events.message(
            "callrec: recording \(input) into \(options.outputDirectory) with \(workers.count) worker\(workers.count == 1 ? "" : "s")"
                + (settings.statusInterval > 0 ? "; status every \(Self.duration(settings.statusInterval))" : ""))
        events.message(SealingNotice.line(for: options.sealer))

        let reader = startReader()
        let monitor = WorkerThread { [self] in monitorLoop() }
        let linesDone = DispatchSemaphore(value: 0)
        let lineWriter = WorkerThread { [lines, events] in
            while lines.pop(
                timeout: nil,
                { line, _ in
                    switch line {
                    case .call(let call): events.call(call)
                    case .checkpoint(let text): events.checkpoint(text)
                    case .coverageFailure(let text): events.coverageFailure(text)
                    case .overload(let text): events.overload(text)
                    }
                }) != .finished
            {}
            linesDone.signal()
        }
        let fatal = frontLoop(processor)
        var failure = fatal
        do {
            try processor.finish()
        } catch {
            failure = failure ?? error
        }
        do {
            try workers.finish(into: diagnostics)
        } catch {
            failure = failure ?? error
        }
        if let error = workers.fatalError { failure = failure ?? error }
        ledger.flush()
        // The last checkpoint covers every commit of the run.
        checkpoint()
        lines.finishInput()
        if linesDone.wait(timeout: .now() + settings.lineFlushTimeout) == .success {
            lineWriter.join()
        } else {
            // The output's reader has stopped reading: its thread is left blocked in write().
            lines.abandon()
            lineWriter.detach()
        }

        mutex.lock()
        monitorDone = true
        mutex.signal()
        var reason = stopReason ?? .endOfInput
        let inputError = readerError
        let drops = Drops(queue: packets.dropped, kernel: liveDrops.kernel, interface: liveDrops.interface)
        let capturedCount = captured
        // The reader's own counts, once it has finished (a pipe's writer may still hold it in read()).
        if let read = readerDiagnostics { diagnostics.merge(read) }
        mutex.unlock()
        monitor.join()
        reader.detach()

        if inputError != nil, reason == .endOfInput { reason = .inputFailed }
        if failure != nil { reason = .failed }
        let counts = ledger.counts
        let overload = self.overload
        if !keepMarker {
            System.remove(marker)
            AtomicFile.syncDirectory(of: marker)
        }
        events.message(
            "callrec: stopped (\(reason.rawValue)): \(counts.recorded) recorded, \(counts.skipped) skipped by rule, "
                + "\(counts.noMedia) without media, \(counts.encrypted) encrypted, \(counts.failed) failed, "
                + "\(counts.dropped) dropped; \(counts.coverageFailures) coverage failure\(counts.coverageFailures == 1 ? "" : "s")"
                + (drops.total > 0 ? "; \(Self.describe(drops)) packets dropped" : "")
                + (lines.dropped > 0 ? "; \(lines.dropped) lines not written (standard output was not read)" : "")
                + (overload.map { $0.stepsDown > 0 ? "; overload: Opus complexity lowered \($0.stepsDown) time\($0.stepsDown == 1 ? "" : "s") (lowest \($0.lowest)), raised \($0.stepsUp), ending at \($0.current)" : "" } ?? ""))
        var summary = Summary(
            reason: reason, error: failure.map { String(describing: $0) } ?? inputError, recorded: counts.recorded,
            skipped: counts.skipped, encrypted: counts.encrypted, noMedia: counts.noMedia, failed: counts.failed,
            droppedCalls: counts.dropped, coverageFailures: counts.coverageFailures, packets: diagnostics[.packetsRead], captured: capturedCount, dropped: drops, linesDropped: lines.dropped,
            counters: diagnostics.nonZero.map { ($0.0.name, $0.1) }, notes: diagnostics.notes)
        if let overload {
            summary.complexityStepsDown = overload.stepsDown
            summary.complexityStepsUp = overload.stepsUp
            summary.lowestComplexity = overload.lowest
        }
        return summary
    }

    /// One packet in the reader's queue; its bytes travel beside it.
    struct PacketInfo {
        var timestamp: MediaTime
        var originalLength: Int
        var linkType: LinkType
        var number: Int
    }

    /// Starts the thread that reads the input into `packets`. From a pipe or
    /// file it waits while the queue is full (the writer slows down, nothing
    /// is lost); from a live interface it drops and counts instead, so the
    /// kernel's buffer keeps draining, and reads libpcap's own drop counts
    /// about twice a second.
    private func startReader() -> WorkerThread {
        let packets = self.packets
        let input = self.input
        return WorkerThread { [self] in
            struct Closed: Error {}
            let diagnostics = Diagnostics()
            var source: CaptureSource? = nil
            var closedEarly = false
            do {
                let opened = try CaptureSource(input, diagnostics: diagnostics)
                source = opened
                let live = input.interface != nil
                mutex.lock()
                stopHandle = opened.stopHandle
                let stopped = stopReason != nil
                mutex.unlock()
                if stopped { throw Closed() }
                if let interface = input.interface {
                    // From here on packets are captured (tcpdump says the same).
                    events.message("callrec: listening on \(interface)" + (input.filter.map { " (filter '\($0)')" } ?? ""))
                }
                var nextDrops = monotonicSeconds()
                try opened.forEachPacket { packet in
                    let info = PacketInfo(
                        timestamp: packet.timestamp, originalLength: packet.originalLength, linkType: packet.linkType,
                        number: packet.number)
                    if packets.push(info, bytes: packet.bytes, wait: !live) == .closed { throw Closed() }
                    if live, packet.number & 255 == 0, monotonicSeconds() >= nextDrops, let drops = opened.liveDrops {
                        nextDrops = monotonicSeconds() + 0.5
                        mutex.lock()
                        liveDrops = drops
                        mutex.unlock()
                    }
                }
                if let drops = opened.liveDrops {
                    mutex.lock()
                    liveDrops = drops
                    mutex.unlock()
                }
            } catch is Closed {
                // The packet in hand came after the stop: not taken.
                closedEarly = true
            } catch {
                mutex.lock()
                readerError = String(describing: error)
                mutex.unlock()
            }
            mutex.lock()
            readerDiagnostics = diagnostics
            captured = max(0, (source?.packetsRead ?? 0) - (closedEarly ? 1 : 0))
            mutex.unlock()
            packets.finishInput()
        }
    }

    /// The front: processes packets until the input is done; returns an error that stopped it.
    private func frontLoop(_ processor: CaptureProcessor) -> (any Error)? {
        var failure: (any Error)? = nil
        var lastPacketWall = monotonicSeconds()
        var lastPacketTime: MediaTime? = nil
        var nextPublish = 0.0
        var nextRules = lastPacketWall + settings.rulesInterval
        while failure == nil {
            let result = packets.pop(timeout: 0.2) { info, bytes in
                guard failure == nil else { return }
                let packet = RawPacket(
                    timestamp: info.timestamp, bytes: bytes, originalLength: info.originalLength, linkType: info.linkType,
                    number: info.number)
                do {
                    try processor.process(packet)
                } catch {
                    failure = error
                }
            }
            let wall = monotonicSeconds()
            switch result {
            case .delivered:
                lastPacketWall = wall
                lastPacketTime = processor.now
            case .timedOut:
                // A silent input: capture time goes on with the wall clock, so idle calls end.
                if let last = lastPacketTime, wall - lastPacketWall >= 1 {
                    do {
                        try processor.advanceClock(to: last.advanced(byNanoseconds: Int64((wall - lastPacketWall) * 1e9)))
                    } catch {
                        failure = error
                    }
                }
            case .finished:
                publish(processor)
                return failure
            }
            if let error = workers?.fatalError { failure = error }
            if wall >= nextPublish {
                publish(processor)
                nextPublish = wall + 0.25
            }
            if wall >= nextRules {
                nextRules = wall + settings.rulesInterval
                // Erasures made where this recorder's files are not (a shared PostgreSQL catalog)
                // leave rows `deleting` for the storage's own recorder: finish them.
                if let done = try? catalog.finishDeletions(), !done.isEmpty {
                    events.message("callrec: finished the erasure of \(done.count) recording\(done.count == 1 ? "" : "s") asked for elsewhere")
                }
                if let fresh = try? catalog.ruleSet(), fresh.rules != rules.current.rules {
                    rules.current = fresh
                    events.message(
                        "callrec: recording rules changed: \(fresh.rules.count) rule\(fresh.rules.count == 1 ? "" : "s") "
                            + "now decide the calls that start from here on")
                }
            }
        }
        packets.abandon()
        return failure
    }

    /// Makes the front's numbers visible to the status thread.
    private func publish(_ processor: CaptureProcessor) {
        let d = processor.diagnostics
        let state = FrontState(
            packets: d[.packetsRead], callsInFlight: processor.callsInFlight, callsEnded: processor.callsEnded, dialogs: processor.dialogsInFlight,
            candidateStreams: processor.candidateStreams, callsOverLimit: d[.callsDroppedOverLimit],
            streamsOverLimit: d[.rtpStreamsOverLimit], tcpOverLimit: d[.tcpFlowsOverLimit], capture: processor.now,
            routedAt: monotonicSeconds())
        mutex.lock()
        front = state
        mutex.unlock()
    }

    /// Signs a checkpoint of both chains' heads, stores it, and prints it
    /// (standard error, and in turn among the JSON lines), unless nothing
    /// changed since the last one. A failure is said and does not stop recording.
    private func checkpoint() {
        checkpointLock.lock()
        defer { checkpointLock.unlock() }
        do {
            guard let head = try catalog.auditHead(), let recorder = try catalog.recorder(id: identity.id) else { return }
            if let last = lastCheckpoint, last == (head.seq, recorder.headSequence) { return }
            let made = try Checkpoint.make(catalog, identity: identity, at: Date().timeIntervalSince1970)
            lastCheckpoint = (made.auditSeq, made.manifestSequence)
            events.message(Checkpoint.messageLine(made))
            lines.push(.checkpoint(Checkpoint.jsonLine(made)), bytes: UnsafeRawBufferPointer(start: nil, count: 0), wait: false)
        } catch {
            events.message("callrec: could not sign a checkpoint: \(error)")
        }
    }

    /// The status thread: a line every `statusInterval` seconds and on
    /// request; a signed checkpoint every `checkpointInterval` seconds.
    private func monitorLoop() {
        var next = settings.statusInterval > 0 ? monotonicSeconds() + settings.statusInterval : Double.infinity
        var nextCheckpoint = settings.checkpointInterval > 0 ? monotonicSeconds() + settings.checkpointInterval : Double.infinity
        var nextLook = complexityLevel != nil ? monotonicSeconds() + settings.overload.interval : Double.infinity
        var previous: (packets: Int, at: Double) = (0, monotonicSeconds())
        mutex.lock()
        if let complexityLevel {
            overload = OverloadControl(configured: complexityLevel.current, settings: settings.overload, now: monotonicSeconds())
        }
        while !monitorDone {
            if !statusRequested {
                let wake = min(next, nextCheckpoint, nextLook)
                if wake.isFinite {
                    mutex.wait(seconds: max(0, wake - monotonicSeconds()))
                } else {
                    mutex.wait()
                }
            }
            if monitorDone { break }
            let now = monotonicSeconds()
            if now >= nextLook {
                nextLook = now + settings.overload.interval
                let state = front
                mutex.unlock()
                lookAtLoad(state, at: now)
                mutex.lock()
                continue
            }
            if now >= nextCheckpoint {
                nextCheckpoint = now + settings.checkpointInterval
                mutex.unlock()
                checkpoint()
                mutex.lock()
                continue
            }
            guard statusRequested || now >= next else { continue }
            statusRequested = false
            if now >= next { next = now + settings.statusInterval }
            let state = front
            mutex.unlock()
            let rate = Double(state.packets - previous.packets) / max(0.001, now - previous.at)
            previous = (state.packets, now)
            events.message(statusLine(state, packetRate: rate, at: now))
            mutex.lock()
        }
        mutex.unlock()
    }

    /// One look of the overload control (status thread): steps the complexity
    /// of every call's next frame, and says each step on standard error and among the JSON lines.
    private func lookAtLoad(_ state: FrontState, at now: Double) {
        guard let complexityLevel, let capture = state.capture else { return }
        let work = workers?.fill.now ?? 0
        let read = packets.fill.now
        mutex.lock()
        let step = overload?.look(
            now: now, routedAt: state.routedAt, capture: Double(capture.nanoseconds) / 1e9, readFill: read, workFill: work)
        let level = overload?.current
        mutex.unlock()
        guard let step, let level else { return }
        complexityLevel.set(level)
        let line = OverloadLine(step, configured: settings.convert.opus.complexity, at: Date().timeIntervalSince1970, capture: capture)
        events.message(line.message)
        lines.push(.overload(line.jsonLine), bytes: UnsafeRawBufferPointer(start: nil, count: 0), wait: false)
    }

    /// `callrec: status: up 2h03m; calls: 187 in flight, 4321 recorded, ...; packets: ...; queues: ...`
    func statusLine(_ state: FrontState, packetRate: Double, at now: Double) -> String {
        let counts = ledger.counts
        let work = workers?.fill ?? (now: 0, peak: 0)
        // In flight: routed by the front, or ended and still being written. The front's numbers
        // are published a moment late; counted this way a call already reported is never in
        // flight, whether the snapshot was taken before or after its end.
        let inFlight = max(0, state.callsInFlight + state.callsEnded - counts.total)
        var parts = [
            "up \(Self.duration(now - started))",
            "calls: \(inFlight) in flight, \(counts.recorded) recorded, \(counts.skipped) skipped by rule, "
                + "\(counts.noMedia) without media, \(counts.encrypted) encrypted, \(counts.failed) failed, \(counts.dropped) dropped",
            "coverage failures: \(counts.coverageFailures)",
            "packets: \(state.packets) read (\(Int(packetRate.rounded()))/s), \(Self.describe(currentDrops)) dropped",
            "queues: read \(Int((packets.fill.now * 100).rounded())) %, work \(Int((work.now * 100).rounded())) %",
        ]
        if state.callsOverLimit + state.streamsOverLimit + state.tcpOverLimit > 0 {
            parts.append(
                "over limits: \(state.callsOverLimit) calls, \(state.streamsOverLimit) RTP streams, \(state.tcpOverLimit) TCP flows")
        }
        if lines.dropped > 0 {
            parts.append("\(lines.dropped) lines not written (standard output is not read)")
        }
        if let full = space.fullSince {
            parts.append("DISK FULL for \(Int(full.seconds.rounded())) s (\(full.path))")
        }
        mutex.lock()
        let overload = self.overload
        mutex.unlock()
        if let overload, overload.current != overload.configured || overload.lag > overload.settings.lag {
            parts.append(
                "overload: Opus complexity \(overload.current) (configured \(overload.configured)), "
                    + "\(String(format: "%.1f", overload.lag)) s behind, \(overload.stepsDown) steps down, \(overload.stepsUp) up")
        }
        return "callrec: status: " + parts.joined(separator: "; ")
    }

    /// The drops so far (from any thread).
    private var currentDrops: Drops {
        mutex.lock()
        defer { mutex.unlock() }
        return Drops(queue: packets.dropped, kernel: liveDrops.kernel, interface: liveDrops.interface)
    }

    /// `0`, or `12 (queue 2, kernel 10, interface 0)`.
    static func describe(_ drops: Drops) -> String {
        drops.total == 0 ? "0" : "\(drops.total) (queue \(drops.queue), kernel \(drops.kernel), interface \(drops.interface))"
    }

    /// `45 s`, `12m05s`, `3h07m`, `2d04h`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        return "\(s / 86400)d\(String(format: "%02d", s % 86400 / 3600))h"
    }

    /// The lines that tell what the start-up repairs found.
    static func describe(_ report: VerifyReport, unclean: Bool, out: String) -> [String] {
        var found: [String] = []
        func count(_ n: Int, _ what: String) { if n > 0 { found.append("\(n) \(what)") } }
        count(report.salvaged.count, "recording\(report.salvaged.count == 1 ? "" : "s") cut by the crash salvaged")
        count(report.temporaryFilesRemoved.count, "temporary file\(report.temporaryFilesRemoved.count == 1 ? "" : "s") removed")
        count(report.pendingCompleted.count, "interrupted commit\(report.pendingCompleted.count == 1 ? "" : "s") completed")
        count(report.pendingRolledBack.count, "interrupted commit\(report.pendingRolledBack.count == 1 ? "" : "s") rolled back")
        count(report.deletionsFinished.count, "interrupted deletion\(report.deletionsFinished.count == 1 ? "" : "s") finished")
        var lines: [String] = []
        if unclean {
            lines.append(
                "callrec: the previous recorder in \(out) did not stop cleanly; "
                    + (found.isEmpty ? "nothing was left to repair" : "repaired: " + found.joined(separator: ", ")))
        } else if !found.isEmpty {
            lines.append("callrec: repaired in \(out): " + found.joined(separator: ", "))
        }
        for (id, detail) in report.salvaged { lines.append("callrec:   salvaged \(id): \(detail)") }
        for id in report.pendingCompleted { lines.append("callrec:   completed \(id)") }
        for id in report.pendingRolledBack { lines.append("callrec:   rolled back \(id)") }
        for path in report.temporaryFilesRemoved.prefix(20) { lines.append("callrec:   removed \(path)") }
        if report.temporaryFilesRemoved.count > 20 {
            lines.append("callrec:   ... and \(report.temporaryFilesRemoved.count - 20) more temporary files")
        }
        return lines
    }

    /// Whether the input is a regular file (a replay), not a pipe, FIFO or interface.
    static func isRegularFile(_ input: CaptureSource.Input) -> Bool {
        guard input.interface == nil, let path = input.path else { return false }
        var status = stat()
        let result = path == "-" ? fstat(0, &status) : stat(path, &status)
        return result == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// Creates the running marker (the process id inside), synced.
    static func writeMarker(_ path: String) throws {
        do throws(SystemError) {
            let fd = try System.create(path)
            defer { System.close(fd) }
            try System.writeAll(fd, Array("\(System.processID)\n".utf8))
            try System.sync(fd)
        } catch {
            throw OutputError(code: .io, path: path, message: "cannot create: \(error)")
        }
        AtomicFile.syncDirectory(of: path)
    }
}

/// The catalog's recording rules, read again while the recorder runs so a
/// rule added with `callrec catalog rules add` applies within seconds.
/// Read and replaced on the front thread only.
final class LiveRules: RecordingPolicy, @unchecked Sendable {
    // SAFETY: `current` is read (decide) and replaced (reload) on the front thread only.
    var current: RuleSet

    init(_ rules: RuleSet) {
        current = rules
    }

    func decide(_ call: CallFacts) -> RuleDecision {
        current.decide(call)
    }
}
