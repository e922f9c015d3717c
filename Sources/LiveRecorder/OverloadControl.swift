import CallrecCore
import Foundation

/// When the recorder lowers Opus complexity because it falls behind.
public struct OverloadSettings: Sendable, Equatable {
    /// Seconds the packets being routed may run behind the wall clock (beyond
    /// the least they ever ran behind) before the recorder counts as behind;
    /// 0: never change the complexity.
    public var lag: Double = 2
    /// Seconds behind, with the lag not falling, at one complexity before the next step down.
    public var downAfter: Double = 5
    /// Seconds caught up (the queues nearly empty) before a step up; doubled
    /// (up to 16 times) each time a step up is followed by a step down within
    /// twice this time, so a load just above a level does not swing.
    public var upAfter: Double = 30
    /// Seconds between two looks at the lag and the queues.
    public var interval: Double = 0.5

    public init() {}
}

/// The recorder's overload control: from how far behind the wall clock the
/// packets being routed are, and how full the queues are, it steps Opus
/// complexity down (configured, configured − 2, ..., 0) for every call from
/// its next frame, and back up when the recorder has caught up.
///
/// Behind: the front (the router) routes packets captured more than
/// `settings.lag` seconds longer ago than the least it ever did, and the
/// reader's or a worker's queue is at least half full. The "least ever" is
/// the baseline of a paced input (a live interface, `tcpdump -U -w -`):
/// there the capture time follows the wall clock, and the lag is how long
/// a packet waited in the queues (and the pipe) before it was routed. An
/// input replayed faster than real time runs ahead of the wall clock, its
/// baseline falls with it and it is never behind: its writer is just held
/// back, and nothing is owed to a clock. A step down needs `downAfter`
/// seconds behind without the lag falling (a lower complexity that catches
/// up is given the time to).
///
/// Caught up: both queues under a quarter full. With both queues empty
/// nothing waits to be routed or encoded, so the lag is 0 whatever the
/// last packet's capture time: a silent input (a quiet night, the end of a
/// backlog) is not behind, and neither the status line nor a step's
/// `behind_s` says it is.
///
/// Owned by the recorder's status thread; it sets the shared level, which
/// every call's encoder reads once per frame.
struct OverloadControl {
    /// What a look found worth saying.
    enum Event: String, Sendable {
        case down = "complexity_down"
        case up = "complexity_up"
        /// Behind at complexity 0: nothing lower to step to.
        case stillBehind = "still_behind"
    }

    /// One step (or a still-behind), as reported.
    struct Step: Sendable, Equatable {
        var event: Event
        var from: Int
        var to: Int
        /// Seconds behind, and the reader's and the fullest worker queue's fill (0 to 1), when it was taken.
        var lag: Double
        var readFill: Double
        var workFill: Double
    }

    let settings: OverloadSettings
    /// The complexities stepped through, configured first.
    let levels: [Int]
    private(set) var index = 0
    /// The least (wall − capture) seen, in seconds: the lag of a paced input that keeps up.
    private var baseline = Double.infinity
    /// The lag at the last look.
    private(set) var lag = 0.0
    private var behindSince: Double? = nil
    private var lagAtWindow = 0.0
    private var clearSince: Double? = nil
    private var lastChange: Double
    private var lastUp = -Double.infinity
    private var upAfter: Double
    private var saidStillBehind = false
    /// Steps taken each way.
    private(set) var stepsDown = 0
    private(set) var stepsUp = 0
    /// The deepest level reached.
    private var deepest = 0

    init(configured: Int, settings: OverloadSettings, now: Double) {
        self.settings = settings
        var levels = Array(stride(from: configured, through: 0, by: -2))
        if levels.last != 0 { levels.append(0) }
        self.levels = levels
        lastChange = now
        upAfter = settings.upAfter
    }

    var configured: Int { levels[0] }
    var current: Int { levels[index] }
    /// The lowest complexity any frame was encoded with since the start.
    var lowest: Int { levels[deepest] }

    /// One look at `now` (monotonic seconds): the front last routed a packet
    /// captured at `capture` seconds (any epoch) when the wall clock said
    /// `routedAt`. Returns the step to take, if any (already taken here: `current` is the new level).
    mutating func look(now: Double, routedAt: Double, capture: Double, readFill: Double, workFill: Double) -> Step? {
        baseline = min(baseline, routedAt - capture)
        lag = readFill == 0 && workFill == 0 ? 0 : max(0, now - capture - baseline)
        // Back at the configured level long enough: the next swing starts from the first wait again.
        if index == 0 && now - lastChange >= 2 * upAfter { upAfter = settings.upAfter }
        let full = readFill >= 0.5 || workFill >= 0.5
        if lag > settings.lag && full {
            clearSince = nil
            guard let since = behindSince else {
                behindSince = now
                lagAtWindow = lag
                return nil
            }
            guard now - since >= settings.downAfter, now - lastChange >= settings.downAfter else { return nil }
            let falling = lag < lagAtWindow - 0.05 * settings.downAfter
            behindSince = now
            lagAtWindow = lag
            if falling { return nil }
            guard index + 1 < levels.count else {
                if saidStillBehind { return nil }
                saidStillBehind = true
                return Step(event: .stillBehind, from: current, to: current, lag: lag, readFill: readFill, workFill: workFill)
            }
            let from = current
            index += 1
            stepsDown += 1
            deepest = max(deepest, index)
            // A step up undone this soon: wait longer before the next one.
            if now - lastUp < 2 * upAfter { upAfter = min(upAfter * 2, settings.upAfter * 16) }
            lastChange = now
            return Step(event: .down, from: from, to: current, lag: lag, readFill: readFill, workFill: workFill)
        }
        behindSince = nil
        guard readFill < 0.25 && workFill < 0.25 else {
            clearSince = nil
            return nil
        }
        saidStillBehind = false
        guard let since = clearSince else {
            clearSince = now
            return nil
        }
        guard index > 0, now - since >= upAfter, now - lastChange >= upAfter else { return nil }
        let from = current
        index -= 1
        stepsUp += 1
        lastChange = now
        lastUp = now
        clearSince = now
        return Step(event: .up, from: from, to: current, lag: lag, readFill: readFill, workFill: workFill)
    }
}

/// One overload step as the recorder reports it (docs/FORMATS.md, "Record's
/// output", overload): `{"overload": {...}}` on a line of its own among the
/// JSON lines, in the order it happened, and a line on standard error.
struct OverloadLine: Encodable, Sendable {
    struct Body: Encodable, Sendable {
        /// `complexity_down`, `complexity_up` or `still_behind`.
        var event: String
        /// The complexity before and after (equal for `still_behind`), and the configured one.
        var from: Int
        var to: Int
        var configured: Int
        /// Seconds the packets being routed ran behind the wall clock (beyond the least they ever did).
        var behindS: Double
        /// How full the reader's queue and the fullest worker's queue were, 0 to 1.
        var readQueue: Double
        var workQueue: Double
        /// Wall-clock time of the step, and the capture time the front had reached (ISO 8601 UTC).
        var at: String
        var captureTime: String?

        enum CodingKeys: String, CodingKey {
            case event, from, to, configured, at
            case behindS = "behind_s"
            case readQueue = "read_queue"
            case workQueue = "work_queue"
            case captureTime = "capture_time"
        }
    }

    var overload: Body

    init(_ step: OverloadControl.Step, configured: Int, at epoch: Double, capture: MediaTime?) {
        func round(_ x: Double) -> Double { (x * 100).rounded() / 100 }
        overload = Body(
            event: step.event.rawValue, from: step.from, to: step.to, configured: configured, behindS: round(step.lag),
            readQueue: round(step.readFill), workQueue: round(step.workFill),
            at: ISO8601Time.milliseconds(nanoseconds: Int64((epoch * 1e9).rounded())), captureTime: capture?.iso8601)
    }

    /// The object on one line (keys sorted, no trailing newline).
    var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The same in words, for standard error.
    var message: String {
        let b = overload
        let state = "\(String(format: "%.1f", b.behindS)) s behind, queues: read \(Int((b.readQueue * 100).rounded())) %, "
            + "work \(Int((b.workQueue * 100).rounded())) %"
        switch b.event {
        case OverloadControl.Event.down.rawValue:
            return "callrec: overload: falling behind (\(state)); Opus complexity \(b.from) -> \(b.to) for every call from its next frame"
        case OverloadControl.Event.up.rawValue:
            return "callrec: overload: caught up (\(state)); Opus complexity \(b.from) -> \(b.to) for every call from its next frame"
        default:
            return "callrec: overload: still behind at Opus complexity \(b.to) (\(state)); nothing lower to step to: "
                + "a pipe's writer is held back, a live interface's packets beyond the queue are dropped and counted"
        }
    }
}
