import Foundation

/// Runs the built `callrec` binary the way a user does, for CLI tests.
public enum CommandRunner {
    /// What one run printed and how it ended.
    public struct Run: Sendable {
        public var status: Int32
        /// Whether the process was killed by a signal (`status` is then the signal number).
        public var killed: Bool
        public var stdout: String
        public var stderr: String

        public init(status: Int32, killed: Bool, stdout: String, stderr: String) {
            self.status = status
            self.killed = killed
            self.stdout = stdout
            self.stderr = stderr
        }

        /// Standard error without what a recorder says on every run (which key
        /// signs, `callrec: recorder ...`, and the signed checkpoint, `callrec:
        /// checkpoint ...`): the errors and notes alone.
        public var problems: String {
            stderr.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("callrec: recorder ") && !$0.hasPrefix("callrec: checkpoint ") }
                .joined(separator: "\n")
        }
    }

    /// Runs `callrec arguments`, with `environment` added to this process's own.
    /// See `run` for the other parameters.
    public static func callrec(
        _ arguments: [String], environment: [String: String] = [:], in directory: String? = nil, stdin: [UInt8]? = nil,
        interrupt: Bool = false, whileRunning: () -> Void = {}
    ) throws -> Run {
        try run(
            FixturePaths.callrecBinary, arguments, environment: environment, in: directory, stdin: stdin, interrupt: interrupt,
            whileRunning: whileRunning)
    }

    /// Runs the program at `executable` (a peer tool such as opusinfo, or callrec itself).
    /// - Parameters:
    ///   - stdin: written to its standard input, which is then closed (nil: empty).
    ///   - whileRunning: runs once the program has started (e.g. sending it traffic).
    ///   - interrupt: after `whileRunning`, send it SIGINT.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], in directory: String? = nil,
        stdin: [UInt8]? = nil, interrupt: Bool = false, whileRunning: () -> Void = {}
    ) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = stdin.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
        if let input, let stdin {
            input.fileHandleForWriting.write(Data(stdin))
            try input.fileHandleForWriting.close()
        }
        whileRunning()
        if interrupt { kill(process.processIdentifier, SIGINT) }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, killed: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}
