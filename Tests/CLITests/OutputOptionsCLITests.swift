import CallrecTestSupport
import Foundation
import Testing

/// The output options of `convert` and the `bench` command, through the built binary.
extension CLITests {
    @Test func writesSplitFLACFiles() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let run = try callrec(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", out, "--format", "flac", "--channels", "split"])
        #expect(run.status == 0, "\(run.stderr)")
        let written = files(in: out)
        let flac = written.filter { $0.hasSuffix(".flac") }
        #expect(flac.count == 2)
        #expect(flac.contains { $0.hasSuffix("-caller.flac") } && flac.contains { $0.hasSuffix("-callee.flac") })
        #expect(run.stdout.contains("-caller.flac"))
        for path in flac {
            let reader = try SoundFileReader(path: out + "/" + path)
            #expect(reader.channels.count == 1)
            #expect(reader.sampleRate == 8000)
        }
    }

    @Test func jsonListsEverySplitFile() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let run = try callrec(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", out, "--channels", "split", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let line = try #require(run.stdout.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let files = try #require(object["audio_files"] as? [String])
        #expect(files.count == 2 && files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(object["audio"] as? String == files[0])
        #expect((object["call"] as? [String: Any])?["layout"] as? String == "split")
    }

    @Test func writesWAVAtAForcedRate() throws {
        let out = FixturePaths.temporaryDirectory("cli")
        let run = try callrec(["convert", FixturePaths.fixture("g711a-2legs-20ms.pcap"), "--out", out, "--format", "wav", "--rate", "44100"])
        #expect(run.status == 0, "\(run.stderr)")
        let wav = try #require(files(in: out).first { $0.hasSuffix(".wav") })
        let reader = try SoundFileReader(path: out + "/" + wav)
        #expect(reader.sampleRate == 44100)
        #expect(reader.channels.count == 2)
    }

    @Test(arguments: [
        ["--format", "mp3"], ["--channels", "quad"], ["--rate", "44100"], ["--rate", "fast"], ["--opus-streams", "joint"],
        ["--bitrate", "5"], ["--bitrate", "loud"],
    ])
    func rejectsBadOutputOptions(_ options: [String]) throws {
        let run = try callrec(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", FixturePaths.temporaryDirectory("cli")] + options)
        #expect(run.status == 2)
        #expect(run.stderr.hasPrefix("callrec: "))
    }

    @Test func benchReportsThroughputAsJSON() throws {
        let run = try callrec(["bench", "--codec", "g711", "--seconds", "0.01", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let machine = try #require(object["machine"] as? [String: Any])
        #expect((machine["cores"] as? Int ?? 0) >= 1)
        #expect(!(machine["cpu"] as? String ?? "").isEmpty)
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.map { $0["stage"] as? String } == ["G.711 u-law decode", "G.711 A-law decode"])
        for result in results {
            let factor = result["x_realtime_per_core"] as? Double ?? 0
            #expect(factor > 1)
            #expect(abs((result["calls_per_core"] as? Double ?? 0) - factor / 2) < 1e-6 * factor)
        }
    }

    /// The pipeline stage converts a generated call again and again: each time
    /// another call, since converting one capture twice records nothing new.
    @Test func benchPipelineConvertsEveryUnit() throws {
        let run = try callrec(["bench", "--codec", "pipeline", "--seconds", "0.01", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let results = try #require(object["results"] as? [[String: Any]])
        #expect(results.count == 3, "\(run.stdout)")
        for result in results {
            #expect(result["stage"] as? String == "pipeline (capture -> recording)")
            #expect((result["x_realtime_per_core"] as? Double ?? 0) > 1, "\(result)")
        }
    }

    @Test func benchHelpTeaches() throws {
        let help = try callrec(["bench", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout == GoldenFile.expected("bench-help.txt", actual: help.stdout))
        #expect(try callrec(["bench", "--codec", "mp3"]).status == 2)
    }
}
