import CallMedia
import CallrecCore
import RTP
import SIP

/// Where the work of each call runs: decoding, the jitter buffer, mixing,
/// encoding, analysis and the commit. `CaptureProcessor` (signalling and
/// routing, which span calls) hands every call's packets and events to its
/// executor in capture order; the executor runs them in that order for each
/// call.
///
/// `InlineExecutor` runs them at once on the caller's thread (convert
/// `--jobs 1`); `CallWorkers` spreads calls over worker threads (record, and
/// convert with more jobs).
package protocol CallExecutor: AnyObject {
    /// Creates the session of a new call (`key` is the router's, unique within the run).
    func makeSession(key: Int, description: CallDescription, signalled: Bool, options: ConvertOptions) -> CallSession

    /// Gives one RTP packet of `side`'s leg to `session`: of the leg's own
    /// stream (`stream` 0) or of its extra stream (1, see `LegSources`), on
    /// `path` (`LegTraffic.path`). `payload` is only valid during the call.
    func receive(
        _ session: CallSession, _ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, stream: Int,
        path: Int, at time: MediaTime
    ) throws

    /// Runs `work` for `session` after every packet given to it before.
    func perform(on session: CallSession, _ work: @escaping () throws -> Void) throws

    /// Drops `session` without a recording (its temporary files go), after every packet given to it before.
    func discard(_ session: CallSession) throws

    /// Ends `session`: runs `work` (finishing its recording: the heavy part)
    /// after every packet given to it before, then `effect` with what it
    /// returned or threw (what the end makes visible: the commit, the ledger
    /// row). Where and when `effect` runs is the executor's: at once here
    /// (`InlineExecutor`), on the worker (`CallWorkers`, `.asFinished`), or
    /// on the router's thread in capture order (`CallWorkers`, `.capture`).
    func complete<Result>(
        _ session: CallSession, _ work: @escaping () throws -> Result, then effect: @escaping (Swift.Result<Result, any Error>) throws -> Void
    ) throws
}

/// Runs each call's work at once on the caller's thread: errors reach the caller.
package final class InlineExecutor: CallExecutor {
    private let diagnostics: Diagnostics

    /// An executor whose sessions count into `diagnostics`.
    package init(diagnostics: Diagnostics) {
        self.diagnostics = diagnostics
    }

    package func makeSession(key: Int, description: CallDescription, signalled: Bool, options: ConvertOptions) -> CallSession {
        CallSession(description: description, signalled: signalled, options: options, diagnostics: diagnostics)
    }

    package func receive(
        _ session: CallSession, _ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, stream: Int,
        path: Int, at time: MediaTime
    ) throws {
        try session.receive(header, payload: payload, from: side, stream: stream, path: path, at: time)
    }

    package func perform(on session: CallSession, _ work: @escaping () throws -> Void) throws {
        try work()
    }

    package func discard(_ session: CallSession) throws {
        session.discard()
    }

    package func complete<Result>(
        _ session: CallSession, _ work: @escaping () throws -> Result, then effect: @escaping (Swift.Result<Result, any Error>) throws -> Void
    ) throws {
        try effect(Swift.Result { try work() })
    }
}
