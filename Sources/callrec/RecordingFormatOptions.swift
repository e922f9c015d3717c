import ArgumentParser
import CallMedia
import Catalog
import CatalogPostgres
import Foundation
import Output
import Sealing

/// The options that say where and how recordings are written and how calls
/// are judged, shared by the commands that write recordings (convert, record).
struct RecordingFormatOptions: ParsableArguments {
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

    @OptionGroup var opus: OpusArguments<Help>

    // For measuring the two drift corrections against each other (README, "Timeline").
    @Option(help: ArgumentHelp(
        "How a leg whose sender clock drifts is brought back to capture time: resample, or silence (samples dropped and repeated in silent packets only).",
        valueName: "resample|silence", visibility: .hidden))
    var driftCorrection: DriftCorrection = .resample

    @Option(help: ArgumentHelp(
        "End a call after this many seconds without packets, in capture time (default: 120, or the --config file's).",
        valueName: "seconds"))
    var idleTimeout: Double?

    @Option(help: ArgumentHelp(
        "Calls followed at once at most (default 10000): a new call beyond them is turned away, counted, and entered "
            + "in the catalog's call ledger as dropped (callrec catalog coverage).",
        valueName: "n"))
    var maxCalls: Int?

    @Option(name: .customLong("local-number"), help: ArgumentHelp(
        "A number of this site (repeatable): calls from it are outbound, to it inbound.", valueName: "number"))
    var localNumbers: [String] = []

    @Option(name: .customLong("local-prefix"), help: ArgumentHelp(
        "A number prefix of this site (repeatable), e.g. +46812.", valueName: "prefix"))
    var localPrefixes: [String] = []

    @Option(name: .customLong("local-domain"), help: ArgumentHelp(
        "A SIP domain of this site (repeatable); its subdomains are local too.", valueName: "domain"))
    var localDomains: [String] = []

    @Option(name: .customLong("recipient"), help: ArgumentHelp(
        "Seal every recording to this public key (age1..., repeatable): the compliance key. "
            + "Sealing is on when one is given; the catalog's users and teams whose numbers are a call's parties are added.",
        valueName: "age1..."))
    var recipients: [String] = []

    @Option(name: .customLong("recipients-file"), help: ArgumentHelp(
        "Seal to the public keys in this file (one age1... per line, as age -R reads; repeatable).", valueName: "file"))
    var recipientsFiles: [String] = []

    @Option(help: ArgumentHelp(
        "The recorder's Ed25519 signing key (PKCS#8 PEM, mode 0600; callrec keys new --signing makes one). "
            + "Default: OUT/recorder.key, made on first use with OUT/recorder.pub.pem beside it.", valueName: "file"))
    var signingKey: String?

    @Option(help: ArgumentHelp(
        "The catalog: a PostgreSQL URL (postgresql://user@host/db, shared by many recorders; the files still go to --out; "
            + "the password from PGPASSWORD or ~/.pgpass), or OUT/catalog.sqlite (the default).", valueName: "url"))
    var catalog: String?

    @Option(help: ArgumentHelp(
        "Read settings from a file of 'name = value' lines (local-number, local-prefix, local-domain, idle-timeout, catalog, "
            + "recipient, recipients-file); options on the command line add to or override them.", valueName: "file"))
    var config: String?

    func validate() throws {
        if let idleTimeout, !(idleTimeout > 0) { throw ValidationError("--idle-timeout must be positive") }
        if let maxCalls, !(1...1_000_000).contains(maxCalls) { throw ValidationError("--max-calls must be between 1 and 1000000") }
        for recipient in recipients {
            do {
                _ = try X25519Recipient(recipient)
            } catch let error as SealingError {
                throw ValidationError("--recipient '\(recipient.prefix(80))': \(error.message)")
            }
        }
        guard let format = AudioFileFormat(rawValue: format) else { throw ValidationError("--format must be opus, wav or flac") }
        guard ChannelLayout(rawValue: channels) != nil else { throw ValidationError("--channels must be stereo, mono or split") }
        if rate != "auto" {
            let allowed = format == .opus ? [8000, 12000, 16000, 24000, 48000] : [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
            guard let value = Int(rate), allowed.contains(value) else {
                throw ValidationError(
                    "--rate must be auto or one of \(allowed.map(String.init).joined(separator: ", ")) for \(format.rawValue)")
            }
        }
    }

    /// Where the catalog is: --catalog, else the --config file's `catalog`,
    /// else OUT/catalog.sqlite.
    func catalogLocation() throws -> String {
        var location = catalog
        if location == nil, let config {
            do { location = try ConfigFile(path: config).catalog } catch let failure as ConfigFile.Failure { throw ValidationError(failure.description) }
        }
        let sqlite = (out.hasSuffix("/") ? out : out + "/") + CatalogStore.fileName
        guard let location, location != sqlite else { return sqlite }
        // An SQLite catalog's paths are relative to its own folder: it lives with its recordings.
        guard PostgresURL.isURL(location) else {
            let folder = (location as NSString).deletingLastPathComponent
            guard (folder as NSString).standardizingPath == (out as NSString).standardizingPath
                || (folder.isEmpty && (out as NSString).standardizingPath == ".")
            else {
                throw ValidationError(
                    "an SQLite catalog lives in the folder of its recordings (--out \(out): \(sqlite)); "
                        + "give --out \(folder.isEmpty ? "." : folder), or a PostgreSQL URL for a catalog kept elsewhere")
            }
            return location
        }
        return location
    }

    /// Opens (creating if needed) the catalog the recordings go into.
    func openCatalog() throws -> CatalogStore {
        try AtomicFile.makeDirectories(out)
        return try CatalogStore.open(try catalogLocation(), folder: out)
    }

    /// The options these flags (and the --config file) ask for.
    func makeOptions() throws -> ConvertOptions {
        var options = ConvertOptions(outputDirectory: out, opus: opus.settings)
        options.format = AudioFileFormat(rawValue: format) ?? .opus
        options.driftCorrection = driftCorrection
        options.channelLayout = ChannelLayout(rawValue: channels) ?? .stereo
        options.outputRate = Int(rate)
        if let config {
            do {
                try ConfigFile(path: config).apply(to: &options)
            } catch let failure as ConfigFile.Failure {
                throw ValidationError(failure.description)
            }
        }
        if let idleTimeout { options.idleTimeout = idleTimeout }
        if let maxCalls { options.maxCalls = maxCalls }
        if let signingKey { options.signingKeyPath = signingKey }
        options.localNumbers += localNumbers
        options.localPrefixes += localPrefixes
        options.localDomains += localDomains
        options.complianceRecipients += recipients
        do {
            for file in recipientsFiles { options.complianceRecipients += try X25519Recipient.load(path: file).map(\.description) }
        } catch let error as SealingError {
            throw ValidationError("--recipients-file: \(error)")
        }
        return options
    }

    /// The Opus options' help, for the commands that write recordings.
    enum Help: OpusArgumentsHelp {
        static let bitrate = ArgumentHelp(
            "Opus: total bit rate per call in bits per second (split files share it); auto = 16000 per party at 8 kHz, 24000 at 16 kHz and up.",
            valueName: "auto|bps")
        static let complexity = ArgumentHelp("Opus encoder complexity, 0 (fastest) to 10.", valueName: "0-10")
        static let opusStreams = ArgumentHelp(
            "Opus: separate (one mono stream per speaker) or coupled (one stereo stream).", valueName: "separate|coupled")
    }
}

extension DriftCorrection: ExpressibleByArgument {}
