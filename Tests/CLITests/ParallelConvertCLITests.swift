import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// `callrec convert --jobs N` as a user runs it: validated as record's
/// `--jobs` is, and a call that fails on a worker thread fails the input
/// exactly as it does with one job — the same exit status, the same lines,
/// the same recordings kept.
@Suite struct ParallelConvertCLITests {
    /// Calls on 5 lines at once, 2-4 s each, new ones starting all the time.
    static let traffic: (bytes: [UInt8], path: String) = {
        var traffic = TrafficGenerator(concurrentCalls: 5, duration: 10, seed: 23)
        traffic.callLength = 2...4
        var pcap: [UInt8] = []
        _ = traffic.generate { pcap.append(contentsOf: $0) }
        return (pcap, try! TemporaryFile.write(pcap, name: "traffic.pcap"))
    }()

    @Test(arguments: ["0", "1025", "many"])
    func jobsOutsideOneTo1024IsRefused(jobs: String) throws {
        let run = try CommandRunner.callrec(["convert", "--jobs", jobs, Self.traffic.path, "--out", FixturePaths.temporaryDirectory("jobs")])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains(jobs == "many" ? "--jobs" : "--jobs must be between 1 and 1024"), "\(run.stderr)")
    }

    /// A run without failures (one job): where each recording's files go and when each call
    /// starts; and its folder's signing key, which every other run signs with, so that the
    /// lines naming the key are the same.
    static let reference: Result<(calls: [(id: String, folder: String, start: String)], key: String), any Error> = Result {
        let out = FixturePaths.temporaryDirectory("parallel-reference")
        let run = try CommandRunner.callrec(["convert", "--jobs", "1", "--json", traffic.path, "--out", out])
        guard run.status == 0 else { throw CommandFailed(run.stderr) }
        let calls = try run.stdout.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let audio = object?["audio"] as? String, let start = (object?["call"] as? [String: Any])?["start"] as? String else {
                throw CommandFailed("not a recording's line: \(line)")
            }
            let relative = String(audio.dropFirst(out.count + 1))
            let name = relative.split(separator: "/").last.map(String.init) ?? ""
            return (String(name.dropLast(".opus".count)), String(relative.dropLast(name.count + 1)), start)
        }
        return (calls, out + "/recorder.key")
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// One conversion with `jobs` workers into a new folder where the temporary files of the
    /// `blocked` recordings cannot be made (a folder in their place, as an unwritable spot would
    /// be): what it printed and how it ended, the output folder's name replaced by OUT, and
    /// what is in the folder and the catalog afterwards.
    func failing(jobs: Int, stdin: Bool, blocked: [(id: String, folder: String)], file: String, key: String) throws -> [String] {
        let out = FixturePaths.temporaryDirectory("parallel-failing")
        for recording in blocked {
            try FileManager.default.createDirectory(
                atPath: "\(out)/\(recording.folder)/.\(recording.id).\(file).partial", withIntermediateDirectories: true)
        }
        let input = stdin ? "-" : Self.traffic.path
        let run = try CommandRunner.callrec(
            ["convert", "--jobs", String(jobs), "--signing-key", key, input, "--out", out], stdin: stdin ? Self.traffic.bytes : nil)
        let find = try CommandRunner.callrec(["catalog", "find", "--out", out, "--json"])
        let coverage = try CommandRunner.callrec(["catalog", "coverage", "--out", out, "--json"])
        let files = ((FileManager.default.enumerator(atPath: out)?.allObjects as? [String]) ?? []).filter { $0.hasPrefix("2026/") }.sorted()
        // Standard error without the signed checkpoint's line (it bears the time it was made).
        return ["status \(run.status)", run.stdout, run.problems, find.stdout, coverage.stdout, files.joined(separator: "\n")].map {
            $0.replacingOccurrences(of: out, with: "OUT")
        }
    }

    /// Two calls whose files cannot be made: at their first audio (the audio file) or at their
    /// end (the index). With one job the first of them in capture order fails the input; with 2
    /// or 4, whichever worker meets its failure first, the same one does, and no call after it
    /// is committed. From standard input the calls that ended before it are kept, the same ones.
    @Test(arguments: ["opus", "json"], [false, true])
    func aCallFailingOnAWorkerFailsTheInputAsWithOneJob(file: String, stdin: Bool) throws {
        let (found, key) = try Self.reference.get()
        let calls = found.sorted { $0.start < $1.start }
        #expect(calls.count >= 10)
        // Two calls that start late, after others ended; the later one first in the list.
        let blocked = [calls[calls.count - 2], calls[calls.count - 4]].map { ($0.id, $0.folder) }
        let one = try failing(jobs: 1, stdin: stdin, blocked: blocked, file: file, key: key)
        #expect(one[0] == "status 1", "\(one[2])")
        // The earlier of the two is the one that fails.
        #expect(one[2].contains("callrec: \(stdin ? "-" : Self.traffic.path): OUT/\(blocked[1].1)/.\(blocked[1].0).\(file).partial"), "\(one[2])")
        #expect(!one[2].contains(blocked[0].0), "\(one[2])")
        if stdin {
            #expect(one[3].contains("\"id\""), "the calls that ended before the failure are kept")
        }
        for jobs in [2, 4] {
            let many = try failing(jobs: jobs, stdin: stdin, blocked: blocked, file: file, key: key)
            #expect(many == one, "jobs \(jobs)")
        }
    }
}
