import CallrecCore

/// What a writer does when the disk is full: wait for space to come back,
/// up to a limit, instead of failing at once. The live recorder gives one to
/// every file it writes (`AtomicFile`) and to its catalog commits, so a full
/// disk pauses recording and nothing written so far is lost or left half
/// written: the write that failed is tried again, byte for byte, from where
/// it stopped.
///
/// One wait is shared by every writer of a process. The first writer that
/// meets `ENOSPC` starts an episode (reported once); every writer that meets
/// it retries every `retryInterval` seconds; the first write that succeeds
/// ends the episode (reported). An episode longer than `limit` seconds gives
/// up for good (reported): from then on every wait returns false at once, and
/// the writers fail with `OutputError.noSpace`. `cancel()` (shutdown) does
/// the same without waiting for the limit.
///
/// Thread-safe: writers on any thread may wait at once.
public final class DiskSpaceWait: @unchecked Sendable {
    // SAFETY: every stored var is read and written with `mutex` held; the
    // condition variable is only used with it.

    /// What happened, for the recorder's messages.
    public enum Event: Sendable, Equatable {
        /// A write to `path` found the disk full; writers wait up to `limit` seconds.
        case full(path: String, limit: Double)
        /// A write succeeded again after the disk was full for `seconds`.
        case resumed(seconds: Double)
        /// The disk stayed full for `seconds` (the limit): writers fail from now on.
        case gaveUp(path: String, seconds: Double)
    }

    /// Seconds an episode may last before the writers give up.
    public let limit: Double
    /// Seconds between two tries of a write that found the disk full.
    public let retryInterval: Double

    private let onEvent: @Sendable (Event) -> Void
    private let mutex = Lock()
    private var episodeStart: Double? = nil
    private var episodePath = ""
    private var finished = false

    /// - Parameters:
    ///   - limit: how long a full disk is waited out, in seconds (0: not at all).
    ///   - retryInterval: how often a waiting write is tried again, in seconds.
    ///   - onEvent: told when an episode starts, ends, or is given up (called on the writer's thread, no lock held).
    public init(limit: Double, retryInterval: Double = 1, onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.limit = limit
        self.retryInterval = retryInterval
        self.onEvent = onEvent
    }


    /// Called after a write to `path` failed with `ENOSPC`. Blocks up to
    /// `retryInterval` seconds; returns true when the write should be tried
    /// again, false when the writer should give up (the episode passed
    /// `limit`, or `cancel()` was called).
    public func waitForSpace(path: String) -> Bool {
        if limit <= 0 { return false }
        var event: Event? = nil
        defer { if let event { onEvent(event) } }
        mutex.lock()
        defer { mutex.unlock() }
        if finished { return false }
        let now = monotonicSeconds()
        guard let start = episodeStart else {
            episodeStart = now
            episodePath = path
            event = .full(path: path, limit: limit)
            return sleep(from: now)
        }
        if now - start >= limit {
            finished = true
            mutex.broadcast()
            event = .gaveUp(path: episodePath, seconds: now - start)
            return false
        }
        return sleep(from: now)
    }

    /// Waits `retryInterval` (or until cancelled); the mutex is held on entry and exit.
    private func sleep(from now: Double) -> Bool {
        let deadline = monotonicSeconds() + min(retryInterval, limit)
        while !finished {
            let left = deadline - monotonicSeconds()
            if left <= 0 || !mutex.wait(seconds: left) { break }
        }
        return !finished
    }

    /// Called after a write that had waited succeeded: the episode, if any, is over.
    public func spaceReturned() {
        var event: Event? = nil
        mutex.lock()
        if let start = episodeStart, !finished {
            event = .resumed(seconds: monotonicSeconds() - start)
            episodeStart = nil
        }
        mutex.unlock()
        if let event { onEvent(event) }
    }

    /// Stops all waiting, now and later: every wait returns false at once.
    public func cancel() {
        mutex.lock()
        finished = true
        mutex.broadcast()
        mutex.unlock()
    }

    /// Since when (seconds ago) and on which file the disk has been full, or nil.
    public var fullSince: (seconds: Double, path: String)? {
        mutex.lock()
        defer { mutex.unlock() }
        return episodeStart.map { (monotonicSeconds() - $0, episodePath) }
    }

    /// Whether the writers gave up (or were cancelled).
    public var gaveUp: Bool {
        mutex.lock()
        defer { mutex.unlock() }
        return finished
    }

    /// Runs `body` (a write to `path`) until it does not fail for want of
    /// space, waiting in between; `isNoSpace` tells which errors mean a full disk.
    /// - Throws: the last error, when the wait gives up, or any other error at once.
    public func retrying<T>(path: String, isNoSpace: (any Error) -> Bool, _ body: () throws -> T) throws -> T {
        var waited = false
        while true {
            do {
                let value = try body()
                if waited { spaceReturned() }
                return value
            } catch where isNoSpace(error) {
                guard waitForSpace(path: path) else { throw error }
                waited = true
            }
        }
    }
}
