import CallrecCore

/// Per-stream counts exactly as tshark 4.0's `-z rtp,streams` gives them
/// (Wireshark's `rtppacket_analyse` in ui/tap-rtp-analysis.c and
/// `rtpstream_info_calculate` in ui/tap-rtp-common.c), checked against
/// tshark 4.0.17 on real captures and on generated streams with loss,
/// reordering, duplicates, wraps, markers, comfort noise and events:
///
/// - `lost` = expected - received, where expected = (sequence number of the
///   *last* packet + 65536 x wraps) - sequence number of the first + 1, in
///   32-bit arithmetic; negative when duplicates outnumber losses.
/// - A packet whose timestamp lies before the stream's first timestamp (more
///   than 2^31 ticks ahead counts as before) is "not in time sequence": it
///   updates neither the wrap count, the sequence state, the jitter nor the
///   reference arrival time, and is not a regular packet.
/// - Jitter in milliseconds, RFC 3550 section 6.4.1 as tshark computes it:
///   D = |arrival - (reference arrival + (timestamp - reference timestamp) /
///   (clock rate / 1000))|, J += (D - J) / 16, where the reference is the last
///   in-time packet for the arrival and the last in-time packet with a known
///   clock for the timestamp. The clock rate is divided by 1000 in integer
///   arithmetic (44100 Hz counts as 44 ticks per ms). Payload types without a
///   known clock (dynamic ones without SDP, telephone-event) get no jitter.
/// - Maximum delta, maximum and mean jitter count only regular packets: not
///   the first, no marker bit, not comfort noise or right after it, in time
///   sequence. The mean is tshark's running mean, which divides by the number
///   of packets before the current one.
///
/// `duplicates` and `outOfOrder` are callrec's own (tshark folds both into
/// sequence errors): a sequence number seen among the last 64 is a duplicate,
/// one below the highest seen otherwise is out of order.
///
/// Plain fields only; updating allocates nothing.
public struct RTPStreamStatistics: Sendable, Equatable {
    /// Packets received (duplicates included, as tshark counts them).
    public private(set) var packets = 0
    /// Packets whose sequence number was not the one after the previous in-order packet's.
    public private(set) var sequenceErrors = 0
    /// Packets that repeated a sequence number seen among the last 64.
    public private(set) var duplicates = 0
    /// Packets that arrived with a sequence number lower than one already seen (not duplicates).
    public private(set) var outOfOrder = 0
    /// Largest gap between a regular packet and the previous in-time packet, in milliseconds.
    public private(set) var maxDeltaMs = 0.0
    /// The mean of those gaps, in milliseconds (tshark's running mean).
    public private(set) var meanDeltaMs = 0.0
    /// The current jitter estimate, in milliseconds.
    public private(set) var jitterMs = 0.0
    /// The largest jitter estimate at a regular packet, in milliseconds.
    public private(set) var maxJitterMs = 0.0
    /// tshark's mean jitter, in milliseconds.
    public private(set) var meanJitterMs = 0.0
    /// When the first and the latest packet arrived.
    public private(set) var firstArrival: MediaTime? = nil
    /// When the latest packet arrived.
    public private(set) var lastArrival: MediaTime? = nil
    /// The payload types seen.
    public private(set) var payloadTypes = PayloadTypeSet()

    // tshark's state (tap_rtp_stat_t).
    private var startSequence: UInt32 = 0
    private var stopSequence: UInt32 = 0
    /// The last sequence number that arrived in order.
    private var sequence: UInt16 = 0
    private var cycles: UInt32 = 0
    private var under = false
    private var firstTimestamp: UInt32 = 0
    /// Arrival of the last in-time packet, in ms since the first packet.
    private var time = 0.0
    /// The last jitter-bearing packet's timestamp distance from the first, in ms.
    private var lastNominal = 0.0
    private var payloadType: UInt8 = 0

    // callrec's duplicate / out-of-order window.
    private var highestSequence: Int64 = 0
    /// A 64-bit window of recently seen sequence numbers, bit k = highest - k.
    private var seenWindow: UInt64 = 0

    public init() {}

    /// Packets expected from the sequence span, as tshark computes it (32-bit arithmetic).
    public var expected: Int { packets == 0 ? 0 : Int(expectedWrapping) }

    private var expectedWrapping: UInt32 { (stopSequence &+ cycles &* 0x10000) &- startSequence &+ 1 }

    /// Lost packets as tshark reports them: expected minus received
    /// (negative when duplicates outnumber losses).
    public var lost: Int { packets == 0 ? 0 : Int(Int32(bitPattern: expectedWrapping &- UInt32(truncatingIfNeeded: packets))) }

    /// The largest jitter, in seconds.
    public var maxJitter: Double { maxJitterMs / 1000 }
    /// The mean jitter, in seconds.
    public var meanJitter: Double { meanJitterMs / 1000 }
    /// The current jitter, in seconds.
    public var jitter: Double { jitterMs / 1000 }
    /// The largest delta, in seconds.
    public var maxDelta: Double { maxDeltaMs / 1000 }

    /// Takes one packet.
    /// - Parameters:
    ///   - clockRate: the RTP clock of this packet's payload type; 0 when unknown (no jitter).
    ///     `RTPPayloadType.tsharkClockRate` gives the one tshark uses.
    ///   - marker: the RTP marker bit (a talk spurt starts: not a regular packet).
    ///   - payloadType: the RTP payload type (13 and 19 are comfort noise).
    public mutating func record(
        sequence: UInt16, timestamp: UInt32, arrival: MediaTime, clockRate: Int,
        marker: Bool = false, payloadType: UInt8 = 0
    ) {
        payloadTypes.insert(payloadType)
        window(sequence)
        guard let origin = firstArrival else {
            first(sequence: sequence, timestamp: timestamp, arrival: arrival, payloadType: payloadType)
            return
        }
        let current = Double(arrival.nanoseconds(since: origin)) / 1e6
        lastArrival = arrival
        let seq = UInt32(sequence)

        // In time sequence: not before the first packet's timestamp, wrap-aware.
        // first 0xFFFFFF00 -> 0x00000010: (0xFFFFFFFF - 0xFFFFFF00) + 0x10 = 0x10F, in time.
        let inTime = firstTimestamp <= timestamp
            ? timestamp &- firstTimestamp < 0x8000_0000
            : (0xFFFF_FFFF &- firstTimestamp) &+ timestamp < 0x8000_0000

        // Wraps: a sequence number below the first one starts a new cycle.
        if seq < startSequence && inTime && !under {
            cycles &+= 1
            under = true
        } else if seq == 0 && stopSequence == 65535 && inTime && !under {
            cycles &+= 1
            under = true
        } else if seq > startSequence && inTime && under {
            under = false
        }

        // Sequence errors, in tshark's order of tests (C int arithmetic on 16-bit values).
        let last = Int(self.sequence)
        let now = Int(sequence)
        if inTime && last + 1 == now {
            self.sequence = sequence
        } else if inTime && last == 65535 && now == 0 {
            self.sequence = sequence
        } else if inTime && (last + 1 < now || last - now > 0xFF00) {
            self.sequence = sequence
            sequenceErrors += 1
        } else if last + 1 > now {
            sequenceErrors += 1
        }

        let comfortNoise = payloadType == 13 || payloadType == 19
        let followsComfortNoise = self.payloadType == 13 || self.payloadType == 19
        self.payloadType = payloadType

        let delta = current - time
        let ticksPerMs = clockRate / 1000
        if ticksPerMs > 0 && inTime {
            // The timestamp's distance from the first, wrapped to 32 bits, in ms.
            let nominal = Double(timestamp &- firstTimestamp) / Double(ticksPerMs)
            let difference = abs(current - (time + nominal - lastNominal))
            jitterMs = (15 * jitterMs + difference) / 16
            lastNominal = nominal
        }

        if !marker && !comfortNoise && inTime && !followsComfortNoise {
            let before = Double(packets)
            maxDeltaMs = max(maxDeltaMs, delta)
            meanDeltaMs = (meanDeltaMs * (before - 1) + delta) / before
            if ticksPerMs > 0 {
                maxJitterMs = max(maxJitterMs, jitterMs)
                meanJitterMs = (meanJitterMs * (before - 1) + jitterMs) / before
            }
        }
        if inTime { time = current }
        stopSequence = seq
        packets += 1
    }

    private mutating func first(sequence: UInt16, timestamp: UInt32, arrival: MediaTime, payloadType: UInt8) {
        packets = 1
        startSequence = UInt32(sequence)
        stopSequence = UInt32(sequence)
        self.sequence = sequence
        firstTimestamp = timestamp
        time = 0
        lastNominal = 0
        self.payloadType = payloadType
        firstArrival = arrival
        lastArrival = arrival
    }

    /// callrec's duplicate and out-of-order counts from a 64-packet window.
    private mutating func window(_ sequence: UInt16) {
        if firstArrival == nil {
            highestSequence = Int64(sequence)
            seenWindow = 1
            return
        }
        // Extend the 16-bit sequence number relative to the highest seen:
        // seq 65535 -> 2 is a step of +3, not -65533.
        let highest16 = UInt16(truncatingIfNeeded: highestSequence)
        let forward = sequence &- highest16
        if forward != 0 && forward < 0x8000 {
            let shift = Int(forward)
            seenWindow = shift >= 64 ? 1 : (seenWindow << UInt64(shift)) | 1
            highestSequence += Int64(forward)
        } else {
            let backward = Int(highest16 &- sequence)
            if backward < 64 && seenWindow & (1 << UInt64(backward)) != 0 {
                duplicates += 1
            } else {
                outOfOrder += 1
                if backward < 64 { seenWindow |= 1 << UInt64(backward) }
            }
        }
    }
}

/// A set of RTP payload types (0-127) in two machine words.
public struct PayloadTypeSet: Sendable, Equatable, Sequence {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    public init() {}

    /// Adds a payload type (its low 7 bits).
    public mutating func insert(_ type: UInt8) {
        let t = type & 0x7F
        if t < 64 { low |= 1 << UInt64(t) } else { high |= 1 << UInt64(t - 64) }
    }

    /// Whether the payload type was added.
    public func contains(_ type: UInt8) -> Bool {
        let t = type & 0x7F
        return t < 64 ? low & (1 << UInt64(t)) != 0 : high & (1 << UInt64(t - 64)) != 0
    }

    /// The payload types in ascending order.
    public func makeIterator() -> IndexingIterator<[UInt8]> {
        (0..<128).map(UInt8.init).filter(contains).makeIterator()
    }
}

/// The statistics of one leg's streams, kept per stream as tshark keys one:
/// by SSRC and path (a number the router gives each source and destination
/// pair), so the same SSRC sent to a new port after a re-INVITE is a second
/// stream and the gap between the two is not loss. The one type for it:
/// a decoded leg (CallMedia's `Leg`) and an encrypted leg the router only
/// counts (the SRTP header is in clear) both keep theirs in one, so a leg is
/// counted once and the same way.
public struct LegStreamStatistics: Sendable {
    /// Streams kept per leg; a new one beyond replaces the oldest.
    public static let capacity = 8
    /// Every stream kept, in order of appearance.
    public private(set) var streams: [(ssrc: UInt32, path: Int, statistics: RTPStreamStatistics)] = []
    /// The first and last packet of any stream of the leg (kept when a stream is replaced).
    public private(set) var firstArrival: MediaTime? = nil
    public private(set) var lastArrival: MediaTime? = nil

    public init() {}

    /// Counts one packet of the stream `header.ssrc` on `path`, at `clockRate` (0: not audio, no jitter).
    public mutating func record(_ header: RTPHeader, path: Int, at time: MediaTime, clockRate: Int) {
        if firstArrival == nil { firstArrival = time }
        lastArrival = time
        if let k = streams.firstIndex(where: { $0.ssrc == header.ssrc && $0.path == path }) {
            streams[k].statistics.record(
                sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: clockRate, marker: header.marker,
                payloadType: header.payloadType)
        } else {
            if streams.count == Self.capacity { streams.removeFirst() }
            var statistics = RTPStreamStatistics()
            statistics.record(
                sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: clockRate, marker: header.marker,
                payloadType: header.payloadType)
            streams.append((header.ssrc, path, statistics))
        }
    }

    /// The SSRCs of the leg, in order of appearance, each once.
    public var ssrcs: [UInt32] {
        var seen: [UInt32] = []
        for stream in streams where !seen.contains(stream.ssrc) { seen.append(stream.ssrc) }
        return seen
    }
    public var packets: Int { streams.reduce(0) { $0 + $1.statistics.packets } }
    /// Lost as tshark counts it: expected from the sequence span minus received (duplicates included).
    public var lost: Int { streams.reduce(0) { $0 + $1.statistics.lost } }
    public var duplicates: Int { streams.reduce(0) { $0 + $1.statistics.duplicates } }
    /// The largest interarrival jitter of any stream, in seconds.
    public var maxJitter: Double { streams.map(\.statistics.maxJitter).max() ?? 0 }
}
