import ArgumentParser
import CallMedia
import Output

/// The waveform peaks options, shared by the commands that write recordings.
struct PeaksArguments: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Waveform peaks beside each recording, in BBC audiowaveform's formats (peaks.js, waveform-data.js): "
            + "json (<id>.peaks.json), dat (<id>.peaks.dat, binary), both, or none.",
        valueName: "json|dat|both|none"))
    var peaks: String = "json"

    @Option(help: ArgumentHelp("Peaks resolution: 8 or 16 bits per value.", valueName: "8|16"))
    var peaksBits: Int = PeaksOptions.default.bits

    @Option(help: ArgumentHelp(
        "Peaks resolution: pixels per second of audio (default 50; a one-hour call is then 180,000 pixels).",
        valueName: "n"))
    var pixelsPerSecond: Int?

    @Option(help: ArgumentHelp(
        "Peaks resolution as audio samples per pixel instead (as audiowaveform's -z).", valueName: "n"))
    var samplesPerPixel: Int?

    func validate() throws {
        guard ["json", "dat", "both", "none"].contains(peaks) else { throw ValidationError("--peaks must be json, dat, both or none") }
        guard peaksBits == 8 || peaksBits == 16 else { throw ValidationError("--peaks-bits must be 8 or 16") }
        if pixelsPerSecond != nil && samplesPerPixel != nil {
            throw ValidationError("give --pixels-per-second or --samples-per-pixel, not both")
        }
        if let n = pixelsPerSecond, !(1...8000).contains(n) { throw ValidationError("--pixels-per-second must be between 1 and 8000") }
        if let n = samplesPerPixel, !(1...1_000_000).contains(n) { throw ValidationError("--samples-per-pixel must be between 1 and 1000000") }
    }

    /// The options these arguments ask for.
    var options: PeaksOptions {
        let formats: [PeaksWriter.Format] = switch peaks {
        case "dat": [.dat]
        case "both": [.json, .dat]
        case "none": []
        default: [.json]
        }
        let resolution: PeaksOptions.Resolution =
            samplesPerPixel.map { .samplesPerPixel($0) } ?? .pixelsPerSecond(pixelsPerSecond ?? 50)
        return PeaksOptions(formats: formats, bits: peaksBits, resolution: resolution)
    }
}
