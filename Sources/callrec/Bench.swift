import ArgumentParser
import Foundation
import Output
import Throughput

/// `callrec bench`: codec and pipeline throughput on this machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure codec, resampling, Opus and whole-pipeline throughput on this machine.",
        discussion: """
            Each stage runs on generated speech-like audio (a minute per unit of work) until \
            it has used --seconds of CPU time, and is reported as a multiple of real time on \
            one core and as the number of calls (two legs each) one core keeps up with. \
            Times are thread CPU time, so other load on the machine does not count against \
            the result. Opus runs at the settings given (the convert defaults otherwise).

            Stages: g711 (u-law and A-law decode), g722 (decode), resample (one leg \
            8 -> 16 kHz), opus (encode a call at 8 and 16 kHz), speech (speech detection and \
            waveform peaks on a call at 8 and 16 kHz), pipeline (a generated \
            minute-long call from capture file to committed recording: PCMU, G.722, mixed).

            Examples:
              callrec bench
              callrec bench --codec g722 --codec g711 --seconds 5
              callrec bench --codec opus --complexity 8 --bitrate 24000
              callrec bench --json > bench.json
            """
    )

    @Option(name: .customLong("codec"), help: ArgumentHelp(
        "A stage to measure (repeatable): g711, g722, resample, opus, speech, pipeline. Default: all.", valueName: "stage"))
    var stages: [String] = []

    @Option(help: ArgumentHelp("CPU seconds to spend on each stage.", valueName: "N"))
    var seconds: Double = 2

    @OptionGroup var opus: OpusArguments<Help>

    @Flag(help: "Measure every libsamplerate converter, not only the one callrec uses.")
    var allConverters = false

    @Flag(help: "Print one JSON object (machine and results) instead of the table.")
    var json = false

    func validate() throws {
        for stage in stages where ThroughputBench.Workload(rawValue: stage) == nil {
            throw ValidationError("unknown stage '\(stage)'; use g711, g722, resample, opus or pipeline")
        }
        if !(seconds > 0 && seconds <= 600) { throw ValidationError("--seconds must be between 0 and 600") }
    }

    func run() throws {
        let workloads = stages.isEmpty ? ThroughputBench.Workload.allCases : stages.compactMap(ThroughputBench.Workload.init)
        let machine = ThroughputBench.Machine.current
        let stdout = FileHandleOutput.standardOutput
        if !json {
            stdout.write("callrec bench: \(machine.cpu), \(machine.cores) cores, \(machine.opus), \(machine.samplerate)\n")
            stdout.write("(thread CPU time; calls = two legs; \(seconds) s per stage)\n\n")
            stdout.write(Self.row("stage", "unit", "x realtime/core", "calls/core", "ns/sample") + "\n")
        }
        var results: [ThroughputBench.Result] = []
        for workload in workloads {
            for result in try ThroughputBench.run([workload], seconds: seconds, settings: opus.settings, allConverters: allConverters) {
                results.append(result)
                if !json {
                    stdout.write(
                        Self.row(
                            result.stage, result.unit, String(format: "%.0f", result.realTimeFactor),
                            String(format: "%.0f", result.callsPerCore), result.nsPerSample.map { String(format: "%.1f", $0) } ?? "-")
                            + "\n")
                }
            }
        }
        if json {
            struct Report: Encodable {
                var machine: ThroughputBench.Machine
                var results: [ThroughputBench.Result]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            stdout.write(String(decoding: try encoder.encode(Report(machine: machine, results: results)), as: UTF8.self) + "\n")
        }
    }

    /// The Opus options' help: bench measures at these settings.
    enum Help: OpusArgumentsHelp {
        static let bitrate = ArgumentHelp(
            "Opus bit rate per call for the opus and pipeline stages (auto: as convert chooses).", valueName: "auto|bps")
        static let complexity = ArgumentHelp("Opus complexity for the opus and pipeline stages.", valueName: "0-10")
        static let opusStreams = ArgumentHelp("Opus stream layout: separate or coupled.", valueName: "separate|coupled")
    }

    static func row(_ stage: String, _ unit: String, _ factor: String, _ calls: String, _ ns: String) -> String {
        stage.padded(50) + unit.padded(32) + factor.leftPadded(16) + calls.leftPadded(12) + ns.leftPadded(11)
    }
}

extension String {
    /// Right-aligned in a field of `width` characters.
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
