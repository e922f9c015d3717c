import ArgumentParser
import Capture
import Dispatch
import CallrecCore
import Foundation
import Output
import Pipeline

/// `callrec convert`: batch conversion of captures into recordings.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert captures into one Ogg Opus recording per call.",
        discussion: """
            Each call found in the captures is written as
              OUT/YYYY/MM/DD/<id>.opus   two channels: 0 = caller (INVITE sender), 1 = callee
              OUT/YYYY/MM/DD/<id>.json   the call index (parties, times, codecs, stream statistics)
            where <id> is the UTC start time and a hash of the Call-ID, e.g. 20261129T081530Z-3f9a1c2e.
            Files appear only when complete: they are written under a temporary name, synced and renamed.

            Examples:
              callrec convert capture.pcap
              callrec convert --out /srv/recordings day1.pcap day2.pcapng
              tcpdump -U -w - udp | callrec convert -
              callrec convert --interface eth1 --filter udp --out /srv/recordings

            A live capture (--interface) runs until Ctrl-C; calls still in flight are then
            written, marked 'cut'.
            """
    )

    @Argument(help: ArgumentHelp("Capture files (pcap or pcapng); '-' reads standard input.", valueName: "capture"))
    var inputs: [String] = []

    @OptionGroup var source: CaptureSourceOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for recordings.", valueName: "dir"))
    var out: String = "recordings"

    @Option(help: ArgumentHelp("Total Opus bit rate per call, in bits per second.", valueName: "bps"))
    var bitrate: Int = OpusSettings.default.bitrate

    @Option(help: ArgumentHelp("Opus encoder complexity, 0 (fastest) to 10.", valueName: "0-10"))
    var complexity: Int = OpusSettings.default.complexity

    @Option(help: ArgumentHelp("End a call after this many seconds without packets (capture time).", valueName: "seconds"))
    var idleTimeout: Double = 120

    @Flag(help: "Print one JSON object per recording instead of the table.")
    var json = false

    @Flag(name: .shortAndLong, help: "Also print what was skipped and why (malformed, late, unmatched packets).")
    var verbose = false

    func validate() throws {
        if inputs.isEmpty && source.interface == nil { throw ValidationError("give at least one capture, '-' for standard input, or --interface") }
        if !inputs.isEmpty && source.interface != nil { throw ValidationError("give either captures or --interface, not both") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be read only once") }
        if !(6000...510_000).contains(bitrate) { throw ValidationError("--bitrate must be between 6000 and 510000") }
        if !(0...10).contains(complexity) { throw ValidationError("--complexity must be between 0 and 10") }
        if !(idleTimeout > 0) { throw ValidationError("--idle-timeout must be positive") }
    }

    func run() throws {
        var settings = OpusSettings.default
        settings.bitrate = bitrate
        settings.complexity = complexity
        let options = ConvertOptions(outputDirectory: out, opus: settings, idleTimeout: idleTimeout)
        let converter = try Converter(options: options)
        var failures = 0
        var written = 0
        let stdout = FileHandleOutput.standardOutput
        let stderr = FileHandleOutput.standardError
        let sources = source.interface == nil ? inputs.map { source.input(capture: $0) } : [source.input(capture: nil)]
        for captureInput in sources {
            let input = captureInput.interface ?? captureInput.path ?? "-"
            let diagnostics = Diagnostics()
            var stop: [DispatchSourceSignal] = []
            let result = converter.convert(captureInput, diagnostics: diagnostics, onOpen: { stop = CaptureSourceOptions.stopOnInterrupt($0) }) { summary in
                if json {
                    stdout.write(Self.jsonLine(summary) + "\n")
                } else {
                    stdout.write(Self.tableLine(summary) + "\n")
                }
            }
            withExtendedLifetime(stop) {}
            written += result.recordings.count
            if let error = result.error {
                failures += 1
                stderr.write("callrec: \(error)\n")
            } else if result.recordings.isEmpty {
                failures += 1
                stderr.write("callrec: \(Self.displayName(input)): no calls with audio found (\(Self.whatWasSeen(diagnostics)))\n")
            }
            if verbose {
                for (counter, value) in diagnostics.nonZero {
                    stderr.write("  \(Self.displayName(input)): \(counter.name) \(value)\n")
                }
                for note in diagnostics.notes { stderr.write("  \(Self.displayName(input)): \(note)\n") }
            } else {
                for note in diagnostics.notes.prefix(5) { stderr.write("callrec: note: \(Self.displayName(input)): \(note)\n") }
            }
        }
        if !json {
            stdout.write("\(written) recording\(written == 1 ? "" : "s") written to \(out)\n")
        }
        if failures > 0 { throw PartialFailure() }
    }

    static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    static func whatWasSeen(_ d: Diagnostics) -> String {
        "\(d[.packetsRead]) packets, \(d[.sipMessages]) SIP messages, \(d[.rtpPackets]) RTP packets matched to calls"
    }

    static func tableLine(_ s: RecordingSummary) -> String {
        let i = s.index
        let parties = "\(i.caller ?? "?") -> \(i.callee ?? "?")"
        let packets = i.channels.map { String($0.packets) }.joined(separator: "+")
        let duration = String(format: "%7.2f s", i.durationS)
        return "\(s.audioPath)  \(duration)  \(parties.padded(24))  \(packets) packets  \(i.endReason)"
    }

    static func jsonLine(_ s: RecordingSummary) -> String {
        struct Line: Encodable {
            var audio: String
            var index: String
            var bytes: Int64
            var call: CallIndex
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Line(audio: s.audioPath, index: s.indexPath, bytes: s.audioBytes, call: s.index))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
