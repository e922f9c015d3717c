import CallrecCore
import CallrecTestSupport
import Codecs
@testable import CallMedia
import RTP
import Testing

/// A leg fed packet by packet, as a capture would feed it.
struct LegDriver {
    var leg = Leg(outputRate: 8000, maxLag: 10)
    let sink = StreamPlayer.Sink()
    let origin = MediaTime(seconds: 1_000_000, microseconds: 0)

    init(kinds: [UInt8: PayloadKind]) {
        for (pt, kind) in kinds { leg.kinds[Int(pt)] = kind }
    }

    /// Sends one packet that arrives `at` seconds after time zero.
    mutating func send(pt: UInt8, seq: UInt16, ts: UInt32, marker: Bool = false, payload: [UInt8], at seconds: Double) throws {
        let header = RTPHeader(marker: marker, payloadType: pt, sequence: seq, timestamp: ts, ssrc: 0x1234, payloadLength: payload.count)
        let time = origin.advanced(byNanoseconds: Int64(seconds * 1e9))
        let arrival = time.samples(since: origin, rate: 8000)
        let sink = self.sink
        try payload.withUnsafeBytes { body in
            try leg.receive(header, payload: body, at: time, arrival: arrival, kind: leg.kinds[Int(pt)] ?? .unsupported(nil)) { position, samples, _, _ in
                sink.write(samples, at: position)
            }
        }
        try leg.playout(until: arrival - 3200) { position, samples, _, _ in sink.write(samples, at: position) }
    }

    mutating func finish() throws -> [Int16] {
        let sink = self.sink
        try leg.drain { position, samples, _, _ in sink.write(samples, at: position) }
        return Array(sink.timeline.dropFirst(sink.lead))
    }
}

@Suite struct LegTests {
    /// Two seconds of speech-like audio at 8 kHz.
    static let source = SpeechSynth(sampleRate: 8000, voice: .low).render(duration: 2, spurts: [(0, 2)], seed: 5)

    func encode(_ pcm: ArraySlice<Int16>, law: G711.Law) -> [UInt8] {
        pcm.map { law == .ulaw ? G711.ulawCompress($0) : G711.alawCompress($0) }
    }

    @Test func payloadTypeChangeMidStreamKeepsTheTimeline() throws {
        // PCMU for the first second, PCMA after (a re-INVITE changed the codec).
        var driver = LegDriver(kinds: [0: .audio(.pcmu, clockRate: 8000), 8: .audio(.pcma, clockRate: 8000)])
        for k in 0..<100 {
            let law: G711.Law = k < 50 ? .ulaw : .alaw
            try driver.send(
                pt: k < 50 ? 0 : 8, seq: UInt16(k), ts: UInt32(k * 160),
                payload: encode(Self.source[(k * 160)..<((k + 1) * 160)], law: law), at: Double(k) * 0.02)
        }
        let out = try driver.finish()
        #expect(driver.leg.codec == .pcma)
        // Both codecs, in order, each from where its first audio went.
        #expect(driver.leg.codecChanges.map(\.codec) == [.pcmu, .pcma])
        #expect(driver.leg.codecChanges.map(\.position) == [0, 8000])
        #expect(out.count >= 16000)
        for half in [0..<8000, 8000..<16000] {
            let c = SignalMetrics.bestCorrelation(Array(Self.source[half]), Array(out[half]), maxLag: 4)
            #expect(c.value > 0.95 && c.lag == 0, "\(half): \(c)")
        }
    }

    @Test(arguments: [10, 30, 60])
    func packetisationFrom10To60ms(ptime: Int) throws {
        var driver = LegDriver(kinds: [0: .audio(.pcmu, clockRate: 8000)])
        let n = 8 * ptime
        for k in 0..<(16000 / n) {
            try driver.send(pt: 0, seq: UInt16(k), ts: UInt32(k * n), payload: encode(Self.source[(k * n)..<((k + 1) * n)], law: .ulaw), at: Double(k * ptime) / 1000)
        }
        let out = try driver.finish()
        #expect(abs(out.count - 16000) < n)
        let c = SignalMetrics.bestCorrelation(Array(Self.source[0..<15000]), Array(out[0..<15000]), maxLag: 4)
        #expect(c.value > 0.95 && c.lag == 0)
    }

    @Test func packetisationChangingWithinAStream() throws {
        var driver = LegDriver(kinds: [0: .audio(.pcmu, clockRate: 8000)])
        var sample = 0
        var seq: UInt16 = 0
        let sizes = [160, 320, 480, 80, 240]
        var k = 0
        while sample + 480 <= 16000 {
            let n = sizes[k % sizes.count]
            try driver.send(pt: 0, seq: seq, ts: UInt32(sample), payload: encode(Self.source[sample..<(sample + n)], law: .ulaw), at: Double(sample) / 8000)
            sample += n
            seq &+= 1
            k += 1
        }
        let out = try driver.finish()
        #expect(out.count == sample)
        #expect(driver.leg.concealedSamples == 0)
        let c = SignalMetrics.bestCorrelation(Array(Self.source[0..<sample]), out, maxLag: 4)
        #expect(c.value > 0.95 && c.lag == 0)
    }

    @Test func comfortNoiseIsSilenceNotLossNotAudio() throws {
        // Audio, then RFC 3389 comfort noise packets (PT 13) through a silence, then audio again.
        var driver = LegDriver(kinds: [0: .audio(.pcmu, clockRate: 8000), 13: .comfortNoise])
        var seq: UInt16 = 0
        for k in 0..<25 {
            try driver.send(pt: 0, seq: seq, ts: UInt32(k * 160), payload: encode(Self.source[(k * 160)..<((k + 1) * 160)], law: .ulaw), at: Double(k) * 0.02)
            seq &+= 1
        }
        // One CN packet at the start of the silence and one 200 ms later (noise level 40 dBov).
        try driver.send(pt: 13, seq: seq, ts: 25 * 160, payload: [40], at: 0.5)
        seq &+= 1
        try driver.send(pt: 13, seq: seq, ts: 35 * 160, payload: [40], at: 0.7)
        seq &+= 1
        for k in 50..<100 {
            try driver.send(
                pt: 0, seq: seq, ts: UInt32(k * 160), marker: k == 50,
                payload: encode(Self.source[(k * 160)..<((k + 1) * 160)], law: .ulaw), at: Double(k) * 0.02)
            seq &+= 1
        }
        let out = try driver.finish()
        #expect(driver.leg.concealedSamples == 0)
        #expect(driver.leg.lost == 0)
        // The half second of silence is silent, and the audio after it sits where it was said.
        #expect(SignalMetrics.rms(out[4100..<7900]) == 0)
        let c = SignalMetrics.bestCorrelation(Array(Self.source[8000..<16000]), Array(out[8000..<16000]), maxLag: 4)
        #expect(c.value > 0.95 && c.lag == 0)
    }

    @Test func lossInsideSpeechIsFilledNotZeroed() throws {
        // Lose two packets right after the loudest one (in the middle of a syllable).
        let loud = (20..<80).max { SignalMetrics.rms(Self.source[($0 * 160)..<($0 * 160 + 160)]) < SignalMetrics.rms(Self.source[($1 * 160)..<($1 * 160 + 160)]) }!
        let lost = [loud + 1, loud + 2]
        var driver = LegDriver(kinds: [0: .audio(.pcmu, clockRate: 8000)])
        for k in 0..<100 where !lost.contains(k) {
            try driver.send(pt: 0, seq: UInt16(k), ts: UInt32(k * 160), payload: encode(Self.source[(k * 160)..<((k + 1) * 160)], law: .ulaw), at: Double(k) * 0.02)
        }
        let out = try driver.finish()
        #expect(driver.leg.concealedSamples == 320)
        #expect(driver.leg.lost == 2)
        // The first 10 ms of the gap repeat the last pitch period at nearly full level: no hole.
        let gap = (lost[0] * 160)..<(lost[0] * 160 + 80)
        #expect(SignalMetrics.rms(out[gap]) > 0.3 * SignalMetrics.rms(Self.source[(loud * 160)..<(loud * 160 + 160)]))
        // And the audio after the gap is back in place.
        let after = ((lost[1] + 1) * 160)..<16000
        let c = SignalMetrics.bestCorrelation(Array(Self.source[after]), Array(out[after]), maxLag: 4)
        #expect(c.value > 0.95 && c.lag == 0)
    }
}
