import CallrecCore
import CallrecTestSupport
import RTP
import Testing

@Suite struct RTPHeaderTests {
    func parse(_ bytes: [UInt8]) -> RTPHeader? { bytes.withUnsafeBytes { RTPHeader($0) } }

    @Test func parsesTheFixedHeader() throws {
        let packet = PacketBuilder.rtp(payloadType: 8, sequence: 0xBEEF, timestamp: 0xDEAD_BEEF, ssrc: 0x1A2B_3C4D, marker: true, payload: [1, 2, 3])
        let h = try #require(parse(packet))
        #expect(h.payloadType == 8)
        #expect(h.marker)
        #expect(h.sequence == 0xBEEF)
        #expect(h.timestamp == 0xDEAD_BEEF)
        #expect(h.ssrcText == "0x1A2B3C4D")
        #expect(h.payloadOffset == 12)
        #expect(h.payloadLength == 3)
    }

    @Test func skipsCSRCsExtensionAndPadding() throws {
        // V=2 P=1 X=1 CC=1, PT 0; one CSRC; extension of 1 word; payload 2 bytes; 3 bytes padding.
        var packet: [UInt8] = [0xB1, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9]
        packet += [0, 0, 0, 7]  // CSRC
        packet += [0xBE, 0xDE, 0, 1, 1, 2, 3, 4]  // extension header + 1 word
        packet += [0xAA, 0xBB]
        packet += [0, 0, 3]
        let h = try #require(parse(packet))
        #expect(h.payloadOffset == 24)
        #expect(h.payloadLength == 2)
    }

    @Test(arguments: [
        [UInt8](repeating: 0x80, count: 11),  // too short
        [0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],  // version 1
        [0x80, 200, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1],  // RTCP sender report
        [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 50],  // padding longer than the packet
        [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0, 9],  // extension past the end
    ])
    func rejectsWhatIsNotRTP(bytes: [UInt8]) {
        #expect(parse(bytes) == nil)
    }
}

@Suite struct RTPStreamStatisticsTests {
    func run(_ sequences: [UInt16]) -> RTPStreamStatistics {
        var s = RTPStreamStatistics()
        for (k, seq) in sequences.enumerated() {
            s.record(sequence: seq, timestamp: UInt32(k) * 160, arrival: MediaTime(nanoseconds: Int64(k) * 20_000_000), clockRate: 8000)
        }
        return s
    }

    @Test func countsLossAcrossTheWrap() {
        // seq 65534, 65535, 0, 2: one lost (1), expected 5.
        let s = run([65534, 65535, 0, 2])
        #expect(s.packets == 4)
        #expect(s.expected == 5)
        #expect(s.lost == 1)
    }

    @Test func duplicatesAndReordering() {
        let s = run([10, 11, 13, 12, 13, 14])
        #expect(s.packets == 6)
        #expect(s.duplicates == 1)
        #expect(s.outOfOrder == 1)
        // tshark's lost: expected (5) - received (6) = -1.
        #expect(s.lost == -1)
    }

    @Test func jitterIsZeroForAPerfectStream() {
        let s = run(Array(0..<50))
        #expect(s.maxJitter < 1e-9)
        #expect(abs(s.maxDelta - 0.020) < 1e-9)
    }

    @Test func jitterFollowsRFC3550() {
        // Arrivals alternate 0 and +8 ms around a 20 ms clock: |D| = 8 ms on every step after the first.
        var s = RTPStreamStatistics()
        for k in 0..<200 {
            let offset: Int64 = k % 2 == 0 ? 0 : 8_000_000
            s.record(sequence: UInt16(k), timestamp: UInt32(k * 160), arrival: MediaTime(nanoseconds: Int64(k) * 20_000_000 + offset), clockRate: 8000)
        }
        // J converges to |D| = 8 ms.
        #expect(abs(s.jitter - 0.008) < 0.0002)
    }
}

/// tshark 4.0.17's numbers for the first generated scenarios (RTPStreamScenarios),
/// from `tshark -q -z rtp,streams -o rtp.heuristic_rtp:TRUE` on their capture.
@Suite struct RTPStreamStatisticsTsharkTests {
    struct Expected: Sendable {
        var packets: Int
        var lost: Int
        var maxDelta: Double
        var meanJitter: Double
        var maxJitter: Double
    }

    static let expected: [Expected] = [
        Expected(packets: 51, lost: -1, maxDelta: 20.000, meanJitter: 6.366, maxJitter: 22.402),
        Expected(packets: 51, lost: 65535, maxDelta: 20.000, meanJitter: 5.301, maxJitter: 17.316),
        Expected(packets: 50, lost: 0, maxDelta: 22.674, meanJitter: 0.641, maxJitter: 1.126),
        Expected(packets: 50, lost: 0, maxDelta: 22.261, meanJitter: 0.676, maxJitter: 1.006),
        Expected(packets: 50, lost: 0, maxDelta: 21.407, meanJitter: 1.954, maxJitter: 4.884),
        Expected(packets: 51, lost: -1, maxDelta: 21.745, meanJitter: 0.574, maxJitter: 0.868),
        Expected(packets: 50, lost: 0, maxDelta: 21.581, meanJitter: 0.520, maxJitter: 0.722),
        Expected(packets: 50, lost: 0, maxDelta: 21.768, meanJitter: 0.469, maxJitter: 0.757),
        Expected(packets: 46, lost: 4, maxDelta: 100.746, meanJitter: 0.473, maxJitter: 0.733),
        Expected(packets: 50, lost: 0, maxDelta: 34.605, meanJitter: 1.878, maxJitter: 6.912),
        Expected(packets: 60, lost: -10, maxDelta: 20.888, meanJitter: 0.215, maxJitter: 0.292),
    ]

    @Test(arguments: 0..<11)
    func scenarioMatchesTshark(index: Int) {
        let scenario = RTPStreamScenarios.all()[index]
        var s = RTPStreamStatistics()
        for p in scenario.packets {
            // Whole microseconds, as the capture holds them.
            let arrival = MediaTime(nanoseconds: Int64((p.arrivalMs * 1000).rounded()) * 1000)
            s.record(
                sequence: p.sequence, timestamp: p.timestamp, arrival: arrival,
                clockRate: RTPPayloadType.tsharkClockRate(p.payloadType), marker: p.marker, payloadType: p.payloadType)
        }
        let e = Self.expected[index]
        #expect(s.packets == e.packets, "\(scenario.name)")
        #expect(s.lost == e.lost, "\(scenario.name)")
        #expect(abs(s.maxDeltaMs - e.maxDelta) < 0.0006, "\(scenario.name) max delta \(s.maxDeltaMs)")
        #expect(abs(s.meanJitterMs - e.meanJitter) < 0.0006, "\(scenario.name) mean jitter \(s.meanJitterMs)")
        #expect(abs(s.maxJitterMs - e.maxJitter) < 0.0006, "\(scenario.name) max jitter \(s.maxJitterMs)")
    }

    @Test func clockRatesAsTsharkUsesThem() {
        #expect(RTPPayloadType.tsharkClockRate(9) == 8000)  // G.722's RTP clock, RFC 3551
        #expect(RTPPayloadType.tsharkClockRate(11) == 44100)
        #expect(RTPPayloadType.tsharkClockRate(101) == 0)  // dynamic without SDP
        #expect(RTPPayloadType.tsharkClockRate(101, encoding: "telephone-event", declaredRate: 8000) == 0)
        #expect(RTPPayloadType.tsharkClockRate(96, encoding: "AMR-WB", declaredRate: 16000) == 16000)
    }

    @Test func duplicatesAndLateArrivalsAreSeparate() {
        var s = RTPStreamStatistics()
        for (k, seq) in [UInt16(1), 2, 3, 3, 5, 4, 6].enumerated() {
            s.record(sequence: seq, timestamp: UInt32(seq) * 160, arrival: MediaTime(nanoseconds: Int64(k) * 20_000_000), clockRate: 8000)
        }
        #expect(s.duplicates == 1)
        #expect(s.outOfOrder == 1)
        // 3 (again), 5 (a gap) and 4 (late) broke the sequence; 6 follows 5.
        #expect(s.sequenceErrors == 3)
        #expect(s.lost == -1)
    }
}

