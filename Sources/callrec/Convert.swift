import ArgumentParser
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

            Calls are found from SIP over UDP or TCP (SDP in INVITE, 18x, 200, ACK, UPDATE, PRACK), and from RTP \
            alone when no signalling was captured (mirrored streams are paired; the index says the parties are \
            unknown). SRTP is decrypted with the SDES keys in the SDP; SRTP that no key authenticates is \
            indexed, never decoded. A call ends on BYE or CANCEL, after --idle-timeout \
            seconds of capture time without packets (calls on hold wait 2 hours), or at the end of the capture (cut).

            Direction (inbound, outbound, internal) comes from the site's own parties: a caller or callee is local \
            when its number is a --local-number, starts with a --local-prefix, or its SIP host is a --local-domain \
            (or a subdomain of one). Each may be given many times, or in a --config file, one 'name = value' per line:
              # /etc/callrec.conf
              local-prefix = +46812
              local-domain = pbx.example.com
              idle-timeout = 90

            Examples:
              callrec convert capture.pcap
              callrec convert --out /srv/recordings day1.pcap day2.pcapng
              tcpdump -U -w - udp | callrec convert -
              callrec convert --local-prefix +46812 --local-domain pbx.example.com capture.pcap
              callrec convert --config /etc/callrec.conf capture.pcap
            """
    )

    @Argument(help: ArgumentHelp("Capture files (pcap or pcapng); '-' reads standard input.", valueName: "capture"))
    var inputs: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for recordings.", valueName: "dir"))
    var out: String = "recordings"

    @Option(help: ArgumentHelp("Total Opus bit rate per call, in bits per second.", valueName: "bps"))
    var bitrate: Int = OpusSettings.default.bitrate

    @Option(help: ArgumentHelp("Opus encoder complexity, 0 (fastest) to 10.", valueName: "0-10"))
    var complexity: Int = OpusSettings.default.complexity

    @Option(help: ArgumentHelp(
        "End a call after this many seconds without packets, in capture time (default: 120, or the --config file's).",
        valueName: "seconds"))
    var idleTimeout: Double?

    @Option(name: .customLong("local-number"), help: ArgumentHelp(
        "A number of this site (repeatable): calls from it are outbound, to it inbound.", valueName: "number"))
    var localNumbers: [String] = []

    @Option(name: .customLong("local-prefix"), help: ArgumentHelp(
        "A number prefix of this site (repeatable), e.g. +46812.", valueName: "prefix"))
    var localPrefixes: [String] = []

    @Option(name: .customLong("local-domain"), help: ArgumentHelp(
        "A SIP domain of this site (repeatable); its subdomains are local too.", valueName: "domain"))
    var localDomains: [String] = []

    @Option(help: ArgumentHelp(
        "Read settings from a file of 'name = value' lines (local-number, local-prefix, local-domain, idle-timeout); "
            + "options on the command line add to or override them.", valueName: "file"))
    var config: String?

    @Flag(help: "Print one JSON object per recording instead of the table.")
    var json = false

    @Flag(name: .shortAndLong, help: "Also print what was skipped and why (malformed, late, unmatched packets).")
    var verbose = false

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one capture, or '-' for standard input") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be read only once") }
        if !(6000...510_000).contains(bitrate) { throw ValidationError("--bitrate must be between 6000 and 510000") }
        if !(0...10).contains(complexity) { throw ValidationError("--complexity must be between 0 and 10") }
        if let idleTimeout, !(idleTimeout > 0) { throw ValidationError("--idle-timeout must be positive") }
    }

    func run() throws {
        var settings = OpusSettings.default
        settings.bitrate = bitrate
        settings.complexity = complexity
        var options = ConvertOptions(outputDirectory: out, opus: settings)
        if let config {
            do {
                try ConfigFile(path: config).apply(to: &options)
            } catch let failure as ConfigFile.Failure {
                throw ValidationError(failure.description)
            }
        }
        if let idleTimeout { options.idleTimeout = idleTimeout }
        options.localNumbers += localNumbers
        options.localPrefixes += localPrefixes
        options.localDomains += localDomains
        let converter = try Converter(options: options)
        var failures = 0
        var written = 0
        let stdout = FileHandleOutput.standardOutput
        let stderr = FileHandleOutput.standardError
        for input in inputs {
            let diagnostics = Diagnostics()
            let result = converter.convert(path: input, diagnostics: diagnostics) { summary in
                if json {
                    stdout.write(Self.jsonLine(summary) + "\n")
                } else {
                    stdout.write(Self.tableLine(summary) + "\n")
                }
            }
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
        let parties = "\(i.caller ?? "?") -> \(i.callee ?? "?")" + (i.direction == "unknown" ? "" : " (\(i.direction))")
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
