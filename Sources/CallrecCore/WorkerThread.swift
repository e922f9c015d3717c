#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread that runs one closure and can be joined: the
/// recorder's reader, workers and status reporter. One owner per `pthread_t`.
/// The corresponding C functions are `pthread_create` and `pthread_join`.
package final class WorkerThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(run: @escaping @Sendable () -> Void) {
            self.run = run
        }
    }

    private var thread = pthread_t()
    private var joined = false

    /// Starts a thread running `body`.
    package init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Body(run: body)).toOpaque()
        let status = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
    }

    /// Waits for the thread to end.
    package func join() {
        guard !joined else { return }
        joined = true
        let status = pthread_join(thread, nil)
        precondition(status == 0, "pthread_join failed: \(status)")
    }

    /// Lets the thread run on by itself: nothing will join it (a reader blocked in `read`).
    package func detach() {
        guard !joined else { return }
        joined = true
        let status = pthread_detach(thread)
        precondition(status == 0, "pthread_detach failed: \(status)")
    }

    deinit {
        detach()
    }
}
