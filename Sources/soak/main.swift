// soak: the live recorder under an hour of generated traffic (`make soak`).
//
//   soak [--calls N] [--seconds S] [--length MIN-MAX] [--jobs N] [--callrec PATH] [--out DIR] [--keep]
//       runs `callrec record -` on N concurrent calls for S seconds of traffic fed through a pipe as fast
//       as it takes them, then checks every call was written, the catalog and the files agree, and
//       memory stayed flat; prints the report and exits 1 when a check fails.
//   soak --pace [--tail T] ...
//       the same, each packet written once the wall clock reaches its capture time (a live link's pace;
//       the pipe holds the feeder back when the recorder falls behind), then T seconds of silence
//       (default 0) before the input closes; also reports how far the feeder was held back, the
//       recorder's overload steps, memory over time and when the last call was written after the
//       traffic ended (`make overload`: twice the calls this machine sustains, for 5 minutes).
//   soak generate [--calls N] [--seconds S] [--length MIN-MAX] [--seed N] > traffic.pcap
//       writes the same traffic to standard output.

import CallrecTestSupport
import Foundation

let generateOnly = CommandLine.arguments.dropFirst().first == "generate"
let arguments = Array(CommandLine.arguments.dropFirst(generateOnly ? 2 : 1))

@MainActor func value(_ name: String) -> String? {
    guard let k = arguments.firstIndex(of: name), k + 1 < arguments.count else { return nil }
    return arguments[k + 1]
}

var traffic = TrafficGenerator(concurrentCalls: Int(value("--calls") ?? "") ?? 200, duration: Double(value("--seconds") ?? "") ?? 3600)
traffic.seed = UInt64(value("--seed") ?? "") ?? 1
if let length = value("--length")?.split(separator: "-").compactMap({ Double($0) }), length.count == 2 {
    traffic.callLength = length[0]...length[1]
} else {
    traffic.callLength = 60...180
}

if generateOnly {
    let out = FileHandle.standardOutput
    let summary = traffic.generate { chunk in out.write(Data(chunk)) }
    FileHandle.standardError.write(Data(
        "soak: \(summary.calls) calls, \(summary.peakConcurrent) at once at most, \(summary.packets) packets, \(summary.bytes) bytes\n".utf8))
    exit(0)
}

let callrec = value("--callrec") ?? FixturePaths.repositoryRoot + "/.build/release/callrec"
let output = value("--out") ?? FixturePaths.temporaryDirectory("callrec-soak")
let extra = (value("--jobs").map { ["--jobs", $0] } ?? []) + (value("--complexity").map { ["--complexity", $0] } ?? [])
let pace = arguments.contains("--pace")
let tail = Double(value("--tail") ?? "") ?? 0
FileHandle.standardError.write(Data(
    "soak: \(traffic.concurrentCalls) calls at once, \(Int(traffic.duration)) s of traffic\(pace ? " at its own pace, then \(Int(tail)) s quiet" : ""), calls of \(Int(traffic.callLength.lowerBound))-\(Int(traffic.callLength.upperBound)) s, into \(output)\n".utf8))
let report = try SoakRun.run(
    callrec: callrec, traffic: traffic, output: output, arguments: extra, sampleInterval: pace ? 1 : 2, pace: pace, tail: tail
) { at, rss in
    if Int(at) % 60 < (pace ? 1 : 2) { FileHandle.standardError.write(Data("soak: \(Int(at)) s, \(rss / 1_000_000) MB resident\n".utf8)) }
}
print(report.summary)
if pace { print(report.pacedSummary) }
var failures: [String] = []
if report.status != 0 { failures.append("the recorder exited \(report.status): \(report.stderr.suffix(500))") }
if report.recorded != report.generated.calls { failures.append("\(report.recorded) of \(report.generated.calls) calls recorded") }
if !report.inOrder { failures.append("the JSON lines are not in order") }
if report.audioFiles != report.generated.calls { failures.append("\(report.audioFiles) audio files for \(report.generated.calls) calls") }
if report.temporaryFiles != 0 { failures.append("\(report.temporaryFiles) temporary files left") }
if report.verifyStatus != 0 || !report.verify.contains("\(report.generated.calls) recordings healthy, nothing to repair") {
    failures.append("catalog verify: \(report.verify)")
}
if pace {
    let halves = report.peakRSSHalves
    if Double(halves.second) > 1.15 * Double(halves.first) {
        failures.append("peak resident memory grew from \(halves.first / 1_000_000) MB to \(halves.second / 1_000_000) MB over the traffic")
    }
} else if report.rssGrowth > 0.10 {
    failures.append("resident memory grew \(Int(report.rssGrowth * 100)) % from the second quarter to the last")
}
if !arguments.contains("--keep") && failures.isEmpty { try? FileManager.default.removeItem(atPath: output) }
for failure in failures { print("FAILED: \(failure)") }
exit(failures.isEmpty ? 0 : 1)
