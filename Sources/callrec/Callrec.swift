import ArgumentParser
import CallrecCore

/// The `callrec` command: captured VoIP traffic in, call recordings out.
struct Callrec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "callrec",
        abstract: "Turn captured VoIP traffic (pcap, pcapng) into call recordings.",
        discussion: """
            callrec finds each call in a capture from its SIP/SDP signalling and RTP \
            streams, decodes both legs, places them on one timeline and writes one Ogg \
            Opus file per call (channel 0 = caller, channel 1 = callee) with a JSON index.

            Exit status: 0 success, 1 some inputs failed (the rest were written), 2 usage error.
            """,
        version: CallrecVersion.current,
        subcommands: [Convert.self, Record.self, Inspect.self, CatalogCommand.self, ServeCommand.self, Keys.self, VerifyEvidence.self, Bench.self]
    )
}

/// The exit codes of ARCHITECTURE.md.
enum ExitStatus {
    static let success: Int32 = 0
    static let partial: Int32 = 1
    static let usage: Int32 = 2
}

/// Thrown by a command whose inputs partly failed; the messages were already printed.
struct PartialFailure: Error {}

@main
enum Main {
    static func main() {
        do {
            var command = try Callrec.parseAsRoot()
            try command.run()
            System.exit(ExitStatus.success)
        } catch is PartialFailure {
            System.exit(ExitStatus.partial)
        } catch {
            let code = Callrec.exitCode(for: error)
            if code == .success {
                // --help and --version.
                print(Callrec.fullMessage(for: error))
                System.exit(ExitStatus.success)
            }
            let message = Callrec.fullMessage(for: error)
            FileHandleOutput.standardError.write("callrec: " + message.trimmingTrailingNewlines() + "\n")
            System.exit(ExitStatus.usage)
        }
    }
}
