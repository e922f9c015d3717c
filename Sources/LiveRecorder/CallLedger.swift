import CallrecCore

/// The recorder's account of finished calls: counts them by outcome and
/// hands their lines out in the order the calls ended (`CallReport.sequence`),
/// whichever worker finished first, so the same input gives the same
/// output. A line waits only for the calls that ended before it; the wait
/// holds at most the calls in flight.
///
/// Thread-safe: workers report here concurrently.
final class CallLedger: @unchecked Sendable {
    // SAFETY: every stored var is read and written with `mutex` held; `emit`
    // is called with it held, so lines leave in order.

    /// Calls by outcome so far.
    struct Counts: Sendable, Equatable {
        var recorded = 0
        var skipped = 0
        var encrypted = 0
        var noMedia = 0
        var failed = 0
        /// Calls turned away at `--max-calls` (entered in the catalog's ledger as `dropped`; no line of their own).
        var dropped = 0
        /// Required calls that ended without a complete recording (each has a `coverage_failure` line).
        var coverageFailures = 0
        /// Every call reported.
        var total: Int { recorded + skipped + encrypted + noMedia + failed }
    }

    private let emit: @Sendable (FinishedCall) -> Void
    private let mutex = Lock()
    private var waiting: [Int: FinishedCall] = [:]
    private var next = 1
    private var tally = Counts()

    /// A ledger that passes each line to `emit`, in order.
    init(emit: @escaping @Sendable (FinishedCall) -> Void) {
        self.emit = emit
    }


    /// Takes a finished call (from any thread).
    func add(_ call: FinishedCall) {
        mutex.lock()
        defer { mutex.unlock() }
        switch call.outcome {
        case .recorded: tally.recorded += 1
        case .skipped: tally.skipped += 1
        case .encrypted: tally.encrypted += 1
        case .noMedia: tally.noMedia += 1
        case .failed: tally.failed += 1
        }
        if call.coverageFailure != nil { tally.coverageFailures += 1 }
        waiting[call.sequence] = call
        while let line = waiting.removeValue(forKey: next) {
            emit(line)
            next += 1
        }
    }

    /// Counts `count` calls turned away at the cap.
    func noteDropped(_ count: Int) {
        mutex.lock()
        tally.dropped += count
        mutex.unlock()
    }

    /// Counts a coverage failure of a call without a line of its own (dropped).
    func noteCoverageFailure() {
        mutex.lock()
        tally.coverageFailures += 1
        mutex.unlock()
    }

    /// The counts so far.
    var counts: Counts {
        mutex.lock()
        defer { mutex.unlock() }
        return tally
    }

    /// Emits whatever still waits (in order, across any gap): the run is over.
    func flush() {
        mutex.lock()
        defer { mutex.unlock() }
        for sequence in waiting.keys.sorted() {
            emit(waiting[sequence]!)
        }
        waiting.removeAll()
    }
}
