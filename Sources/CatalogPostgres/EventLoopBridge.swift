import NIOCore
import NIOPosix

/// The one place the synchronous catalog meets asynchronous postgres-nio.
///
/// The catalog is called from plain threads (the command line, the live
/// recorder's workers, Swift Testing's); postgres-nio works on SwiftNIO event
/// loops. Two kinds of work cross over:
///
/// - a statement: postgres-nio returns an `EventLoopFuture`, and the calling
///   thread waits for it (`wait()`, which NIO refuses on an event-loop
///   thread, so a loop is never blocked);
/// - `COPY ... FROM STDIN`, which postgres-nio offers only as an `async`
///   function: it runs as a task whose executor is the connection's own event
///   loop (`EventLoopTaskExecutor`), and the calling thread waits for the
///   task's result the same way. The task never blocks the loop: each step
///   of it is a short job on the loop, and it suspends while the server reads.
///   Running it on the loop rather than on Swift's cooperative pool matters:
///   the calling thread may itself be one of the pool's few threads (a Swift
///   Testing test), and a pool whose threads all wait for tasks that need the
///   pool would never finish.
///
/// Every connection lives on the process's one event loop group
/// (`MultiThreadedEventLoopGroup.singleton`, one thread per core, started on
/// first use and kept for the life of the process).
enum EventLoopBridge {
    /// The process's event loops.
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Waits on the calling thread (never an event-loop thread) for `future`.
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        precondition(!future.eventLoop.inEventLoop, "the catalog was called on an event-loop thread, which it would block")
        return try future.wait()
    }

    /// Runs `operation` as a task on `eventLoop` and waits for its result on the calling thread.
    static func run<T: Sendable>(on eventLoop: any EventLoop, _ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let promise = eventLoop.makePromise(of: T.self)
        Task(executorPreference: EventLoopTaskExecutor(eventLoop)) {
            do { promise.succeed(try await operation()) } catch { promise.fail(error) }
        }
        return try wait(promise.futureResult)
    }
}

/// A task executor that runs each job of a task on one event loop.
/// (SwiftNIO offers event loops as actors' serial executors, not as task executors.)
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
