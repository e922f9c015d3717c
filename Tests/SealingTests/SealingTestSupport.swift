import CallrecTestSupport
import Crypto
import Foundation
import Sealing

/// Helpers the sealing tests share: hashes, the peer tools (age, openssl,
/// python3 for zlib and a pseudo-terminal), scratch files.
enum SealingTestSupport {
    /// Lowercase hex SHA-256.
    static func sha256(_ bytes: some Sequence<UInt8>) -> String {
        SHA256.hash(data: Array(bytes)).map { String(format: "%02x", $0) }.joined()
    }

    /// Deterministic bytes that do not repeat with the chunk size (so a chunk in the wrong place shows).
    static func content(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    /// Runs a tool found on PATH.
    @discardableResult
    static func tool(_ name: String, _ arguments: [String], stdin: [UInt8]? = nil) throws -> CommandRunner.Run {
        try CommandRunner.run("/usr/bin/env", [name] + arguments, stdin: stdin)
    }

    /// The stdout of a tool as bytes (CommandRunner decodes text; this is for binary output).
    static func toolBytes(_ name: String, _ arguments: [String], stdin: [UInt8]? = nil) throws -> (status: Int32, bytes: [UInt8], stderr: String) {
        let directory = FixturePaths.temporaryDirectory("sealing-tool")
        let out = directory + "/out"
        let run = try CommandRunner.run("/bin/sh", ["-c", "\"$0\" \"$@\" > '\(out)'", name] + arguments, stdin: stdin)
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: out))).map { [UInt8]($0) } ?? []
        return (run.status, bytes, run.stderr)
    }

    /// zlib inflate (the test kit compresses its large vectors), through Python's zlib.
    static func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
        let result = try toolBytes(
            "python3", ["-c", "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))"], stdin: bytes)
        precondition(result.status == 0, "python3 zlib failed: \(result.stderr)")
        return result.bytes
    }

    /// Writes `bytes` to a new file in a fresh scratch folder.
    static func write(_ bytes: [UInt8], name: String = "file.age") -> String {
        let path = FixturePaths.temporaryDirectory("sealing") + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static func read(_ path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    }

    /// Seals `content` to `recipients` through the streaming writer into memory.
    static func seal(_ content: [UInt8], to recipients: [any AgeRecipient], layout: AgeWriter.Layout = .streaming) throws -> [UInt8] {
        let writer = try AgeWriter(recipients: recipients, layout: layout)
        let output = StoredBytesBuffer()
        try writer.begin(into: output)
        try content.withUnsafeBytes { try writer.append($0, into: output) }
        try writer.finish(into: output)
        return output.bytes
    }

    /// The error a throwing body ends with, as a `SealingError`.
    static func sealingError(_ body: () throws -> Void) -> SealingError? {
        do {
            try body()
            return nil
        } catch let error as SealingError {
            return error
        } catch {
            return SealingError(.io, "unexpected error type: \(error)")
        }
    }

    /// Runs `command` in a pseudo-terminal and types `answers` at its passphrase prompts.
    static func inTerminal(_ command: [String], answers: [String]) throws -> CommandRunner.Run {
        try CommandRunner.inTerminal(command, answers: answers, prompts: ["passphrase"])
    }
}
