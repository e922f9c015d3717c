import ArgumentParser
import CallrecCore
import Capture
import Foundation
import Inspection

/// `callrec inspect`: calls and RTP streams in a capture, with tshark's statistics; no audio.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the calls and RTP streams in a capture, with loss and jitter as tshark counts them.",
        discussion: """
            Reads the capture once and decodes no audio. For each call: Call-ID, parties, \
            times, end reason and codecs. For each RTP stream (source, destination, SSRC): \
            payload type, codec, packets, lost, duplicates, out-of-order, maximum delta, mean \
            and maximum RFC 3550 jitter. Packet and loss counts are those of \
            `tshark -q -z rtp,streams`; delta and jitter agree to the microsecond.

            RTP is what SDP announced (in SIP over UDP or TCP, or in MGCP) and, for \
            streams no SDP named, what looks like RTP version 2 sent to an even port of 1024 \
            or above (as tshark's rtp.heuristic_rtp finds it). The report says which.

            Inputs: pcap (microsecond or nanosecond, either byte order), pcapng (any number \
            of interfaces, of any link types), '-' for standard input, or a live interface \
            (stop with Ctrl-C). The format comes from the file's first bytes, not its name.

            Examples:
              callrec inspect capture.pcapng
              callrec inspect --json capture.pcap | jq '.streams[] | select(.lost > 0)'
              tcpdump -U -w - -i eth1 udp | callrec inspect -
              callrec inspect --interface eth1 --filter 'udp and not port 53'
            """
    )

    @Argument(help: ArgumentHelp("A capture file (pcap or pcapng); '-' reads standard input.", valueName: "capture"))
    var capture: String?

    @OptionGroup var source: CaptureSourceOptions

    @Flag(help: "Print one JSON object (see docs/FORMATS.md) instead of tables.")
    var json = false

    @Flag(name: .shortAndLong, help: "Also print the counters of what was skipped and why.")
    var verbose = false

    func validate() throws {
        try source.validate(capture: capture)
    }

    func run() throws {
        let diagnostics = Diagnostics()
        let input = source.input(capture: capture)
        let report: InspectReport
        do {
            let captureSource = try CaptureSource(input, diagnostics: diagnostics)
            let stop = source.listen(captureSource)
            report = Inspector.inspect(source: captureSource, diagnostics: diagnostics)
            withExtendedLifetime(stop) {}
        } catch {
            report = Inspector.inspect(input, diagnostics: diagnostics)
        }
        let stdout = FileHandleOutput.standardOutput
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            let data = (try? encoder.encode(report)) ?? Data()
            stdout.write(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            stdout.write(Self.table(report))
        }
        if let error = report.error {
            FileHandleOutput.standardError.write("callrec: \(error)\n")
        }
        if verbose {
            for (name, value) in report.counters.sorted(by: { $0.key < $1.key }) {
                FileHandleOutput.standardError.write("  \(report.input): \(name) \(value)\n")
            }
        }
        for note in report.notes.prefix(verbose ? Diagnostics.maxNotes : 5) {
            FileHandleOutput.standardError.write("callrec: note: \(report.input): \(note)\n")
        }
        if report.error != nil { throw PartialFailure() }
    }

    /// The human-readable report: a header line, the calls, the streams.
    static func table(_ r: InspectReport) -> String {
        var out = "\(r.input): \(r.format ?? "?"), \(r.linkTypes.joined(separator: " + ")), \(r.packets) packets\n"
        out += "\n\(r.calls.count) call\(r.calls.count == 1 ? "" : "s")\n"
        if !r.calls.isEmpty {
            out += "  " + "start".padded(24) + "  " + "duration".padded(10) + "  " + "end".padded(12) + "  "
            out += "caller -> callee".padded(28) + "  " + "codecs".padded(10) + "  call-id\n"
            for c in r.calls {
                let duration = c.durationS.map { String(format: "%8.2f s", $0) } ?? "         -"
                let parties = "\(c.caller ?? "?") -> \(c.callee ?? "?")"
                out += "  \(c.start.iso8601)  \(duration)  \((c.endReason ?? "-").padded(12))  \(parties.padded(28))  "
                out += "\(c.codecs.joined(separator: ",").padded(10))  \(c.callID)\n"
                if let opened = c.openedBy {
                    out += "    (the INVITE is not in the capture: the call is known from its \(opened == "INVITE" ? "re-INVITE" : opened))\n"
                }
            }
        }
        out += "\n\(r.streams.count) RTP stream\(r.streams.count == 1 ? "" : "s")\n"
        if !r.streams.isEmpty {
            out += "  " + "source".padded(22) + "  " + "destination".padded(22) + "  ssrc        codec     packets    lost   dup  ooo  max delta  mean jitter  max jitter  found by\n"
            for s in r.streams {
                let codec = (s.codec ?? "PT \(s.payloadType)") + (s.srtp ? "/SRTP" : "")
                out += "  \(s.source.description.padded(22))  \(s.destination.description.padded(22))  "
                out += "\(s.ssrcText)  \(codec.padded(8))  "
                out += String(format: "%7d  %6d  %4d  %3d  %9.3f  %11.3f  %10.3f", s.packets, s.lost, s.duplicates, s.outOfOrder, s.maxDeltaMs, s.meanJitterMs, s.maxJitterMs)
                out += "  \(s.foundBy.rawValue)\n"
            }
            out += "  (times in ms)\n"
        }
        return out
    }
}

/// `--interface IF` and `--filter BPF`, shared by the commands that read captures.
struct CaptureSourceOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Capture live on this network interface (through libpcap; needs root or CAP_NET_RAW). Ctrl-C stops.", valueName: "if"))
    var interface: String?

    @Option(help: ArgumentHelp("Only packets matching this BPF expression (tcpdump syntax), for an interface or a file.", valueName: "bpf"))
    var filter: String?

    /// Exactly one of a capture path and `--interface`.
    func validate(capture: String?) throws {
        if capture == nil && interface == nil { throw ValidationError("give a capture file, '-' for standard input, or --interface") }
        if capture != nil && interface != nil { throw ValidationError("give either a capture file or --interface, not both") }
    }

    func input(capture: String?) -> CaptureSource.Input {
        if let interface { return .interface(interface, filter: filter) }
        return .file(capture ?? "-", filter: filter)
    }

    /// For a live capture, now open: says so on standard error (from then on
    /// packets are captured) and makes Ctrl-C (SIGINT) and SIGTERM stop it
    /// cleanly, so the calls and streams read so far are still reported or
    /// written. Keep the returned watcher alive for as long as the capture runs.
    func listen(_ source: CaptureSource) -> SignalWatcher? {
        guard source.format == .live, let interface else { return nil }
        FileHandleOutput.standardError.write("callrec: listening on \(interface)\(filter.map { " (filter '\($0)')" } ?? "")\n")
        let handle = source.stopHandle
        return SignalWatcher([.interrupt, .terminate]) { _ in handle.stop() }
    }
}
