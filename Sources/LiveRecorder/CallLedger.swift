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
        waiting[call.sequence] = call
        while let line = waiting.removeValue(forKey: next) {
            emit(line)
            next += 1
        }
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
