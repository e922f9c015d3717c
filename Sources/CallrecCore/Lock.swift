#if canImport(Glibc)
import Glibc
#endif

/// A mutex and its condition variable: the one lock type of callrec, after
/// swift-nio's `NIOLock` and `ConditionLock`. Everything that threads share
/// is guarded by one; nothing else calls pthread's mutex or condition
/// functions.
///
/// The mutex and the condition are allocated once, in `init`, and every
/// return code is checked: a failure is a programming error (a lock used
/// after it was destroyed, unlocked by a thread that does not hold it) and
/// stops the process. Timed waits run on the monotonic clock, so setting the
/// wall clock neither shortens nor stretches them.
///
/// The corresponding C functions are `pthread_mutex_lock`,
/// `pthread_mutex_unlock`, `pthread_cond_wait`, `pthread_cond_timedwait`,
/// `pthread_cond_signal` and `pthread_cond_broadcast`.
package final class Lock: @unchecked Sendable {
    // SAFETY: the pointers are fixed after init; pthread makes the calls on them thread-safe.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// A lock nobody holds.
    package init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        var mutexAttributes = pthread_mutexattr_t()
        Lock.check(pthread_mutexattr_init(&mutexAttributes), "pthread_mutexattr_init")
        // Error checking: a relock or an unlock by another thread returns an error (checked) instead of hanging.
        Lock.check(pthread_mutexattr_settype(&mutexAttributes, Int32(PTHREAD_MUTEX_ERRORCHECK)), "pthread_mutexattr_settype")
        Lock.check(pthread_mutex_init(mutex, &mutexAttributes), "pthread_mutex_init")
        Lock.check(pthread_mutexattr_destroy(&mutexAttributes), "pthread_mutexattr_destroy")
        var conditionAttributes = pthread_condattr_t()
        Lock.check(pthread_condattr_init(&conditionAttributes), "pthread_condattr_init")
        Lock.check(pthread_condattr_setclock(&conditionAttributes, CLOCK_MONOTONIC), "pthread_condattr_setclock")
        Lock.check(pthread_cond_init(condition, &conditionAttributes), "pthread_cond_init")
        Lock.check(pthread_condattr_destroy(&conditionAttributes), "pthread_condattr_destroy")
    }

    deinit {
        Lock.check(pthread_cond_destroy(condition), "pthread_cond_destroy")
        Lock.check(pthread_mutex_destroy(mutex), "pthread_mutex_destroy")
        condition.deallocate()
        mutex.deallocate()
    }

    /// Takes the mutex, waiting for another thread to release it.
    package func lock() {
        Lock.check(pthread_mutex_lock(mutex), "pthread_mutex_lock")
    }

    /// Releases the mutex (the calling thread holds it).
    package func unlock() {
        Lock.check(pthread_mutex_unlock(mutex), "pthread_mutex_unlock")
    }

    /// Runs `body` holding the mutex.
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Releases the mutex, waits until the condition is signalled, and takes
    /// it again. Call with the mutex held, in a loop that tests what is
    /// awaited (a wait may end without a signal).
    package func wait() {
        Lock.check(pthread_cond_wait(condition, mutex), "pthread_cond_wait")
    }

    /// As `wait()`, for at most `seconds`. Returns false when the time ran out.
    @discardableResult
    package func wait(seconds: Double) -> Bool {
        var deadline = timespec()
        Lock.check(clock_gettime(CLOCK_MONOTONIC, &deadline), "clock_gettime")
        // Whole seconds and nanoseconds apart, so a long wait does not overflow the nanoseconds.
        let whole = seconds.rounded(.down)
        let nanoseconds = Int(deadline.tv_nsec) + Int((seconds - whole) * 1e9)
        deadline.tv_sec += Int(whole) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        let status = pthread_cond_timedwait(condition, mutex, &deadline)
        if status == ETIMEDOUT { return false }
        Lock.check(status, "pthread_cond_timedwait")
        return true
    }

    /// Wakes one thread waiting on the condition.
    package func signal() {
        Lock.check(pthread_cond_signal(condition), "pthread_cond_signal")
    }

    /// Wakes every thread waiting on the condition.
    package func broadcast() {
        Lock.check(pthread_cond_broadcast(condition), "pthread_cond_broadcast")
    }

    private static func check(_ status: Int32, _ function: StaticString) {
        precondition(status == 0, "\(function) failed: \(status)")
    }
}
