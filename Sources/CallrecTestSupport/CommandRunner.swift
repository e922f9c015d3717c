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
            // A program that stops reading part-way (an input that fails) closes the pipe: that is
            // its answer, not the test's death by SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin))
            try? input.fileHandleForWriting.close()
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

extension CommandRunner {
    /// Runs `command` (looked up on PATH) in a pseudo-terminal (python3's
    /// pty module) and types `answers` at it, one each time it prints a
    /// prompt that contains one of `prompts` (case-insensitive): for what
    /// reads a password from the terminal only (`age -p`, `callrec catalog
    /// users add`). What the program wrote to the terminal comes back as
    /// `stderr` (the terminal's echo included, so a password echoed would show there).
    public static func inTerminal(
        _ command: [String], answers: [String], prompts: [String] = ["passphrase", "password", "again:"]
    ) throws -> Run {
        let script = """
            import os, pty, select, signal, sys, time
            answers = sys.argv[1].split("\\n") if sys.argv[1] else []
            prompts = [p.encode() for p in sys.argv[2].split("\\n")]
            pid, fd = pty.fork()
            if pid == 0:
                os.execvp(sys.argv[3], sys.argv[3:])
            out = b""
            pending = b""
            deadline = time.time() + 60
            while time.time() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if not ready:
                    continue
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                pending += chunk
                if answers and any(p in pending.lower() for p in prompts):
                    pending = b""
                    time.sleep(0.05)
                    os.write(fd, answers.pop(0).encode() + b"\\r")
            else:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            sys.stderr.write(out.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        return try run(
            "/usr/bin/env", ["python3", "-c", script, answers.joined(separator: "\n"), prompts.joined(separator: "\n")] + command)
    }
}
