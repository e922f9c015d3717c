import CallrecCore

/// Generated RTP streams that exercise every branch of tshark's stream
/// analysis: loss, reordering, duplicates, sequence and timestamp wraps,
/// markers after silence, comfort noise, payload type changes, events,
/// timestamps that go back, and random mixtures of all of them. One stream
/// per scenario, each on its own ports and SSRC (0x5C000000 + index).
public enum RTPStreamScenarios {
    /// One packet: arrival in ms after the capture start, header fields.
    public struct Packet {
        /// Arrival, in milliseconds after the capture starts.
        public var arrivalMs: Double
        /// RTP sequence number.
        public var sequence: UInt16
        /// RTP timestamp.
        public var timestamp: UInt32
        /// RTP payload type.
        public var payloadType: UInt8
        /// RTP marker bit.
        public var marker: Bool
    }

    /// The scenarios, by name. Each stream's packets are in arrival order.
    public static func all() -> [(name: String, packets: [Packet])] {
        var list: [(String, [Packet])] = []
        func base(_ n: Int = 50, sequence: Int = 100, timestamp: UInt32 = 1000, jitter: Double = 0, seed: UInt64 = 1) -> [Packet] {
            var rng = SeededRandom(seed: seed)
            return (0..<n).map { i in
                Packet(arrivalMs: Double(i) * 20 + (jitter > 0 ? rng.uniform(0...jitter) : 0),
                       sequence: UInt16(truncatingIfNeeded: sequence + i), timestamp: timestamp &+ UInt32(i) &* 160,
                       payloadType: 0, marker: false)
            }
        }
        var p = base()
        p.insert(Packet(arrivalMs: 385, sequence: 200, timestamp: 1000 + 10 * 160, payloadType: 0, marker: false), at: 20)
        list.append(("timestamp behind, sequence ahead", p))
        p = base()
        p.insert(Packet(arrivalMs: 183, sequence: 50, timestamp: 1000 + 2 * 160, payloadType: 0, marker: false), at: 10)
        list.append(("sequence below the first", p))
        list.append(("sequence wrap", base(sequence: 65_500, jitter: 3, seed: 2)))
        list.append(("timestamp wrap", base(timestamp: 0xFFFF_FFFF - 160 * 20, jitter: 3, seed: 3)))
        p = base(jitter: 2, seed: 4)
        (p[10].sequence, p[11].sequence) = (p[11].sequence, p[10].sequence)
        (p[10].timestamp, p[11].timestamp) = (p[11].timestamp, p[10].timestamp)
        list.append(("two packets swapped", p))
        p = base(jitter: 2, seed: 5)
        p.insert(Packet(arrivalMs: p[14].arrivalMs + 1, sequence: p[14].sequence, timestamp: p[14].timestamp, payloadType: 0, marker: false), at: 15)
        list.append(("a duplicate", p))
        p = base(jitter: 2, seed: 6)
        for i in 25..<p.count {
            p[i].arrivalMs += 1000
            p[i].timestamp &+= 8000
            p[i].marker = i == 25
        }
        list.append(("silence then marker", p))
        p = base(jitter: 2, seed: 7)
        for i in 20..<23 { p[i].payloadType = 13 }
        list.append(("comfort noise", p))
        p = base(jitter: 2, seed: 8)
        p.removeSubrange(5..<9)
        list.append(("four lost", p))
        p = base(jitter: 1, seed: 9)
        p[30].arrivalMs += 15
        p[30].timestamp = p[29].timestamp &- 160
        list.append(("timestamp back", p))
        p = base(jitter: 1, seed: 10)
        for i in stride(from: 12, to: 40, by: 3) {
            // RFC 4733 events between audio packets, carrying the event start's timestamp.
            p.insert(Packet(arrivalMs: p[i].arrivalMs + 0.01, sequence: p[i].sequence, timestamp: p[12].timestamp, payloadType: 101, marker: i == 12), at: i + 1)
        }
        list.append(("events between audio", p))
        for k in 0..<30 {
            var rng = SeededRandom(seed: 100 + UInt64(k))
            var packets: [Packet] = []
            var t = 0.0
            var sequence = UInt16(truncatingIfNeeded: rng.next())
            var timestamp = UInt32(truncatingIfNeeded: rng.next())
            let sequenceSteps = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, -1, -3, 5, -40, 300]
            let timestampSteps: [Int64] = [160, 160, 160, 160, 160, 160, 160, 160, 320, 0, -160, -3200, 8000]
            let arrivals = [20, 20, 20, 19.7, 20.4, 40, 0.3, 3, 60]
            let types: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 8, 13, 19, 101, 9, 18, 3, 96, 10, 14]
            for _ in 0..<(2 + Int(rng.next() % 300)) {
                t += rng.next() % 10 == 0 ? rng.uniform(0...100) : arrivals[Int(rng.next() % UInt64(arrivals.count))]
                sequence = UInt16(truncatingIfNeeded: Int(sequence) + sequenceSteps[Int(rng.next() % UInt64(sequenceSteps.count))])
                if rng.next() % 40 == 0 {
                    timestamp = UInt32(truncatingIfNeeded: rng.next())
                } else {
                    timestamp = UInt32(truncatingIfNeeded: Int64(timestamp) + timestampSteps[Int(rng.next() % UInt64(timestampSteps.count))])
                }
                packets.append(Packet(
                    arrivalMs: t, sequence: sequence, timestamp: timestamp,
                    payloadType: types[Int(rng.next() % UInt64(types.count))], marker: rng.next() % 20 == 0))
            }
            list.append(("random \(k)", packets))
        }
        return list
    }

    /// The SSRC of scenario `index`.
    public static func ssrc(_ index: Int) -> UInt32 { 0x5C00_0000 + UInt32(index) }

    /// All scenarios in one Ethernet pcap: scenario k from 10.0.0.1:(20000 + 4k) to 10.0.0.2:(30000 + 4k).
    public static func capture() -> [UInt8] {
        let start = MediaTime(seconds: 1_600_000_000, microseconds: 0)
        var records: [(Int64, Int, [UInt8])] = []
        for (k, scenario) in all().enumerated() {
            let from = Endpoint(address: IPAddress("10.0.0.1")!, port: UInt16(20_000 + 4 * k))
            let to = Endpoint(address: IPAddress("10.0.0.2")!, port: UInt16(30_000 + 4 * k))
            for (i, p) in scenario.packets.enumerated() {
                let rtp = PacketBuilder.rtp(
                    payloadType: p.payloadType, sequence: p.sequence, timestamp: p.timestamp, ssrc: ssrc(k), marker: p.marker,
                    payload: [UInt8](repeating: 0xD5, count: 160))
                // Whole microseconds, as a microsecond pcap holds them.
                records.append((Int64((p.arrivalMs * 1000).rounded()), k * 100_000 + i, PacketBuilder.ethernetUDP(from: from, to: to, payload: rtp)))
            }
        }
        records.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        var writer = PcapWriter()
        for (us, _, frame) in records { writer.append(frame, at: start.advanced(byNanoseconds: us * 1000)) }
        return writer.bytes
    }
}
