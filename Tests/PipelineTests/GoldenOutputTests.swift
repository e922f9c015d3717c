import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import Foundation
import Testing

/// The deterministic parts of a recording, against golden files: the call
/// index, and the PCM of lossless outputs (G.722 is decoded bit-exactly and
/// needs no resampling at the call's own rate). Opus bytes are not golden:
/// they change between libopus versions.
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct GoldenOutputTests {
    @Test func g722CaptureAsSplitFLAC() throws {
        var options = ConvertOptions(outputDirectory: FixturePaths.temporaryDirectory("callrec-golden"))
        options.format = .flac
        options.channelLayout = .split
        let result = try Converter(options: options).convert(
            path: FixturePaths.shared("captures/rtp-pcap__sip-rtp-g722.pcap"), diagnostics: Diagnostics())
        let summary = try #require(result.recordings.first)
        let index = String(decoding: try Data(contentsOf: URL(fileURLWithPath: summary.indexPath)), as: UTF8.self)
        #expect(index == GoldenFile.expected("g722-split-flac.index.json", actual: index))
        // The decoded PCM of each file, as 16-bit little-endian, by SHA-256.
        var digests = ""
        for file in summary.audioFiles {
            let reader = try SoundFileReader(path: file.path)
            let bytes = reader.channels[0].flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: UInt16(bitPattern: $0) >> 8)] }
            digests += "\(SHA256Sum.hex(bytes))  \(file.path.split(separator: "/").last!) \(reader.sampleRate) Hz \(reader.length) samples\n"
        }
        #expect(digests == GoldenFile.expected("g722-split-flac.pcm.sha256", actual: digests))
    }
}
