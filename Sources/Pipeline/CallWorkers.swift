import CallMedia
import CallrecCore
import RTP
import SIP

/// Spreads calls over worker threads: each call is given to one worker for
/// its whole life (the worker with the fewest calls in flight when the call
/// starts, counted by the router, so the same input always lands the same
/// way), and everything the router hands it (packets, description changes,
/// the end) is queued to that worker in capture order. A worker decodes,
/// mixes, encodes and analyses its calls; calls on different workers run in
/// parallel. `record` and `convert --jobs` both run their calls here.
///
/// Each worker has a bounded queue (`HandoffQueue`): when a worker falls
/// behind, the router waits for it rather than growing memory, so memory
/// grows with the calls in flight, never with the capture.
///
/// What a call's end makes visible (its commit, its ledger row) is the
/// `complete` step's effect, and `order` says where it runs:
///
/// - `.asFinished` (record): on the worker, as soon as the call is finished.
///   A call whose recording fails on its worker (a write error, a full disk
///   given up) keeps the error (`CallSession.failure`), skips its remaining
///   packets and is reported as failed when it ends; the other calls go on.
/// - `.capture` (convert): on the router's thread, in `release`, in the
///   order the router handed the work out — the order `InlineExecutor` runs
///   it in — so the output is the same as with no workers: the same
///   recording ids, commit order, manifest chain, ledger and first error.
///   Every job carries a ticket (the router's count of jobs handed out); an
///   effect is released once every job before it has run on every worker,
///   and a job that fails becomes an effect that throws at its ticket, so
///   effects after it never run, as they would not have with no workers.
package final class CallWorkers: CallExecutor, @unchecked Sendable {
    // SAFETY: `queues`, `order`, `count` and `threads` are fixed after init
    // (`threads` is emptied by the router once they are joined); a worker
    // touches only its own queue's consumer side, its own `Diagnostics` and
    // the sessions queued to it; the router touches only the producer side,
    // `nextTicket`, `pushed`, `inFlight` and `stopped`. `fatal`, `done` and
    // `effects` are guarded by `mutex`. A session's `Diagnostics` in
    // `.capture` order is its own: the worker counts into it until the call's
    // end has run, the router merges it in as part of the end's effect.

    /// Where the effect of a call's end runs (see the type's comment).
    package enum Order: Equatable {
        /// On the worker, as soon as the call is finished (record).
        case asFinished
        /// On the router's thread, in `release`, in capture order (convert).
        case capture
    }

    /// One unit of a worker's work, numbered by the router.
    struct Job {
        var ticket: Int
        var kind: Kind
    }

    enum Kind {
        /// An RTP packet; its payload is the queued bytes.
        case packet(CallSession, RTPHeader, CallSide, stream: Int, path: Int, MediaTime)
        /// Anything else for a call, in order with its packets.
        case work(Work)
    }

    /// A call's work on the heap; what it returns is the effect to run after
    /// it (in `order`), nil for none.
    final class Work {
        let run: () -> (() throws -> Void)?
        init(_ run: @escaping () -> (() throws -> Void)?) { self.run = run }
    }

    /// How many workers.
    package let count: Int
    /// Where the effects of calls' ends run.
    package let order: Order
    private let queues: [HandoffQueue<Job>]
    /// Each worker's counts (merged by `finish`); in `.capture` order each session has its own.
    private let diagnostics: [Diagnostics]
    /// Where a session's own counts are merged, in `.capture` order (the router's).
    private let into: Diagnostics?
    private var threads: [WorkerThread] = []
    private let mutex = Lock()
    private var fatal: (any Error)? = nil
    /// Router-owned: the next job's ticket, the last ticket pushed to each worker, each worker's calls in flight.
    private var nextTicket = 1
    private var pushed: [Int]
    private var inFlight: [Int]
    /// Router-owned: the workers are gone (`stop` or `finish`); work left is run on the caller's thread.
    private var stopped = false
    /// Guarded by `mutex`: the last ticket each worker has run, and the effects waiting for their turn.
    private var done: [Int]
    private var effects: [(ticket: Int, run: () throws -> Void)] = []
    /// Router-owned: calls of `release` since the last look under the lock.
    private var releaseCalls = 0

    /// Starts `count` workers, each with a queue of `queueBytes` bytes of packets.
    /// - Parameters:
    ///   - order: where the effects of calls' ends run.
    ///   - diagnostics: in `.capture` order, where each call's counts are merged as its end's effect runs.
    package init(count: Int, queueBytes: Int, order: Order = .asFinished, diagnostics: Diagnostics? = nil) {
        self.count = max(1, count)
        self.order = order
        into = order == .capture ? diagnostics ?? Diagnostics() : nil
        queues = (0..<self.count).map { _ in HandoffQueue<Job>(capacity: max(1024, queueBytes / 128), byteCapacity: queueBytes) }
        self.diagnostics = (0..<self.count).map { _ in Diagnostics() }
        pushed = Array(repeating: 0, count: self.count)
        inFlight = Array(repeating: 0, count: self.count)
        done = Array(repeating: 0, count: self.count)
        threads = (0..<self.count).map { k in
            WorkerThread { [self] in work(k) }
        }
    }

    private func work(_ k: Int) {
        let queue = queues[k]
        var ready: [(ticket: Int, run: () throws -> Void)] = []
        while true {
            var last = 0
            let result = queue.pop(timeout: nil) { job, bytes in
                last = job.ticket
                switch job.kind {
                case .packet(let session, let header, let side, let stream, let path, let time):
                    guard session.failure == nil else { return }
                    do {
                        try session.receive(header, payload: bytes, from: side, stream: stream, path: path, at: time)
                    } catch {
                        // The recording cannot go on: drop it now (its temporary files go). Record says so
                        // when the call ends; convert fails here, at this packet, as with no workers.
                        session.failure = error
                        session.discard()
                        if order == .capture { ready.append((job.ticket, { throw error })) }
                    }
                case .work(let work):
                    guard let effect = work.run() else { return }
                    if order == .capture {
                        ready.append((job.ticket, effect))
                    } else {
                        do {
                            try effect()
                        } catch {
                            record(error)
                        }
                    }
                }
            }
            if result == .finished { return }
            if order == .capture {
                mutex.withLock {
                    done[k] = last
                    effects.append(contentsOf: ready)
                }
                ready.removeAll(keepingCapacity: true)
            }
        }
    }

    private func record(_ error: any Error) {
        mutex.withLock {
            if fatal == nil { fatal = error }
        }
    }

    /// The first error a call's work threw that was not the call's own (nil if none; `.asFinished` order).
    package var fatalError: (any Error)? {
        mutex.withLock { fatal }
    }

    package func makeSession(key: Int, description: CallDescription, signalled: Bool, options: ConvertOptions) -> CallSession {
        // The worker with the fewest calls in flight (the first of them on a tie): calls of
        // different lengths keep the workers evenly busy, where a turn by turn deal would not.
        var worker = 0
        for k in 1..<count where inFlight[k] < inFlight[worker] { worker = k }
        inFlight[worker] += 1
        let counts = order == .capture ? Diagnostics() : diagnostics[worker]
        let session = CallSession(description: description, signalled: signalled, options: options, diagnostics: counts)
        session.worker = worker
        return session
    }

    private func push(_ kind: Kind, to worker: Int, bytes: UnsafeRawBufferPointer) {
        let ticket = nextTicket
        nextTicket += 1
        pushed[worker] = ticket
        queues[worker].push(Job(ticket: ticket, kind: kind), bytes: bytes, wait: true)
    }

    package func receive(
        _ session: CallSession, _ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, stream: Int,
        path: Int, at time: MediaTime
    ) throws {
        if stopped { return }
        push(.packet(session, header, side, stream: stream, path: path, time), to: session.worker, bytes: payload)
    }

    package func perform(on session: CallSession, _ work: @escaping () throws -> Void) throws {
        if stopped { return try work() }
        push(
            .work(
                Work {
                    do {
                        try work()
                        return nil
                    } catch {
                        return { throw error }
                    }
                }), to: session.worker, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    package func discard(_ session: CallSession) throws {
        inFlight[session.worker] -= 1
        try perform(on: session) { session.discard() }
    }

    package func complete<Result>(
        _ session: CallSession, _ work: @escaping () throws -> Result, then effect: @escaping (Swift.Result<Result, any Error>) throws -> Void
    ) throws {
        inFlight[session.worker] -= 1
        let into = self.into
        let run: () -> (() throws -> Void)? = {
            let result = Swift.Result { try work() }
            guard let into else { return { try effect(result) } }
            return {
                // The call's counts join the run's in capture order too, its effect's among them.
                defer { into.merge(session.diagnostics) }
                try effect(result)
            }
        }
        if stopped { return try run()?() ?? () }
        push(.work(Work(run)), to: session.worker, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Runs on this (the router's) thread, in ticket order, every effect
    /// whose turn has come: every job before it has run, on every worker.
    /// Throws the first job's error in capture order (the effects after it
    /// are not run). Looks under the lock every 64th call (and whenever
    /// `force`): the router calls it after each packet.
    package func release(force: Bool = false) throws {
        guard order == .capture else { return }
        releaseCalls += 1
        guard force || releaseCalls >= 64 else { return }
        releaseCalls = 0
        let turn: [(ticket: Int, run: () throws -> Void)] = mutex.withLock {
            guard !effects.isEmpty else { return [] }
            // Every ticket below `mark` has run: a worker that has run all it was given holds
            // nothing back (what it is given next has a higher ticket than any so far).
            var mark = Int.max
            for k in 0..<count where done[k] < pushed[k] { mark = min(mark, done[k] + 1) }
            effects.sort { $0.ticket < $1.ticket }
            let n = effects.firstIndex { $0.ticket >= mark } ?? effects.count
            let turn = Array(effects[0..<n])
            effects.removeFirst(n)
            return turn
        }
        for effect in turn { try effect.run() }
    }

    /// How full the fullest worker queue is now and has ever been (0 to 1).
    package var fill: (now: Double, peak: Double) {
        queues.map(\.fill).reduce((0, 0)) { (max($0.0, $1.now), max($0.1, $1.peak)) }
    }

    /// Lets every worker finish what is queued, ends them, and adds their
    /// counts to `into`. In `.capture` order, then runs every effect left
    /// (`release`): throws the first error in capture order.
    package func finish(into total: Diagnostics) throws {
        for queue in queues { queue.finishInput() }
        join(into: total)
        try release(force: true)
    }

    /// Ends the workers at once (the run failed): what is queued is never
    /// run (its calls' temporary files go with it), the effects waiting are
    /// dropped, and work handed over from now on runs on the caller's thread
    /// (`CaptureProcessor.discardAll`). Adds the workers' counts to `into`.
    package func stop(into total: Diagnostics) {
        for queue in queues { queue.abandon() }
        join(into: total)
        mutex.withLock { effects.removeAll() }
    }

    private func join(into total: Diagnostics) {
        guard !stopped else { return }
        stopped = true
        for thread in threads { thread.join() }
        threads = []
        for d in diagnostics { total.merge(d) }
    }
}
