import ArgumentParser
import CallMedia
import CallrecCore
import Catalog
import Commit
import Foundation
import LiveRecorder

/// `callrec record`: the live recorder behind a PBX mirror port.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record calls from a live capture stream, each as it ends, until stopped.",
        discussion: """
            Reads a live interface through libpcap (--interface, with an optional BPF --filter; needs \
            CAP_NET_RAW and CAP_NET_ADMIN, or root), or a pcap or pcapng stream that does not end \
            (tcpdump -U -w -, dumpcap -w -), and writes \
            each call when it ends (BYE, CANCEL, or --idle-timeout seconds without packets): the \
            recording, its index and peaks, and its catalog row, exactly as convert writes them. \
            The catalog's recording rules decide which calls are recorded (read again every --rules-interval seconds); \
            a skipped call is never decoded.

            Standard output: one JSON object per finished call, in the order calls ended \
            (outcome recorded, skipped, encrypted, no_media or failed; docs/FORMATS.md); a reader \
            that stops reading never holds up recording (lines beyond 4096 waiting are dropped, counted). \
            Standard error: what the recorder does, and a status line every --status-interval \
            seconds and on SIGUSR1 (calls in flight, recorded, skipped, packets, drops). A pipe slows \
            its writer down when the recorder falls behind; a live interface never waits: packets \
            beyond the recorder's queue are dropped and counted, with libpcap's own kernel and \
            interface drop counts.

            Signalling and routing run on one thread; the calls are spread over --jobs worker \
            threads (default: one per core). Memory depends on the calls in flight (at most 10 000), \
            never on how long the recorder runs.

            Stopping. SIGINT or SIGTERM: stop reading, end every call in flight as cut, commit it, \
            exit 0 (a second signal exits at once). After SIGKILL or a power loss no file looks \
            complete that is not; the next start repairs what was left and says what it found: each \
            call that was in flight is salvaged from its temporary file (kept up to its last complete \
            Ogg page, at most --flush-interval seconds plus the 0.4 s jitter window short, committed \
            with end_reason crashed), interrupted commits are completed or rolled back. A full disk pauses recording and waits up to \
            --disk-full-wait seconds for space, then stops (exit 1), keeping everything written.

            Evidence. The recorder signs each recording's manifest with its Ed25519 key (--signing-key, \
            default OUT/recorder.key, made on first use) and says at start which key, by recorder id and \
            fingerprint. Every --checkpoint-interval seconds, and when it stops, it signs a checkpoint of the \
            audit and manifest chains and prints it on standard error and among the JSON lines \
            ({"checkpoint": ..., "signature": ...}): keep those lines, and catalog verify --checkpoints proves \
            the catalog still holds what was signed.

            Coverage. Every call seen enters the catalog's call ledger (callrec catalog coverage). A call \
            a --require rule matched that ends without a complete recording is a coverage failure: a line \
            {"coverage_failure": {...}} follows its call's line on standard output and a line on standard \
            error says it; the status line counts them, and the recorder keeps recording (coverage \
            failures do not change the exit status). Calls turned away at --max-calls are entered as dropped.

            Overload. When the workers fall behind a paced input (the packets being routed were captured \
            more than --overload-lag seconds longer ago than the least they ever were, and a queue is at \
            least half full), the recorder lowers Opus complexity step by step (the configured one, 2 less, \
            ..., 0) for every call from its next frame, at most one step every 5 s, and raises it again \
            one step at a time after 30 s caught up. Each step is a line on standard error and \
            {"overload": {...}} among the JSON lines; the status line shows the level; each call's index \
            lists the complexities its audio was encoded with (opus_complexity) and its manifest the \
            lowest. Still behind at 0: a pipe's writer is held back, a live interface drops and counts. \
            A capture file (named, or redirected to standard input) is not paced: its complexity never changes.

            Time is the capture's: when no packet arrives at all, it moves on with the wall clock \
            so idle calls still end.

            The catalog is OUT/catalog.sqlite, or with --catalog postgresql://user@host/db (or a \
            'catalog = ...' line in the --config file) a PostgreSQL database that many recorders and \
            converters share; the files still go to --out, and their rows name this recorder's storage \
            (host:/absolute/out), which start-up repairs and verify keep to.

            Examples:
              callrec record --interface eth1 --filter udp --out /var/spool/callrec
              tcpdump -i eth1 -U -w - udp | callrec record - --out /var/spool/callrec
              ssh mirror 'tcpdump -i eth1 -U -w - udp' | callrec record - \\
                  --out /srv/calls --jobs 4
              callrec record - --out /srv/calls --local-prefix +46812 < replay.pcap
              PGPASSFILE=/etc/callrec/pgpass callrec record --interface eth1 \\
                  --out /srv/calls --catalog postgresql://rec@db/calls
              kill -USR1 $(pidof callrec)        # a status line on stderr now

            Exit status: 0 stopped by a signal or at the end of the input with every call written; \
            1 some call could not be written, the disk stayed full, or the input broke; 2 usage error.
            """
    )

    @Argument(help: ArgumentHelp("The capture stream: '-' for standard input (or a capture file, replayed).", valueName: "capture"))
    var input: String?

    @OptionGroup var source: CaptureSourceOptions

    @OptionGroup var recording: RecordingFormatOptions

    @OptionGroup(title: "Waveform peaks")
    var peaks: PeaksArguments

    @Option(help: ArgumentHelp("Worker threads for the calls; the default is one per core of this machine.", valueName: "N"))
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: ArgumentHelp("Seconds between two status lines on stderr; 0: only on SIGUSR1.", valueName: "seconds"))
    var statusInterval: Double = 60

    @Option(help: ArgumentHelp("Seconds to wait for space when the disk is full before stopping.", valueName: "seconds"))
    var diskFullWait: Double = 600

    @Option(
        help: ArgumentHelp(
            "Seconds between two reads of the catalog's recording rules: a rule added with 'callrec catalog rules add' "
                + "decides the calls that start after the next read.", valueName: "seconds"))
    var rulesInterval: Double = 5

    @Option(help: ArgumentHelp(
        "Seconds of encoded audio an Ogg page holds before it is written out: the most a crash (kill -9, power loss aside) loses of a call in flight, beside the jitter window.",
        valueName: "seconds"))
    var flushInterval: Double = 1

    @Option(
        help: ArgumentHelp(
            "Seconds between two signed checkpoints of the audit and manifest chains, printed among the JSON lines and on "
                + "standard error so a copy exists outside the catalog (one more when the recorder stops); 0: only then.",
            valueName: "seconds"))
    var checkpointInterval: Double = 300

    @Option(
        help: ArgumentHelp(
            "Seconds the packets may run behind the wall clock, beyond the least they ever did, before the recorder "
                + "lowers Opus complexity to keep up (see Overload); 0: never lower it.", valueName: "seconds"))
    var overloadLag: Double = OverloadSettings().lag

    @Flag(name: .shortAndLong, help: "At the end, also print what was skipped and why (malformed, late, unmatched packets).")
    var verbose = false

    func validate() throws {
        try source.validate(capture: input)
        if !(1...1024).contains(jobs) { throw ValidationError("--jobs must be between 1 and 1024") }
        if !(statusInterval >= 0) { throw ValidationError("--status-interval must be 0 or more seconds") }
        if !(diskFullWait >= 0) { throw ValidationError("--disk-full-wait must be 0 or more seconds") }
        if !(rulesInterval > 0) { throw ValidationError("--rules-interval must be more than 0 seconds") }
        if !(flushInterval >= 0.02 && flushInterval <= 60) { throw ValidationError("--flush-interval must be between 0.02 and 60 seconds") }
        if !(checkpointInterval >= 0) { throw ValidationError("--checkpoint-interval must be 0 or more seconds") }
        if !(overloadLag >= 0) { throw ValidationError("--overload-lag must be 0 or more seconds") }
    }

    func run() throws {
        var options = try recording.makeOptions()
        options.peaks = peaks.options
        options.opus.flushInterval = flushInterval
        var settings = Recorder.Settings(convert: options, jobs: jobs)
        settings.statusInterval = statusInterval
        settings.diskFullWait = diskFullWait
        settings.rulesInterval = rulesInterval
        settings.checkpointInterval = checkpointInterval
        settings.overload.lag = overloadLag
        settings.afterCommitStep = Convert.crashInjection()
        settings.actor = .operator(operatorLogin())
        let stdout = FileHandleOutput.standardOutput
        let stderr = FileHandleOutput.standardError
        let events = Recorder.Events(
            call: { stdout.write($0.jsonLine + "\n") },
            message: { stderr.write($0 + "\n") },
            checkpoint: { stdout.write($0 + "\n") },
            coverageFailure: { stdout.write($0 + "\n") },
            overload: { stdout.write($0 + "\n") })
        let recorder = try openingRecorder { try Recorder(settings: settings, input: source.input(capture: input), events: events, catalog: try recording.openCatalog()) }
        let files = System.raiseOpenFileLimit()
        if files / 3 < settings.convert.maxCalls {
            stderr.write(
                "callrec: note: at most \(files) open files, enough for about \(files / 3) calls in flight (each keeps "
                    + "two or three open); more would fail: raise the limit (ulimit -n, LimitNOFILE=)\n")
        }
        let stops = StopCount()
        let watcher = SignalWatcher([.interrupt, .terminate, .user1]) { signal in
            if signal == .user1 {
                recorder.reportStatus()
            } else if stops.next() == 1 {
                stderr.write("callrec: \(signal.name): stopping; finishing the calls in flight\n")
                recorder.stop()
            } else {
                stderr.write("callrec: stopping at once; the calls in flight are lost (the next start cleans up)\n")
                System.exitImmediately(ExitStatus.partial)
            }
        }
        let summary = withExtendedLifetime(watcher) { recorder.run() }
        if let error = summary.error { stderr.write("callrec: \(error)\n") }
        if verbose {
            for (name, value) in summary.counters { stderr.write("  \(name) \(value)\n") }
            for note in summary.notes { stderr.write("  \(note)\n") }
        } else {
            for note in summary.notes.prefix(5) { stderr.write("callrec: note: \(note)\n") }
        }
        let clean = (summary.reason == .endOfInput || summary.reason == .stopped) && summary.failed == 0
        if !clean { throw PartialFailure() }
    }
}

/// Counts stop signals (only the watcher's thread touches it).
private final class StopCount: @unchecked Sendable {
    // SAFETY: used from the signal watcher's one thread only.
    private var count = 0
    func next() -> Int {
        count += 1
        return count
    }
}
