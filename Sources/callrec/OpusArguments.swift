import ArgumentParser
import Output

/// `--bitrate`, `--complexity` and `--opus-streams`, shared by the commands
/// that encode Opus (convert, record, bench): declared, checked and turned
/// into `OpusSettings` once. `Help` words the three options for the command.
struct OpusArguments<Help: OpusArgumentsHelp>: ParsableArguments {
    @Option(help: Help.bitrate)
    var bitrate: String = "auto"

    @Option(help: Help.complexity)
    var complexity: Int = OpusSettings.default.complexity

    @Option(help: Help.opusStreams)
    var opusStreams: String = OpusSettings.default.layout.rawValue

    func validate() throws {
        if bitrate != "auto" && !(Int(bitrate).map { (6000...510_000).contains($0) } ?? false) {
            throw ValidationError("--bitrate must be auto or between 6000 and 510000")
        }
        if !(0...10).contains(complexity) { throw ValidationError("--complexity must be between 0 and 10") }
        guard OpusSettings.StreamLayout(rawValue: opusStreams) != nil else {
            throw ValidationError("--opus-streams must be separate or coupled")
        }
    }

    /// The encoder settings these options ask for.
    var settings: OpusSettings {
        var settings = OpusSettings.default
        settings.bitrate = Int(bitrate)
        settings.complexity = complexity
        settings.layout = OpusSettings.StreamLayout(rawValue: opusStreams) ?? settings.layout
        return settings
    }
}

/// The help texts of `OpusArguments`' options, as one command words them.
protocol OpusArgumentsHelp {
    /// `--bitrate`.
    static var bitrate: ArgumentHelp { get }
    /// `--complexity`.
    static var complexity: ArgumentHelp { get }
    /// `--opus-streams`.
    static var opusStreams: ArgumentHelp { get }
}
