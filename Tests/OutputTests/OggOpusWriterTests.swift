import CallrecCore
import CallrecTestSupport
import Foundation
import Output
import Testing

@Suite struct OggOpusWriterTests {
    /// Writes `channels` of PCM at `rate` through the writer and returns the file path.
    func write(_ channels: [[Int16]], rate: Int, settings: OpusSettings = .default) throws -> String {
        let file = try AtomicFile(directory: FixturePaths.temporaryDirectory(), name: "t.opus")
        let writer = try OggOpusWriter(
            file: file, format: AudioFormat(sampleRate: rate, channels: channels.count), settings: settings,
            tags: [("CALL_ID", "abc@host"), ("CALLER", "+4611")], serial: 7)
        return try feed(writer, channels)
    }

    func tone(_ hz: Double, rate: Int, seconds: Double) -> [Int16] {
        (0..<Int(seconds * Double(rate))).map { Int16(8000 * sin(2 * .pi * hz * Double($0) / Double(rate))) }
    }

    @Test(arguments: [8000, 16000])
    func decodesToTheExactLengthWithSeparateStreams(rate: Int) throws {
        // 1.234 s: not a whole number of frames, so end trimming matters.
        let a = tone(440, rate: rate, seconds: 1.234)
        let b = tone(1000, rate: rate, seconds: 1.234)
        let path = try write([a, b], rate: rate)
        let reader = try OggOpusReader(path: path)
        #expect(reader.channels.count == 2)
        #expect(reader.mappingFamily == 1)
        #expect(reader.streamCount == 2)
        #expect(reader.coupledCount == 0)
        #expect(reader.inputSampleRate == rate)
        #expect(reader.length == a.count * 48_000 / rate)
        #expect(reader.tag("CALL_ID") == "abc@host")
        #expect(reader.tag("CALLER") == "+4611")
        // Each channel carries its own tone and not the other's.
        let factor = 48_000 / rate
        let ch0 = SignalMetrics.decimate(reader.channels[0], by: factor)
        let ch1 = SignalMetrics.decimate(reader.channels[1], by: factor)
        let own0 = SignalMetrics.bestCorrelation(ch0, a, maxLag: 8).value
        let own1 = SignalMetrics.bestCorrelation(ch1, b, maxLag: 8).value
        #expect(own0 > 0.9)
        #expect(own1 > 0.9)
        #expect(abs(SignalMetrics.bestCorrelation(ch0, b, maxLag: 8).value) < 0.2)
    }

    @Test func preSkipIsTheEncoderLookaheadIn48kUnits() throws {
        let path = try write([tone(300, rate: 8000, seconds: 0.2)], rate: 8000)
        let reader = try OggOpusReader(path: path)
        // libopus lookahead: 2.5 ms + 4 ms delay compensation = 6.5 ms = 312 samples at 48 kHz.
        #expect(reader.preSkip == 312)
        #expect(reader.mappingFamily == 0)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/opusinfo"), "needs opus-tools"))
    func opusinfoAcceptsTheFile() throws {
        let path = try write([tone(440, rate: 8000, seconds: 2), tone(600, rate: 8000, seconds: 2)], rate: 8000)
        let run = try CommandRunner.run("/usr/bin/opusinfo", [path])
        let output = run.stdout + run.stderr
        #expect(run.status == 0)
        #expect(!output.localizedCaseInsensitiveContains("warning"), "\(output)")
        #expect(!output.localizedCaseInsensitiveContains("error"), "\(output)")
        #expect(output.contains("Total data length"))
    }

    @Test func aDiscardedFileLeavesNothing() throws {
        let directory = FixturePaths.temporaryDirectory()
        do {
            let file = try AtomicFile(directory: directory, name: "x.opus")
            try file.write([1, 2, 3])
            #expect(FileManager.default.fileExists(atPath: file.temporaryPath))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}

@Suite struct CallIndexTests {
    @Test func roundTripsWithSnakeCaseKeys() throws {
        let index = CallIndex(
            id: "20261129T081530Z-3f9a1c2e", callID: "x@y", caller: "+461", callee: nil, direction: "unknown",
            start: "2026-11-29T08:15:30.120Z", durationS: 1.5, sampleRate: 8000, endReason: "bye", audio: "a.opus",
            channels: [.init(speaker: "caller", codec: "PCMU", ssrcs: ["0x00000001"], packets: 5, lost: 0, duplicates: 0, late: 0, jitterMs: 0.1)])
        let bytes = try index.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"call_id\" : \"x@y\""))
        #expect(text.contains("\"duration_s\" : 1.5"))
        #expect(text.contains("\"jitter_ms\" : 0.1"))
        #expect(try CallIndex.decode(bytes) == index)
    }
}
