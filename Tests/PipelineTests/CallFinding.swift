import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Commit
import Foundation
import Output
import Pipeline
import Testing

/// Runs captures through `CaptureProcessor` and keeps every call it reports,
/// recorded or not.
struct CallFinding {
    var reports: [CallReport]
    var diagnostics: Diagnostics
    /// The output folder.
    var output: String

    var recordings: [RecordingSummary] { reports.compactMap(\.recording) }

    /// Every file under the output folder, relative to it.
    var files: [String] {
        (FileManager.default.enumerator(atPath: output)?.allObjects as? [String] ?? []).filter { !$0.hasSuffix("/") }.sorted()
    }

    static func run(path: String, _ configure: (inout ConvertOptions) -> Void = { _ in }) throws -> CallFinding {
        let output = FixturePaths.temporaryDirectory("callrec-calls")
        var options = ConvertOptions(outputDirectory: output)
        configure(&options)
        let diagnostics = Diagnostics()
        var reports: [CallReport] = []
        // Publish each recording's files as it finishes (no catalog here).
        let processor = CaptureProcessor(options: options, diagnostics: diagnostics, onCallEnded: { reports.append($0) }) { finished in
            for file in finished.files { try file.publish() }
        }
        let source = try CaptureSource(path: path)
        try source.forEachPacket { try processor.process($0) }
        try processor.finish()
        return CallFinding(reports: reports, diagnostics: diagnostics, output: output)
    }

    static func run(_ pcap: [UInt8], _ configure: (inout ConvertOptions) -> Void = { _ in }) throws -> CallFinding {
        try run(path: try TemporaryFile.write(pcap), configure)
    }

    static func run(_ call: SyntheticCall, _ configure: (inout ConvertOptions) -> Void = { _ in }) throws -> (SyntheticCall.Output, CallFinding) {
        let generated = call.build()
        return (generated, try run(generated.pcap, configure))
    }

    /// How well channel `channel` of `recording` matches `audio` spoken from
    /// capture time `first` on (8 kHz, best correlation within 2 ms).
    static func match(_ recording: RecordingSummary, channel: Int, _ audio: [Int16], from first: MediaTime) throws -> (value: Double, lag: Int) {
        let reader = try OggOpusReader(path: recording.audioPath)
        let decoded = SignalMetrics.decimate(reader.channels[channel], by: 6)
        let offset = Int(first.samples(since: recording.start, rate: 8000))
        return SignalMetrics.bestCorrelation(decoded, SignalMetrics.placed(audio, at: offset, length: decoded.count), maxLag: 16)
    }

    /// The decoded channel of a recording at 8 kHz.
    static func channel(_ recording: RecordingSummary, _ channel: Int) throws -> [Int16] {
        SignalMetrics.decimate(try OggOpusReader(path: recording.audioPath).channels[channel], by: 6)
    }
}
