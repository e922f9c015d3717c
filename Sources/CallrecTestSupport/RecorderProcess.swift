import Foundation

/// A running `callrec record -` (or another command that runs until stopped)
/// for tests: its standard input is a pipe the test writes captures into,
/// its output is collected as it comes, and the test can wait for a line,
/// send signals and wait for the exit.
public final class RecorderProcess: @unchecked Sendable {
    // SAFETY: the collected output is guarded by `condition`; the rest is fixed after init.

    public let process = Process()
    private let input = Pipe()
    private let condition = NSCondition()
    private var out = Data()
    /// When each line of standard output arrived (the chunk that ended it).
    private var arrivals: [Date] = []
    private var err = Data()
    private var open = 2
    private let readers = DispatchGroup()

    /// Starts `callrec COMMAND INPUT arguments...` (add `--out DIR` and the
    /// rest); `input` nil leaves the input to the arguments (`--interface`).
    public init(
        _ arguments: [String], command: String = "record", input: String? = "-", environment: [String: String] = [:],
        binary: String = FixturePaths.callrecBinary
    ) throws {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [command] + (input.map { [$0] } ?? []) + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardInput = self.input
        process.standardOutput = out
        process.standardError = err
        try process.run()
        for (pipe, isOut) in [(out, true), (err, false)] {
            DispatchQueue.global().async(group: readers) { [self] in
                while true {
                    let data = pipe.fileHandleForReading.availableData
                    condition.lock()
                    if data.isEmpty {
                        open -= 1
                    } else if isOut {
                        self.out.append(data)
                        let now = Date()
                        for byte in data where byte == 0x0A { self.arrivals.append(now) }
                    } else {
                        self.err.append(data)
                    }
                    condition.broadcast()
                    condition.unlock()
                    if data.isEmpty { return }
                }
            }
        }
    }

    /// The recorder's process id.
    public var pid: Int32 { process.processIdentifier }

    /// Writes capture bytes to the recorder's standard input (blocks while the pipe is full).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try input.fileHandleForWriting.write(contentsOf: Data(bytes))
    }

    /// Writes capture bytes to the recorder's standard input.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Closes standard input: the recorder sees the end of its input.
    public func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    /// Sends `signal` (SIGTERM, SIGUSR1, SIGKILL ...).
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Standard output so far, one JSON line per finished call.
    public var lines: [String] {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// When each line of standard output so far arrived, in order (`lines[k]` at `lineArrivals[k]`).
    public var lineArrivals: [Date] {
        condition.lock()
        defer { condition.unlock() }
        return arrivals
    }

    /// Standard output so far, as it was printed.
    public var stdout: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: out, as: UTF8.self)
    }

    /// Standard error so far.
    public var stderr: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: err, as: UTF8.self)
    }

    /// Waits until `ready` holds for (stdout lines, stderr), or `timeout` seconds pass. Returns whether it held.
    @discardableResult
    public func wait(timeout: Double, until ready: ([String], String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let lines = String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
            if ready(lines, String(decoding: err, as: UTF8.self)) { return true }
            if open == 0 || !condition.wait(until: deadline) {
                return ready(String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init), String(decoding: err, as: UTF8.self))
            }
        }
    }

    /// Waits for the recorder to exit (killing it after `timeout` seconds). Returns its status, and whether a signal ended it.
    public func waitForExit(timeout: Double = 120) -> (status: Int32, killed: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        readers.wait()
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }

    /// The JSON objects printed so far, the signed checkpoints and overload steps among them left out.
    public var calls: [[String: Any]] {
        objects.filter { $0["checkpoint"] == nil && $0["overload"] == nil }
    }

    /// The signed checkpoints printed so far among the JSON lines (`{"checkpoint": ..., "signature": ...}`).
    public var checkpoints: [[String: Any]] {
        objects.filter { $0["checkpoint"] != nil }
    }

    private var objects: [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
