import ArgumentParser
import Capture
import Dispatch
import CallrecCore
import DSP
import Foundation
import Output
import Pipeline

/// `callrec convert`: batch conversion of captures into recordings.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert captures into one recording per call.",
        discussion: """
            Each call found in the captures is written as
              OUT/YYYY/MM/DD/<id>.opus   two channels: 0 = caller (INVITE sender), 1 = callee
              OUT/YYYY/MM/DD/<id>.json   the call index (parties, times, codecs, stream statistics,
                                         who spoke when, talk and overtalk time, DTMF digits)
              OUT/YYYY/MM/DD/<id>.peaks.json   waveform peaks per channel (audiowaveform JSON v2)
            where <id> is the UTC start time and a hash of the Call-ID, e.g. 20261129T081530Z-3f9a1c2e.
            --channels mono mixes both parties into one channel; --channels split writes
            <id>-caller.<ext> and <id>-callee.<ext>. --format wav or flac writes 16-bit PCM.
            The rate is the call's own (8000 for G.711, 16000 with G.722) unless --rate says
            otherwise; only a leg at another rate is resampled.
            Files appear only when complete: they are written under a temporary name, synced and renamed.
            Each recording is also a row in OUT/catalog.sqlite, entered in the same step as its files; \
            the catalog's recording rules decide, before any audio is decoded, which calls are recorded \
            (callrec catalog rules --help).

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
              callrec convert --format flac --channels split capture.pcap
              callrec convert --channels mono --bitrate 16000 capture.pcap
              tcpdump -U -w - udp | callrec convert -
              callrec convert --local-prefix +46812 --local-domain pbx.example.com capture.pcap
              callrec convert --config /etc/callrec.conf capture.pcap
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

    @Option(help: ArgumentHelp("File format: opus, wav (16-bit PCM) or flac.", valueName: "opus|wav|flac"))
    var format: String = AudioFileFormat.opus.rawValue

    @Option(help: ArgumentHelp(
        "stereo (one file, channel 0 caller, 1 callee), mono (both mixed) or split (a file per party).",
        valueName: "stereo|mono|split"))
    var channels: String = ChannelLayout.stereo.rawValue

    @Option(help: ArgumentHelp(
        "Sample rate of the recording; auto = the call's highest codec rate (8000 for G.711, 16000 with G.722).",
        valueName: "auto|8000|16000|24000|48000"))
    var rate: String = "auto"

    @Option(help: ArgumentHelp(
        "Opus: total bit rate per call in bits per second (split files share it); auto = 16000 per party at 8 kHz, 24000 at 16 kHz and up.",
        valueName: "auto|bps"))
    var bitrate: String = "auto"

    @Option(help: ArgumentHelp("Opus encoder complexity, 0 (fastest) to 10.", valueName: "0-10"))
    var complexity: Int = OpusSettings.default.complexity

    @Option(help: ArgumentHelp(
        "Opus: separate (one mono stream per speaker) or coupled (one stereo stream).", valueName: "separate|coupled"))
    var opusStreams: String = OpusSettings.default.layout.rawValue

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

    @OptionGroup(title: "Waveform peaks")
    var peaks: PeaksArguments

    @Flag(help: "Print one JSON object per recording instead of the table.")
    var json = false

    @Flag(name: .shortAndLong, help: "Also print what was skipped and why (malformed, late, unmatched packets).")
    var verbose = false

    func validate() throws {
        if inputs.isEmpty && source.interface == nil { throw ValidationError("give at least one capture, '-' for standard input, or --interface") }
        if !inputs.isEmpty && source.interface != nil { throw ValidationError("give either captures or --interface, not both") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be read only once") }
        if bitrate != "auto" && !(Int(bitrate).map { (6000...510_000).contains($0) } ?? false) {
            throw ValidationError("--bitrate must be auto or between 6000 and 510000")
        }
        if !(0...10).contains(complexity) { throw ValidationError("--complexity must be between 0 and 10") }
        if let idleTimeout, !(idleTimeout > 0) { throw ValidationError("--idle-timeout must be positive") }
        guard let format = AudioFileFormat(rawValue: format) else { throw ValidationError("--format must be opus, wav or flac") }
        guard ChannelLayout(rawValue: channels) != nil else { throw ValidationError("--channels must be stereo, mono or split") }
        guard OpusSettings.StreamLayout(rawValue: opusStreams) != nil else {
            throw ValidationError("--opus-streams must be separate or coupled")
        }
        if rate != "auto" {
            let allowed = format == .opus ? [8000, 12000, 16000, 24000, 48000] : [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
            guard let value = Int(rate), allowed.contains(value) else {
                throw ValidationError("--rate must be auto or one of \(allowed.map(String.init).joined(separator: ", ")) for \(format.rawValue)")
            }
        }
    }

    /// The options the command line (and the --config file) ask for.
    func makeOptions() throws -> ConvertOptions {
        var settings = OpusSettings.default
        settings.bitrate = Int(bitrate)
        settings.complexity = complexity
        settings.layout = OpusSettings.StreamLayout(rawValue: opusStreams) ?? settings.layout
        var options = ConvertOptions(outputDirectory: out, opus: settings)
        options.format = AudioFileFormat(rawValue: format) ?? .opus
        options.channelLayout = ChannelLayout(rawValue: channels) ?? .stereo
        options.outputRate = Int(rate)
        options.peaks = peaks.options
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
        return options
    }

    func run() throws {
        let options = try makeOptions()
        let converter = try Converter(options: options, afterCommitStep: Self.crashInjection())
        var failures = 0
        var written = 0
        var skipped = 0
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
            skipped += diagnostics[.callsSkippedByRule]
            if let error = result.error {
                failures += 1
                stderr.write("callrec: \(error)\n")
            } else if result.recordings.isEmpty && diagnostics[.callsSkippedByRule] == 0 {
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
            stdout.write("\(written) recording\(written == 1 ? "" : "s") written to \(out)"
                + (skipped > 0 ? ", \(skipped) call\(skipped == 1 ? "" : "s") skipped by the recording rules" : "") + "\n")
        }
        if failures > 0 { throw PartialFailure() }
    }

    /// `CALLREC_CRASH_AT=<step>` (a `CommitStep`, e.g. `row-pending`) kills
    /// the process with SIGKILL right after that step of the first commit:
    /// the crash tests use it to leave exactly that state on disk.
    static func crashInjection() -> (@Sendable (CommitStep) throws -> Void)? {
        guard let name = ProcessInfo.processInfo.environment["CALLREC_CRASH_AT"], let target = CommitStep(rawValue: name) else { return nil }
        return { step in if step == target { kill(getpid(), SIGKILL) } }
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
            /// Every audio file (two with --channels split).
            var audioFiles: [String]
            var index: String
            var bytes: Int64
            var call: CallIndex

            enum CodingKeys: String, CodingKey {
                case audio, index, bytes, call
                case audioFiles = "audio_files"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = Line(audio: s.audioPath, audioFiles: s.audioFiles.map(\.path), index: s.indexPath, bytes: s.audioBytes, call: s.index)
        let data = (try? encoder.encode(line)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
