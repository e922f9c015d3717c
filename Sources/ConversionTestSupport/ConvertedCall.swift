import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import Foundation
import Output

/// A generated call converted the way `callrec convert` converts a capture
/// (Converter: router, each call's media, the commit and the catalog), and
/// what it wrote, read back: the one driver of the end-to-end tests that
/// check a generated call's recording, so each test says only what it checks.
///
/// A module of its own, not part of CallrecTestSupport: the stage modules'
/// tests use that one, and should not be built against the whole converter.
public struct ConvertedCall {
    /// The generated capture and its truth: who said what, from when.
    public var generated: SyntheticCall.Output
    /// What the converter reported for the capture.
    public var result: Converter.InputResult
    /// What was counted and noted while converting.
    public var diagnostics: Diagnostics
    /// The output folder (the catalog and the recordings under it).
    public var output: String
    /// The capture's first recording.
    public var summary: RecordingSummary
    /// That recording's call index as its `<id>.json` file holds it (decoded
    /// from the file, not the value in memory: what a user's tool reads).
    public var index: CallIndex

    /// The converter made no recording of the call.
    public struct NoRecording: Error, CustomStringConvertible {
        public var description: String
    }

    /// Builds `call`'s capture (changed by `capture`, which by default keeps
    /// it as built), writes it to a temporary file and converts it into a new
    /// folder named after `folder`, with the options `configure` sets (a
    /// trailing closure is `configure`). Throws `NoRecording` when the
    /// capture gave no recording.
    public init(
        _ call: SyntheticCall, folder: String = "callrec-out", _ configure: (inout ConvertOptions) -> Void = { _ in },
        capture: (SyntheticCall.Output) throws -> [UInt8] = { $0.pcap }
    ) throws {
        generated = call.build()
        let path = try TemporaryFile.write(try capture(generated))
        output = FixturePaths.temporaryDirectory(folder)
        var options = ConvertOptions(outputDirectory: output)
        configure(&options)
        diagnostics = Diagnostics()
        result = try Converter(options: options).convert(path: path, diagnostics: diagnostics)
        guard let first = result.recordings.first else {
            throw NoRecording(description: "\(path): no recording (\(result.error ?? "no error"), \(result.packets) packets)")
        }
        summary = first
        index = try CallIndex.decode(Array(try Data(contentsOf: URL(fileURLWithPath: first.indexPath))))
    }

    /// The recording's (first) audio file decoded as a player decodes it:
    /// Opus at 48 kHz through libopusfile, WAV and FLAC at their own rate.
    public func decoded() throws -> DecodedRecording { try DecodedRecording(path: summary.audioPath) }

    /// The recording's Ogg Opus file, read through libopusfile.
    public func opus() throws -> OggOpusReader { try OggOpusReader(path: summary.audioPath) }
}
