import CallMedia
import CallrecCore
import Pipeline
import RTP
import SIP

/// Spreads calls over worker threads: each call is given to one worker for
/// its whole life (by its router key, so the same input always lands the
/// same way), and everything the router hands it (packets, description
/// changes, the end) is queued to that worker in capture order. A worker
/// decodes, mixes, encodes, analyses and commits its calls; calls on
/// different workers run in parallel.
///
/// Each worker has a bounded queue (`HandoffQueue`): when a worker falls
/// behind, the router waits for it rather than growing memory. A call whose
/// recording fails on its worker (a write error, a full disk given up) keeps
/// the error (`CallSession.failure`), skips its remaining packets and is
/// reported as failed when it ends; the other calls go on.
final class CallWorkers: CallExecutor, @unchecked Sendable {
    // SAFETY: `queues`, `diagnostics` and `threads` are fixed after init; a
    // worker touches only its own queue's consumer side, its own Diagnostics
    // and the sessions queued to it; the router touches only the producer
    // side. `fatalError` is guarded by `mutex`.

    /// One unit of a worker's work.
    enum Job {
        /// An RTP packet; its payload is the queued bytes.
        case packet(CallSession, RTPHeader, CallSide, stream: Int, path: Int, MediaTime)
        /// Anything else for a call, in order with its packets.
        case work(Work)
    }

    /// A closure on the heap (the work of a call's event).
    final class Work {
        let run: () throws -> Void
        init(_ run: @escaping () throws -> Void) { self.run = run }
    }

    /// How many workers.
    let count: Int
    private let queues: [HandoffQueue<Job>]
    /// Each worker's counts (merged by `finish`).
    private let diagnostics: [Diagnostics]
    private var threads: [WorkerThread] = []
    private let mutex = Lock()
    private var fatal: (any Error)? = nil

    /// Starts `count` workers, each with a queue of `queueBytes` bytes of packets.
    init(count: Int, queueBytes: Int) {
        self.count = max(1, count)
        queues = (0..<self.count).map { _ in HandoffQueue<Job>(capacity: max(1024, queueBytes / 128), byteCapacity: queueBytes) }
        diagnostics = (0..<self.count).map { _ in Diagnostics() }
        threads = (0..<self.count).map { k in
            WorkerThread { [self] in work(k) }
        }
    }


    private func work(_ k: Int) {
        let queue = queues[k]
        while true {
            let result = queue.pop(timeout: nil) { job, bytes in
                switch job {
                case .packet(let session, let header, let side, let stream, let path, let time):
                    guard session.failure == nil else { return }
                    do {
                        try session.receive(header, payload: bytes, from: side, stream: stream, path: path, at: time)
                    } catch {
                        // The recording cannot go on: drop it now (its temporary files go) and say so at the end.
                        session.failure = error
                        session.discard()
                    }
                case .work(let work):
                    do {
                        try work.run()
                    } catch {
                        record(error)
                    }
                }
            }
            if result == .finished { return }
        }
    }

    private func record(_ error: any Error) {
        mutex.lock()
        if fatal == nil { fatal = error }
        mutex.unlock()
    }

    /// The first error a call's work threw that was not the call's own (nil if none).
    var fatalError: (any Error)? {
        mutex.lock()
        defer { mutex.unlock() }
        return fatal
    }

    func makeSession(key: Int, description: CallDescription, signalled: Bool, options: ConvertOptions) -> CallSession {
        let worker = key % count
        let session = CallSession(description: description, signalled: signalled, options: options, diagnostics: diagnostics[worker])
        session.worker = worker
        return session
    }

    func receive(
        _ session: CallSession, _ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, stream: Int,
        path: Int, at time: MediaTime
    ) throws {
        queues[session.worker].push(.packet(session, header, side, stream: stream, path: path, time), bytes: payload, wait: true)
    }

    func perform(on session: CallSession, _ work: @escaping () throws -> Void) throws {
        queues[session.worker].push(.work(Work(work)), bytes: UnsafeRawBufferPointer(start: nil, count: 0), wait: true)
    }

    /// How full the fullest worker queue is now and has ever been (0 to 1).
    var fill: (now: Double, peak: Double) {
        queues.map(\.fill).reduce((0, 0)) { (max($0.0, $1.now), max($0.1, $1.peak)) }
    }

    /// Lets every worker finish what is queued, ends them, and adds their
    /// counts to `into`.
    func finish(into total: Diagnostics) {
        for queue in queues { queue.finishInput() }
        for thread in threads { thread.join() }
        threads = []
        for d in diagnostics { total.merge(d) }
    }
}
