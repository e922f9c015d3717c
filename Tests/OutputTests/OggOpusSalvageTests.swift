import CallrecCore
import CallrecTestSupport
import Foundation
import Output
import Testing

/// A recording whose writer died keeps everything up to its last complete
/// Ogg page, and comes out a clean Ogg Opus file (issue 17, item 11).
@Suite struct OggOpusSalvageTests {
    static let hasOpusinfo = FileManager.default.isExecutableFile(atPath: "/usr/bin/opusinfo")

    /// A writer that died after `seconds` of two-channel speech-like audio:
    /// its temporary file as the disk holds it (never finished), plus `torn`
    /// bytes of a page it was writing.
    func cutRecording(seconds: Double, rate: Int = 8000, settings: OpusSettings = .default, torn: Int = 0) throws -> (String, AtomicFile) {
        let file = try AtomicFile(directory: FixturePaths.temporaryDirectory("salvage"), name: "cut.opus")
        let writer = try OggOpusWriter(
            file: file, format: AudioFormat(sampleRate: rate, channels: 2), settings: settings,
            tags: [("CALL_ID", "cut@host"), ("CALLER", "+4611"), ("START", "2026-11-29T08:15:30.120Z")], serial: 9)
        let spurts = SpeechSynth.conversation(duration: seconds, seed: 3)
        let a = SpeechSynth(sampleRate: rate, voice: .low).render(duration: seconds, spurts: spurts.caller, seed: 1)
        let b = SpeechSynth(sampleRate: rate, voice: .high).render(duration: seconds, spurts: spurts.callee, seed: 2)
        let frame = writer.frameSamples
        var buffer = [Int16](repeating: 0, count: frame * 2)
        var k = 0
        while k + frame <= a.count {
            for i in 0..<frame {
                buffer[2 * i] = a[k + i]
                buffer[2 * i + 1] = b[k + i]
            }
            try buffer.withUnsafeBufferPointer { try writer.write(frame: $0) }
            k += frame
        }
        // The crash: what was written stays; a torn page may follow it.
        if torn > 0 {
            try file.write(Array("OggS".utf8) + [0, 0] + [UInt8](repeating: 0x5A, count: torn))
        }
        return (file.temporaryPath, file)
    }

    func opusinfo(_ path: String) throws -> String {
        let run = try CommandRunner.run("/usr/bin/opusinfo", [path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        return run.stdout + run.stderr
    }

    @Test func aCutFileIsClosedAtItsLastCompletePage() throws {
        let (path, file) = try cutRecording(seconds: 6.3, torn: 300)
        let before = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let closed = try #require(try OggOpusSalvage.close(path: path))
        withExtendedLifetime(file) {}
        #expect(!closed.wasComplete)
        #expect(closed.channels == 2 && closed.inputRate == 8000)
        #expect(closed.tag("CALL_ID") == "cut@host")
        #expect(closed.tag("start") == "2026-11-29T08:15:30.120Z")
        // Pages are written once they hold a second: at most one second and the torn page are lost.
        #expect(closed.duration > 6.3 - 1.0 - 0.05 && closed.duration <= 6.3, "\(closed.duration)")
        #expect(closed.bytesCut >= 306 && Int(closed.bytes) + Int(closed.bytesCut) == before)
        // It decodes to exactly that length.
        let reader = try OggOpusReader(path: path)
        #expect(Int64(reader.length) == closed.granule - Int64(closed.preSkip))
        // Closing it again changes nothing.
        let again = try #require(try OggOpusSalvage.close(path: path))
        #expect(again.wasComplete && again.bytes == closed.bytes && again.granule == closed.granule)
        if Self.hasOpusinfo {
            let info = try opusinfo(path)
            #expect(!info.localizedCaseInsensitiveContains("warning") && !info.localizedCaseInsensitiveContains("error"), "\(info)")
        }
    }

    @Test func theFlushIntervalBoundsWhatIsLost() throws {
        // Pages of at most 200 ms: at most 200 ms is lost.
        var settings = OpusSettings.default
        settings.flushInterval = 0.2
        let (path, file) = try cutRecording(seconds: 4.13, settings: settings)
        let closed = try #require(try OggOpusSalvage.close(path: path))
        withExtendedLifetime(file) {}
        #expect(closed.duration > 4.13 - 0.2 - 0.05, "\(closed.duration)")
    }

    @Test func aPacketBegunOnTheLastPageIsTakenOffIt() throws {
        // At 256 kbit/s a 20 ms packet is ~640 bytes: pages fill at ~4 KB and packets run across them.
        var settings = OpusSettings.default
        settings.bitrate = 256_000
        let (path, file) = try cutRecording(seconds: 3.0, rate: 16000, settings: settings, torn: 100)
        let closed = try #require(try OggOpusSalvage.close(path: path))
        withExtendedLifetime(file) {}
        #expect(closed.duration > 1.5)
        let reader = try OggOpusReader(path: path)
        #expect(Int64(reader.length) == (closed.granule - Int64(closed.preSkip)))
        if Self.hasOpusinfo {
            let info = try opusinfo(path)
            #expect(!info.localizedCaseInsensitiveContains("warning") && !info.localizedCaseInsensitiveContains("error"), "\(info)")
        }
        // What it decodes to at the file's own rate is as long as the granule says.
        var samples = 0
        let (layout, given) = try OggOpusDecoder.decode(path: path) { layout, frame in samples += frame.count / layout.channels }
        #expect(layout.rate == 16000 && layout.channels == 2)
        #expect(Int64(samples) == given && given == closed.samples)
    }

    @Test func aFileWithNoAudioPageHasNothingToKeep() throws {
        let (path, file) = try cutRecording(seconds: 0.1)
        #expect(try OggOpusSalvage.close(path: path) == nil)
        withExtendedLifetime(file) {}
    }
}
