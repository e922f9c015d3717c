#if canImport(Glibc)
import Glibc
#endif

/// The write end of the signal pipe, for the handler (which may use nothing else).
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// Turns signals into calls on an ordinary thread, for the live recorder:
/// the handler only writes the signal's number into a pipe (write(2) is
/// async-signal-safe), and a thread reads the pipe and calls `handler`.
/// Any thread may take the signal; nothing else runs in signal context.
///
/// One watcher per process (the handlers are process-wide), made before
/// any thread that should leave the signals to it. callrec handles signals
/// this way only: `record` (stop, status) and a live `convert` or `inspect`
/// (stop).
package final class SignalWatcher: @unchecked Sendable {
    // SAFETY: the pipe descriptors are fixed after init; the thread only reads.

    /// A signal the watcher can take.
    package struct Signal: Sendable, Equatable {
        /// The signal's number.
        package let number: Int32
        /// `SIGINT`.
        package let name: String

        /// Ctrl-C.
        package static let interrupt = Signal(number: SIGINT, name: "SIGINT")
        /// `kill`, systemd's stop.
        package static let terminate = Signal(number: SIGTERM, name: "SIGTERM")
        /// `kill -USR1`: the recorder's status line.
        package static let user1 = Signal(number: SIGUSR1, name: "SIGUSR1")
    }

    private let readEnd: Int32
    private var thread: WorkerThread? = nil

    /// Installs handlers for `signals` and calls `handler` with each one
    /// that arrives, on the watcher's thread. SIGPIPE is ignored as well, so
    /// a reader of standard output that goes away does not stop the process.
    package init(_ signals: [Signal], handler: @escaping @Sendable (Signal) -> Void) {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe: \(String(cString: strerror(errno)))")
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        readEnd = fds[0]
        signalPipeWrite = fds[1]
        signal(SIGPIPE, SIG_IGN)
        // A parent may have started us with these blocked (threads inherit the mask): unblock them
        // here, before the recorder's threads are made, so they inherit it unblocked.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for signal in signals { sigaddset(&unblocked, signal.number) }
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        let note: @convention(c) (Int32) -> Void = { number in
            let saved = errno
            var byte = UInt8(truncatingIfNeeded: number)
            _ = write(signalPipeWrite, &byte, 1)
            errno = saved
        }
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = note
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            precondition(sigaction(signal.number, &action, nil) == 0, "sigaction: \(String(cString: strerror(errno)))")
        }
        let readEnd = self.readEnd
        thread = WorkerThread {
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 {
                    if let signal = signals.first(where: { $0.number == Int32(byte) }) { handler(signal) }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
