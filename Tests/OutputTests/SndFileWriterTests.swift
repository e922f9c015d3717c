import CSndFile
import CallrecCore
import CallrecTestSupport
import Foundation
import Output
import Testing

/// Feeds `channels` of PCM through `sink` in whole frames (the last padded
/// with zeros, as the mixer pads it), finishes and publishes the file.
func feed(_ sink: any AudioSink, _ channels: [[Int16]]) throws -> String {
    let n = channels[0].count
    let frame = sink.frameSamples
    var buffer = [Int16](repeating: 0, count: frame * channels.count)
    var k = 0
    while k < n {
        for i in 0..<frame {
            for c in 0..<channels.count { buffer[i * channels.count + c] = k + i < n ? channels[c][k + i] : 0 }
        }
        try buffer.withUnsafeBufferPointer { try sink.write(frame: $0) }
        k += frame
    }
    try sink.finish(totalSamples: Int64(n))
    try sink.file.commit()
    return sink.file.path
}

func noise(count: Int, seed: UInt64) -> [Int16] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { _ in Int16(truncatingIfNeeded: Int(random.next() % 40_000) - 20_000) }
}

@Suite struct SndFileWriterTests {
    @Test(arguments: [(AudioFileFormat.wav, 8000, 2), (.wav, 16000, 1), (.flac, 8000, 2), (.flac, 16000, 1), (.flac, 48000, 2)])
    func writesExactlyWhatItWasGiven(format: AudioFileFormat, rate: Int, channels: Int) throws {
        // 1.234 s: not a whole number of 20 ms frames, so the padding must be trimmed.
        let input = (0..<channels).map { noise(count: rate * 1234 / 1000, seed: UInt64($0 + 1)) }
        let directory = FixturePaths.temporaryDirectory()
        let sink = try SndFileWriter(
            file: try AtomicFile(directory: directory, name: "t." + format.fileExtension),
            format: AudioFormat(sampleRate: rate, channels: channels), container: format,
            tags: [("CALL_ID", "abc@host"), ("START", "2026-11-29T08:15:30.120Z")])
        let path = try feed(sink, input)
        let reader = try SoundFileReader(path: path)
        #expect(reader.sampleRate == rate)
        #expect(reader.channels == input)
        #expect(sink.file.size == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int).map(Int64.init))
        #expect(SoundFileReader.string(Int32(SF_STR_COMMENT), path: path) == "CALL_ID=abc@host")
        #expect(SoundFileReader.string(Int32(SF_STR_DATE), path: path) == "2026-11-29T08:15:30.120Z")
    }

    @Test func flacIsSmallerThanWAV() throws {
        let tone = (0..<16000).map { Int16(8000 * sin(2 * .pi * 300 * Double($0) / 8000)) }
        var sizes: [Int64] = []
        for format in [AudioFileFormat.wav, .flac] {
            let sink = try SndFileWriter(
                file: try AtomicFile(directory: FixturePaths.temporaryDirectory(), name: "t." + format.fileExtension),
                format: AudioFormat(sampleRate: 8000, channels: 1), container: format, tags: [])
            _ = try feed(sink, [tone])
            sizes.append(sink.file.size)
        }
        #expect(sizes[1] < sizes[0] / 2)
    }
}

@Suite struct OpusBandwidthTests {
    /// A G.711 source recorded at 16 kHz: Opus must not spend bits above the
    /// source's band, so a component at 6 kHz (which G.711 cannot carry) is gone.
    @Test func capsTheBandAtTheSource() throws {
        let rate = 16000
        let signal = (0..<(rate * 2)).map { i -> Int16 in
            let t = Double(i) / Double(rate)
            return Int16(6000 * sin(2 * .pi * 700 * t) + 6000 * sin(2 * .pi * 6000 * t))
        }
        func decoded(bandwidth: Int?) throws -> [Int16] {
            let writer = try OggOpusWriter(
                file: try AtomicFile(directory: FixturePaths.temporaryDirectory(), name: "t.opus"),
                format: AudioFormat(sampleRate: rate, channels: 1), settings: .default, tags: [], serial: 1,
                audioBandwidth: bandwidth)
            return try OggOpusReader(path: try feed(writer, [signal])).channels[0]
        }
        let capped = try decoded(bandwidth: 3400)
        let open = try decoded(bandwidth: nil)
        let inner = 4800..<(capped.count - 4800)
        let high = { (x: [Int16]) in SignalMetrics.power(x[inner], at: 6000, rate: 48_000) }
        let low = { (x: [Int16]) in SignalMetrics.power(x[inner], at: 700, rate: 48_000) }
        #expect(high(open) > 0.1 * low(open), "without the cap the 6 kHz tone is coded")
        #expect(high(capped) < 0.001 * low(capped), "with the cap it is not")
        #expect(low(capped) > 0.5 * low(open))
    }

    /// Two speakers in one 16 kHz file, a G.711 caller and a G.722 callee: each
    /// stream is capped at its own speaker's band, so the caller's stream spends
    /// nothing above 4 kHz while the callee's keeps its 6 kHz.
    @Test func capsEachStreamAtItsOwnSource() throws {
        let rate = 16000
        let signal = (0..<(rate * 2)).map { i -> Int16 in
            let t = Double(i) / Double(rate)
            return Int16(6000 * sin(2 * .pi * 700 * t) + 6000 * sin(2 * .pi * 6000 * t))
        }
        let writer = try OggOpusWriter(
            file: try AtomicFile(directory: FixturePaths.temporaryDirectory(), name: "t.opus"),
            format: AudioFormat(sampleRate: rate, channels: 2), settings: .default, tags: [], serial: 1, audioBandwidth: 7000)
        writer.setSourceBandwidth(channel: 0, hz: 4000)
        #expect(writer.maxBandwidth(stream: 0) == 1101)  // OPUS_BANDWIDTH_NARROWBAND
        #expect(writer.maxBandwidth(stream: 1) == 1103)  // OPUS_BANDWIDTH_WIDEBAND
        let decoded = try OggOpusReader(path: try feed(writer, [signal, signal])).channels
        let inner = 4800..<(decoded[0].count - 4800)
        let high = { (x: [Int16]) in SignalMetrics.power(x[inner], at: 6000, rate: 48_000) }
        let low = { (x: [Int16]) in SignalMetrics.power(x[inner], at: 700, rate: 48_000) }
        #expect(high(decoded[0]) < 0.001 * low(decoded[0]), "the G.711 speaker's stream is narrowband")
        #expect(high(decoded[1]) > 0.1 * low(decoded[1]), "the G.722 speaker's stream is wideband")
    }
}
