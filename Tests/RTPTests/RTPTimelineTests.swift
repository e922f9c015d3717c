import CallrecCore
import CallrecTestSupport
import RTP
import Testing

@Suite struct RTPTimelineTests {
    func g711() -> RTPTimeline { RTPTimeline(sampleRate: 8000, decodedRate: 8000, unitsPerTwoSamples: 2) }

    @Test func followsTimestampsThroughASilenceGap() {
        var t = g711()
        #expect(t.place(timestamp: 1000, arrival: 4000, marker: false) == 4000)
        t.settle()
        // 3 s of silence suppression, the first packet after it 3 ms late: placed where its
        // timestamp says, so the gap is exactly 3 s.
        #expect(t.place(timestamp: 1000 + 24_000, arrival: 4000 + 24_000 + 24, marker: true) == 4000 + 24_000)
        #expect(t.place(timestamp: 1000 + 24_160, arrival: 4000 + 24_160, marker: false) == 4000 + 24_160)
        #expect(t.jumps == 0)
    }

    @Test func aTalkspurtWhoseTimestampsSkippedTheSilenceGoesWhereItArrived() {
        var t = g711()
        _ = t.place(timestamp: 0, arrival: 0, marker: false)
        t.settle()
        // 500 ms of silence the sender's timestamps did not count: the talkspurt after it
        // (marker bit) is placed where it arrived, not on top of the audio before it.
        #expect(t.place(timestamp: 160, arrival: 4000, marker: true) == 4000)
        #expect(t.place(timestamp: 320, arrival: 4160, marker: false) == 4160)
    }

    @Test func congestionNeverMovesTheAudio() {
        // Arrivals fall behind steadily (a queue growing by 9 %, with 0-5 ms of jitter): every
        // packet stays where its timestamp says, nothing is re-anchored, no drift is believed.
        var t = g711()
        var rng = SeededRandom(seed: 5)
        for k in 0..<3000 {
            let arrival = Int64(Double(k) * 160 * 1.09 + rng.uniform(0...40))
            let p = t.place(timestamp: Int64(k) * 160, arrival: arrival, marker: false)
            if k == 20 { t.settle() }
            if k > 20 { #expect(p == Int64(k) * 160 + t.position(of: 0), "packet \(k)") }
        }
        #expect(t.jumps == 0)
        #expect(t.drift == 0)
        #expect(t.lag > 8000 * 5)
    }

    @Test func anchorsOnTheEarliestArrivals() {
        var t = g711()
        // The first packet was delayed by 30 ms (240 samples); the next came on time.
        _ = t.place(timestamp: 0, arrival: 240, marker: false)
        #expect(t.place(timestamp: 160, arrival: 160, marker: false) == 160)
        #expect(t.position(of: 0) == 0)
    }

    @Test func reanchorsOnAJumpInsteadOfWritingHours() {
        var t = g711()
        _ = t.place(timestamp: 0, arrival: 0, marker: false)
        // A jump of about 3 hours in one packet.
        #expect(t.place(timestamp: 90_000_000, arrival: 160, marker: false) == 160)
        #expect(t.jumps == 1)
        // A backwards jump too.
        #expect(t.place(timestamp: 5, arrival: 320, marker: false) == 320)
        #expect(t.jumps == 2)
    }

    @Test func aMarkerPacketFarFromItsTimestampReanchors() {
        var t = g711()
        _ = t.place(timestamp: 0, arrival: 0, marker: false)
        // A sender that does not advance its timestamps over 2 s of silence.
        #expect(t.place(timestamp: 160, arrival: 16_000, marker: true) == 16_000)
        #expect(t.jumps == 1)
    }

    @Test func g722ClockScales() {
        // 8 kHz RTP clock, 16 kHz audio: one timestamp unit per two samples.
        var t = RTPTimeline(sampleRate: 16000, decodedRate: 16000, unitsPerTwoSamples: 1)
        _ = t.place(timestamp: 0, arrival: 0, marker: false)
        #expect(t.place(timestamp: 160, arrival: 320, marker: false) == 320)
    }

    @Test(arguments: [0.001, -0.001])
    func estimatesAndRemovesDrift(drift: Double) {
        // A sender whose clock runs 0.1 % fast or slow, over 10 minutes with up to 5 ms of jitter.
        var t = g711()
        var rng = SeededRandom(seed: 3)
        var worst = 0.0
        for k in 0..<30_000 {
            let sent = Double(k) * 160 / (1 + drift)
            let arrival = Int64(sent + rng.uniform(0...40))
            let p = t.place(timestamp: Int64(k) * 160, arrival: arrival, marker: false)
            if k == 20 { t.settle() }
            if k > 5000 { worst = max(worst, abs(Double(p) - sent)) }
        }
        #expect(t.driftSource == .arrivals)
        #expect(abs(t.drift - drift) < 0.0001, "estimated \(t.drift)")
        // After the first 100 s the placement stays within 5 ms of the true send time.
        #expect(worst < 40, "worst \(worst) samples")
    }
}

@Suite struct DriftSignificanceTests {
    @Test func jitterWithoutDriftIsNeverCorrected() {
        // 20 minutes without drift, normal jitter (σ 10 ms, clipped at ±30 ms): the envelope's
        // slope never counts as drift, so the mapping stays rigid.
        var t = RTPTimeline(sampleRate: 8000, decodedRate: 8000, unitsPerTwoSamples: 2)
        var rng = SeededRandom(seed: 9)
        for k in 0..<60_000 {
            let jitter = 240 + max(-240, min(240, 80 * rng.normal()))
            _ = t.place(timestamp: Int64(k) * 160, arrival: Int64(Double(k) * 160 + jitter), marker: false)
            if k == 20 { t.settle() }
            #expect(t.drift == 0)
        }
        #expect(abs(t.estimatedDrift ?? 1) < 20e-6)
    }

    @Test(arguments: [0.013, -0.013])
    func aClockFarOffIsCorrectedWithinSeconds(drift: Double) {
        var t = RTPTimeline(sampleRate: 8000, decodedRate: 8000, unitsPerTwoSamples: 2)
        var rng = SeededRandom(seed: 4)
        var found: Int? = nil
        for k in 0..<750 {
            let arrival = Int64(Double(k) * 160 / (1 + drift) + rng.uniform(0...80))
            _ = t.place(timestamp: Int64(k) * 160, arrival: arrival, marker: false)
            if k == 20 { t.settle() }
            if found == nil && t.drift != 0 { found = k }
        }
        #expect((found ?? 1000) < 250, "found after \(found ?? -1) packets")
        #expect(abs(t.drift - drift) < 0.001)
    }

    @Test func senderReportsGiveTheDriftWithoutJitter() {
        // 0.1 % fast, reports every 5 s with NTP from true time: the drift is exact once two
        // reports span 4 s, however the packets jitter.
        var t = RTPTimeline(sampleRate: 8000, decodedRate: 8000, unitsPerTwoSamples: 2)
        var rng = SeededRandom(seed: 2)
        for k in 0..<800 {
            let sent = Double(k) * 0.02 / 1.001
            _ = t.place(timestamp: Int64(k) * 160, arrival: Int64(sent * 8000 + rng.uniform(0...400)), marker: false)
            if k == 20 { t.settle() }
            if k % 250 == 0 { t.senderReport(ntp: 3_900_000_000 + sent, timestamp: Int64(k) * 160) }
        }
        #expect(t.driftSource == .senderReports)
        #expect(abs(t.drift - 0.001) < 1e-6)
    }
}

@Suite struct HourLongDriftTests {
    @Test(arguments: [0.001, -0.001])
    func staysWithin20msForAnHour(drift: Double) {
        // One hour of 20 ms packets from a phone whose clock is 0.1 % off, with up to 30 ms of
        // network jitter and a silence every 10 s: once the drift is believed (it must have moved
        // the envelope by 20 ms first), every packet is mapped within 20 ms of when it was sent.
        // Each packet's place is read a jitter window (20 packets) after it arrived, as the leg plays it.
        var t = RTPTimeline(sampleRate: 8000, decodedRate: 8000, unitsPerTwoSamples: 2)
        var rng = SeededRandom(seed: 11)
        var worst = 0.0
        var held: [(timestamp: Int64, sent: Double, placed: Int64, epoch: Int)] = []
        for k in 0..<180_000 where k % 500 < 400 {
            let sent = Double(k) * 160 / (1 + drift)
            let arrival = Int64(sent + rng.uniform(0...240))
            let placed = t.place(timestamp: Int64(k) * 160, arrival: arrival, marker: k % 500 == 0)
            if k == 20 { t.settle() }
            held.append((Int64(k) * 160, sent, placed, t.epoch))
            if held.count > 20 {
                let p = held.removeFirst()
                let position = p.epoch == t.epoch ? t.position(of: p.timestamp) : p.placed
                if t.drift != 0 { worst = max(worst, abs(Double(position) - p.sent)) }
            }
        }
        #expect(worst < 160, "worst \(worst / 8) ms")
        #expect(abs(t.drift - drift) < 0.0001)
    }
}

@Suite struct ExtenderTests {
    @Test func sequenceWrapsBothWays() {
        var e = SequenceExtender()
        let a = e.extend(65534)
        #expect(e.extend(65535) == a + 1)
        #expect(e.extend(1) == a + 3)
        // A reordered packet from before the wrap.
        #expect(e.extend(65535) == a + 1)
    }

    @Test func timestampWraps() {
        var e = TimestampExtender()
        let a = e.extend(0xFFFF_FF60)
        #expect(e.extend(0) == a + 160)
        #expect(e.extend(0xFFFF_FFB0) == a + 80)
    }

    /// RFC 1982: less than half the range ahead is forward, half or more is behind.
    @Test func halfRangeDecidesTheDirection() {
        var s = SequenceExtender()
        let a = s.extend(100)
        #expect(s.extend(100 + 32767) == a + 32767)
        var t = SequenceExtender()
        let b = t.extend(100)
        #expect(t.extend(100 &+ 32768) == b - 32768)
        var ts = TimestampExtender()
        let c = ts.extend(7)
        #expect(ts.extend(7 + 28_800_000) == c + 28_800_000)  // an hour's jump at 8 kHz
        #expect(ts.extend(7 &- 160) == c - 160)
    }
}

@Suite struct JitterBufferTests {
    func header(_ seq: UInt16) -> RTPHeader {
        RTPHeader(marker: false, payloadType: 0, sequence: seq, timestamp: UInt32(seq) * 160, ssrc: 1, payloadLength: 3)
    }

    @Test func holdsPayloadsBySequenceAndDetectsDuplicates() {
        var b = JitterBuffer(capacity: 4, maxPayload: 8)
        let t = MediaTime(nanoseconds: 0)
        let stored = [UInt8]([1, 2, 3]).withUnsafeBytes { b.insert(sequence: 10, timestamp: 1600, header: header(10), payload: $0, arrival: t, position: 0) }
        #expect(stored == .stored)
        let again = [UInt8]([1, 2, 3]).withUnsafeBytes { b.insert(sequence: 10, timestamp: 1600, header: header(10), payload: $0, arrival: t, position: 0) }
        #expect(again == .duplicate)
        _ = [UInt8]([7]).withUnsafeBytes { b.insert(sequence: 12, timestamp: 1920, header: header(12), payload: $0, arrival: t, position: 320) }
        #expect(b.next(from: 11) == 12)
        #expect(b.withPayload(10) { Array($0) } == [1, 2, 3])
        #expect(b.oldest() == 10)
        b.remove(10)
        #expect(b.entry(10) == nil)
        #expect(b.count == 1)
        let big = [UInt8](repeating: 0, count: 9).withUnsafeBytes { b.insert(sequence: 13, timestamp: 0, header: header(13), payload: $0, arrival: t, position: 0) }
        #expect(big == .oversized)
    }
}

@Suite struct TelephoneEventTests {
    func event(_ code: UInt8, end: Bool, duration: UInt16) -> TelephoneEvent {
        let bytes: [UInt8] = [code, end ? 0x8A : 0x0A, UInt8(duration >> 8), UInt8(duration & 0xFF)]
        return bytes.withUnsafeBytes { TelephoneEvent($0)! }
    }

    @Test func parsesRFC4733() {
        let e = event(11, end: true, duration: 800)
        #expect(e.symbol == "#")
        #expect(e.isEnd)
        #expect(e.volume == 10)
        #expect(e.duration == 800)
        #expect(event(12, end: false, duration: 0).symbol == "A")
        #expect(event(16, end: false, duration: 0).symbol == "flash")
        #expect(event(40, end: false, duration: 0).symbol == nil)
    }

    @Test func repeatedEndPacketsCountOnce() {
        var c = DTMFCollector()
        let t = MediaTime(nanoseconds: 0)
        for d in stride(from: 160, through: 800, by: 160) { c.receive(event(5, end: false, duration: UInt16(d)), timestamp: 1000, ssrc: 7, at: t) }
        for _ in 0..<3 { c.receive(event(5, end: true, duration: 960), timestamp: 1000, ssrc: 7, at: t) }
        // The same digit again, as a new event.
        c.receive(event(5, end: true, duration: 640), timestamp: 5000, ssrc: 7, at: t)
        c.receive(event(5, end: true, duration: 640), timestamp: 5000, ssrc: 7, at: t)
        #expect(c.digits.map(\.symbol) == ["5", "5"])
        #expect(c.digits.map(\.duration) == [960, 640])
    }

    @Test func anEventWhoseEndWasLostStillCounts() {
        var c = DTMFCollector()
        let t = MediaTime(nanoseconds: 0)
        c.receive(event(1, end: false, duration: 320), timestamp: 100, ssrc: 7, at: t)
        c.receive(event(2, end: false, duration: 160), timestamp: 900, ssrc: 7, at: t)
        c.flush()
        #expect(c.digits.map(\.symbol) == ["1", "2"])
    }
}
