import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import ConversionTestSupport
import Foundation
import Output
import Testing

/// Who spoke when, and the waveform a browser draws, on generated calls whose
/// talk spurts are known.
@Suite struct SpeechAndPeaksTests {
    func convert(_ call: SyntheticCall, peaks: PeaksOptions = .default) throws -> ConvertedCall {
        try ConvertedCall(call, folder: "callrec-speech") { $0.peaks = peaks }
    }

    /// F1 of the detected speech against the known talk spurts, on 10 ms frames.
    static func f1(_ c: ConvertedCall, channel: Int) -> Double {
        let first = channel == 0 ? c.generated.callerFirstPacket : c.generated.calleeFirstPacket
        let shift = first.seconds(since: c.summary.start)
        let truth = c.generated.spurts[channel].map { ($0.0 + shift, $0.1 + shift) }
        let detected = c.index.channels[channel].speech.map { ($0[0], $0[1]) }
        var tp = 0.0, fp = 0.0, fn = 0.0
        for frame in 0..<Int(c.index.durationS * 100) {
            let t = (Double(frame) + 0.5) / 100
            let isTrue = truth.contains { t >= $0.0 && t < $0.1 }
            let isFound = detected.contains { t >= $0.0 && t < $0.1 }
            if isTrue && isFound { tp += 1 } else if isFound { fp += 1 } else if isTrue { fn += 1 }
        }
        return 2 * tp / (2 * tp + fp + fn)
    }

    enum Background: String, CaseIterable, Sendable {
        case clean, lineNoise, hum, noiseAndHum
    }

    @Test(arguments: [AudioCodecName.pcmu, .pcma, .g722], Background.allCases)
    func detectsSpeechWithF1AboveNinety(codec: AudioCodecName, background: Background) throws {
        var call = SyntheticCall()
        call.codec = codec.codec
        call.seed = 40 + UInt64(Background.allCases.firstIndex(of: background)!)
        call.duration = 20
        var impairments = LegImpairments()
        switch background {
        case .clean: break
        case .lineNoise: impairments.noise = -48
        case .hum: impairments.hum = -36
        case .noiseAndHum:
            impairments.noise = -50
            impairments.hum = -40
        }
        call.callerImpairments = impairments
        call.calleeImpairments = impairments
        let c = try convert(call)
        for channel in 0..<2 {
            let score = Self.f1(c, channel: channel)
            #expect(score >= 0.9, "\(codec) \(background) channel \(channel): F1 \(score)")
            if ProcessInfo.processInfo.environment["CALLREC_PRINT_F1"] != nil { print("F1", codec, background, channel, score) }
        }
    }

    @Test func talkOvertalkAndSilenceAddUp() throws {
        var call = SyntheticCall()
        call.seed = 47
        call.duration = 20
        let c = try convert(call)
        let i = c.index
        for ch in i.channels {
            #expect(abs(ch.talkTimeS - ch.speech.reduce(0) { $0 + $1[1] - $1[0] }) < 0.01)
            #expect(ch.speech.allSatisfy { $0[0] < $0[1] && $0[1] <= i.durationS + 0.001 })
        }
        // Speech of both plus silence covers the call once, overtalk counted twice.
        let covered = i.channels[0].talkTimeS + i.channels[1].talkTimeS - i.overtalkS
        #expect(abs(covered + i.silenceShare * i.durationS - i.durationS) < 0.05)
        #expect(i.longestSilenceS > 0 && i.longestSilenceS <= i.silenceShare * i.durationS + 0.001)
        // The generated speakers take turns, with brief overlaps at most.
        #expect(i.overtalkS < 0.1 * i.durationS)
        #expect(i.channels.allSatisfy { $0.talkTimeS > 0.2 * i.durationS })
    }

    @Test(arguments: [8, 16])
    func peaksInBothFormatsMatchTheDecodedAudio(bits: Int) throws {
        var call = SyntheticCall()
        call.seed = 48
        call.duration = 8
        let c = try convert(call, peaks: PeaksOptions(formats: [.json, .dat], bits: bits, resolution: .samplesPerPixel(80)))
        #expect(c.index.peaks.sorted() == [c.index.id + ".peaks.dat", c.index.id + ".peaks.json"])
        let folder = (c.summary.indexPath as NSString).deletingLastPathComponent
        let json = try WaveformData(jsonAt: folder + "/" + c.index.id + ".peaks.json")
        let dat = try WaveformData(datAt: folder + "/" + c.index.id + ".peaks.dat")
        for w in [json, dat] {
            #expect(w.version == 2 && w.channels == 2 && w.sampleRate == 8000 && w.samplesPerPixel == 80 && w.bits == bits)
            #expect(w.length == Int((c.index.durationS * 8000 / 80).rounded(.up)))
        }
        #expect(json.data == dat.data)
        // The peaks follow the audio as a player decodes it.
        let reader = try OggOpusReader(path: c.summary.audioPath)
        for channel in 0..<2 {
            let audio = SignalMetrics.decimate(reader.channels[channel], by: 6)
            let scale = bits == 8 ? 256.0 : 1.0
            var drawn: [Double] = []
            var decoded: [Double] = []
            for p in 0..<min(json.length, audio.count / 80) {
                let slice = audio[(p * 80)..<((p + 1) * 80)]
                drawn.append(Double(json.max(pixel: p, channel: channel)) * scale)
                decoded.append(Double(slice.max()!))
            }
            let r = pearson(drawn, decoded)
            #expect(r > 0.95, "channel \(channel): peaks vs decoded audio r = \(r)")
        }
    }

    func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in a.indices {
            sab += (a[i] - ma) * (b[i] - mb)
            saa += (a[i] - ma) * (a[i] - ma)
            sbb += (b[i] - mb) * (b[i] - mb)
        }
        return sab / (saa * sbb).squareRoot()
    }
}

/// BBC audiowaveform's waveform data, read as its DataFormat.md specifies
/// (written from the specification, not from callrec's writer).
struct WaveformData {
    var version: Int
    var channels: Int
    var sampleRate: Int
    var samplesPerPixel: Int
    var bits: Int
    var length: Int
    /// Interleaved: pixel 0 channel 0 min, max, channel 1 min, max, pixel 1 ...
    var data: [Int]

    struct FormatError: Error {}

    func min(pixel: Int, channel: Int) -> Int { data[(pixel * channels + channel) * 2] }
    func max(pixel: Int, channel: Int) -> Int { data[(pixel * channels + channel) * 2 + 1] }

    init(jsonAt path: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        guard let o = object, let v = o["version"] as? Int, let c = o["channels"] as? Int, let r = o["sample_rate"] as? Int,
              let s = o["samples_per_pixel"] as? Int, let b = o["bits"] as? Int, let l = o["length"] as? Int,
              let d = o["data"] as? [Int]
        else { throw FormatError() }
        (version, channels, sampleRate, samplesPerPixel, bits, length, data) = (v, c, r, s, b, l, d)
        guard d.count == l * c * 2 else { throw FormatError() }
    }

    init(datAt path: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        func le32(_ o: Int) -> Int { Int(Int32(bitPattern: UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24)) }
        version = le32(0)
        let flags = le32(4)
        sampleRate = le32(8)
        samplesPerPixel = le32(12)
        length = le32(16)
        channels = version == 2 ? le32(20) : 1
        let resolution = flags & 1 == 1 ? 8 : 16
        bits = resolution
        let header = version == 2 ? 24 : 20
        let count = length * channels * 2
        guard bytes.count == header + count * resolution / 8 else { throw FormatError() }
        data = (0..<count).map { k in
            resolution == 8 ? Int(Int8(bitPattern: bytes[header + k]))
                : Int(Int16(bitPattern: UInt16(bytes[header + 2 * k]) | UInt16(bytes[header + 2 * k + 1]) << 8))
        }
    }
}
