import ArgumentParser
import CallMedia
import CallrecCore
import Capture
import Catalog
import Commit
import Conversion
import DSP
import Evidence
import Foundation
import Inspection
import Output

/// `callrec convert`: batch conversion of captures into recordings.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert captures into one recording per call.",
        discussion: """
            Each call found in the captures is written as:
              OUT/YYYY/MM/DD/<id>.opus        0 = caller (INVITE sender), 1 = callee
              OUT/YYYY/MM/DD/<id>.json        the call index
              OUT/YYYY/MM/DD/<id>.peaks.json  waveform peaks (audiowaveform JSON v2)

            <id> is the UTC start time and a hash of the Call-ID, e.g. 20261129T081530Z-3f9a1c2e. The call index \
            holds the parties, times, codecs, stream statistics, who spoke when, talk and overtalk time and the \
            DTMF digits. --channels mono mixes both parties into one channel; --channels split writes \
            <id>-caller.<ext> and <id>-callee.<ext>. --format wav or flac writes 16-bit PCM. The rate is the \
            call's own (8000 for G.711, 16000 with G.722) unless --rate says otherwise; only a leg at another \
            rate is resampled.

            Files appear only when complete: they are written under a temporary name, synced and renamed. \
            A recording is never replaced: a call recorded already (a capture converted again, a second probe's \
            copy, overlapping capture files) is reported and kept as it is; a different call never takes its id. \
            Each recording is also a row in the catalog (OUT/catalog.sqlite, or the PostgreSQL database \
            --catalog postgresql://... names, which many converters and recorders may share), entered in the \
            same step as its files; the catalog's recording rules decide, before any audio is decoded, which \
            calls are recorded (callrec catalog rules --help).

            Calls are found from SIP over UDP or TCP (SDP in INVITE, 18x, 200, ACK, UPDATE, PRACK), and from RTP \
            alone when no signalling was captured (mirrored streams are paired; the index says the parties are \
            unknown). SRTP is decrypted with the SDES keys in the SDP; SRTP that no key authenticates is \
            indexed, never decoded. A call ends on BYE or CANCEL, after --idle-timeout seconds of capture time \
            without packets (calls on hold wait 2 hours), or at the end of the capture (cut).

            Direction (inbound, outbound, internal) comes from the site's own parties: a caller or callee is local \
            when its number is a --local-number, starts with a --local-prefix, or its SIP host is a --local-domain \
            (or a subdomain of one). Each may be given many times, or in a --config file, one 'name = value' \
            per line:
              # /etc/callrec.conf
              local-prefix = +46812
              local-domain = pbx.example.com
              idle-timeout = 90
              catalog = postgresql://callrec@db.example.com/calls

            Examples:
              callrec convert capture.pcap
              callrec convert --out /srv/recordings day1.pcap day2.pcapng
              callrec convert --format flac --channels split capture.pcap
              callrec convert --channels mono --bitrate 16000 capture.pcap
              tcpdump -U -w - udp | callrec convert -
              callrec convert --local-prefix +46812 --local-domain pbx.example.com \\
                  capture.pcap
              callrec convert --config /etc/callrec.conf capture.pcap
              PGPASSWORD=... callrec convert --out /srv/site-a \\
                  --catalog postgresql://callrec@db.example.com/calls day1.pcap
              callrec convert --interface eth1 --filter udp --out /srv/recordings

            A live capture (--interface) runs until Ctrl-C; calls still in flight are then written, marked 'cut'.

            Cores. The captures are read, and their signalling followed, on one thread; the calls \
            are decoded, mixed and encoded on --jobs worker threads (default: one per core; as \
            callrec record does). The output does not depend on --jobs: the same recording ids, the \
            same files byte for byte, the same catalog and ledger rows (only the moment each commit is \
            made differs), and the same first error, because each call is committed on the reading \
            thread in the order the calls ended. Captures are converted one after another, in the \
            order given. Memory for the hand-off to the workers is bounded (16 MiB in all): when the \
            workers fall behind, reading waits for them.
              callrec convert --jobs 1 capture.pcap      every call on one thread
              callrec convert --jobs 8 big.pcapng        eight calls encoded at once
            """
    )

    @Argument(help: ArgumentHelp("Capture files (pcap or pcapng); '-' reads standard input.", valueName: "capture"))
    var inputs: [String] = []

    @OptionGroup var source: CaptureSourceOptions

    @OptionGroup var recording: RecordingFormatOptions

    @OptionGroup(title: "Waveform peaks")
    var peaks: PeaksArguments

    @Option(help: ArgumentHelp("Worker threads for the calls; the default is one per core of this machine.", valueName: "N"))
    var jobs: Int = Converter.defaultJobs

    @Flag(help: "Print one JSON object per recording instead of the table.")
    var json = false

    @Flag(name: .shortAndLong, help: "Also print what was skipped and why (malformed, late, unmatched packets).")
    var verbose = false

    func validate() throws {
        if inputs.isEmpty && source.interface == nil { throw ValidationError("give at least one capture, '-' for standard input, or --interface") }
        if !inputs.isEmpty && source.interface != nil { throw ValidationError("give either captures or --interface, not both") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw ValidationError("standard input ('-') can be read only once") }
        if !Converter.jobsRange.contains(jobs) { throw ValidationError("--jobs must be between 1 and 1024") }
    }

    /// The options the command line (and the --config file) ask for.
    func makeOptions() throws -> ConvertOptions {
        var options = try recording.makeOptions()
        options.peaks = peaks.options
        return options
    }

    func run() throws {
        let options = try makeOptions()
        let converter = try openingRecorder {
            try Converter(
                options: options, catalog: try recording.openCatalog(), afterCommitStep: Self.crashInjection(),
                actor: .operator(operatorLogin()), jobs: jobs)
        }
        FileHandleOutput.standardError.write(converter.identity.startLine + "\n")
        // Sealing is said once at start; writing in the clear (the default, as ever) only with --verbose,
        // so that an error stays the one line it is.
        if converter.options.sealer != nil || verbose {
            FileHandleOutput.standardError.write(SealingNotice.line(for: converter.options.sealer) + "\n")
        }
        var failures = 0
        var written = 0
        var skipped = 0
        var alreadyRecorded = 0
        let stdout = FileHandleOutput.standardOutput
        let stderr = FileHandleOutput.standardError
        let sources = source.interface == nil ? inputs.map { source.input(capture: $0) } : [source.input(capture: nil)]
        for captureInput in sources {
            let input = captureInput.interface ?? captureInput.path ?? "-"
            let diagnostics = Diagnostics()
            var stop: SignalWatcher? = nil
            let result = converter.convert(captureInput, diagnostics: diagnostics, onOpen: { stop = source.listen($0) }) { summary in
                if json {
                    stdout.write(Self.jsonLine(summary) + "\n")
                } else {
                    stdout.write(Self.tableLine(summary) + "\n")
                }
            }
            withExtendedLifetime(stop) {}
            written += result.recordings.count
            skipped += diagnostics[.callsSkippedByRule]
            alreadyRecorded += diagnostics[.callsAlreadyRecorded]
            if let error = result.error {
                failures += 1
                stderr.write("callrec: \(error)\n")
            } else if result.recordings.isEmpty && diagnostics[.callsSkippedByRule] == 0 && diagnostics[.callsAlreadyRecorded] == 0
                && diagnostics[.callsNotAnswered] == 0
            {
                // Nothing recorded, and no call a rule skipped, recorded before or nobody answered
                // (those had nothing to record; the ledger holds them): the input yielded nothing.
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
        if written > 0 {
            // A checkpoint of both chains, signed, for the operator's log (an outside copy).
            do {
                stderr.write(Checkpoint.messageLine(try Checkpoint.make(converter.catalog, identity: converter.identity, at: wallClock())) + "\n")
            } catch {
                stderr.write("callrec: could not sign a checkpoint: \(error)\n")
            }
        }
        if !json {
            stdout.write("\(written) recording\(written == 1 ? "" : "s") written to \(recording.out)"
                + (skipped > 0 ? ", \(skipped) call\(skipped == 1 ? "" : "s") skipped by the recording rules" : "")
                + (alreadyRecorded > 0
                    ? ", \(alreadyRecorded) call\(alreadyRecorded == 1 ? "" : "s") recorded already (kept as \(alreadyRecorded == 1 ? "it was" : "they were"), not written again)"
                    : "") + "\n")
        }
        if failures > 0 { throw PartialFailure() }
    }

    /// `CALLREC_CRASH_AT=<step>` (a `CommitStep`, e.g. `row-pending`) kills
    /// the process with SIGKILL right after that step of the first commit:
    /// the crash tests use it to leave exactly that state on disk.
    static func crashInjection() -> (@Sendable (CommitStep) throws -> Void)? {
        guard let name = ProcessInfo.processInfo.environment["CALLREC_CRASH_AT"], let target = CommitStep(rawValue: name) else { return nil }
        return { step in if step == target { System.killSelf() } }
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
        return catalogJSON(Line(audio: s.audioPath, audioFiles: s.audioFiles.map(\.path), index: s.indexPath, bytes: s.audioBytes, call: s.clearIndex))
    }
}
