import CallrecCore

/// Per-stream counts in the sense tshark's `-z rtp,streams` gives them:
/// packets received, lost = expected from the sequence span minus received,
/// sequence errors, and interarrival jitter per RFC 3550 section 6.4.1.
///
/// Plain fields only; updating allocates nothing.
public struct RTPStreamStatistics: Sendable, Equatable {
    /// Packets received (duplicates included, as tshark counts them).
    public private(set) var packets = 0
    /// Packets that repeated a sequence number seen among the last 64.
    public private(set) var duplicates = 0
    /// Packets that arrived with a sequence number lower than one already seen.
    public private(set) var outOfOrder = 0
    /// Largest gap between consecutive arrivals, in seconds.
    public private(set) var maxDelta = 0.0
    /// The last jitter estimate, in seconds.
    public private(set) var jitter = 0.0
    /// The largest jitter estimate, in seconds.
    public private(set) var maxJitter = 0.0
    /// The sum of jitter estimates (for the mean), in seconds.
    private var jitterSum = 0.0
    /// When the first and the latest packet arrived.
    public private(set) var firstArrival: MediaTime? = nil
    public private(set) var lastArrival: MediaTime? = nil

    private var baseSequence: Int64 = 0
    private var highestSequence: Int64 = 0
    private var cycles: Int64 = 0
    private var lastSequence: UInt16 = 0
    /// A 64-bit window of recently seen sequence numbers, bit k = highest - k.
    private var seenWindow: UInt64 = 0
    private var lastTransit: Double = 0
    private var hasTransit = false

    public init() {}

    /// Expected packets from the sequence span (highest extended - base + 1).
    public var expected: Int { packets == 0 ? 0 : Int(highestSequence - baseSequence + 1) }

    /// Lost packets as tshark reports them: expected minus received
    /// (negative when duplicates outnumber losses).
    public var lost: Int { expected - packets }

    /// The mean of the per-packet jitter estimates, in seconds.
    public var meanJitter: Double { packets > 1 ? jitterSum / Double(packets - 1) : 0 }

    /// Takes one packet: its sequence number, RTP timestamp, arrival time and the stream's RTP clock rate.
    public mutating func record(sequence: UInt16, timestamp: UInt32, arrival: MediaTime, clockRate: Int) {
        defer { lastArrival = arrival }
        if packets == 0 {
            packets = 1
            baseSequence = Int64(sequence)
            highestSequence = Int64(sequence)
            lastSequence = sequence
            seenWindow = 1
            firstArrival = arrival
            transit(timestamp: timestamp, arrival: arrival, clockRate: clockRate)
            return
        }
        packets += 1
        if let last = lastArrival {
            maxDelta = max(maxDelta, arrival.seconds(since: last))
        }
        // Extend the 16-bit sequence number relative to the highest seen:
        // seq 65535 -> 2 is a step of +3, not -65533.
        let highest16 = UInt16(truncatingIfNeeded: highestSequence)
        let forward = sequence &- highest16
        if forward != 0 && forward < 0x8000 {
            let newHighest = highestSequence + Int64(forward)
            let shift = Int(forward)
            seenWindow = shift >= 64 ? 1 : (seenWindow << UInt64(shift)) | 1
            highestSequence = newHighest
        } else {
            let backward = Int(highest16 &- sequence)
            if backward == 0 || (backward < 64 && seenWindow & (1 << UInt64(backward)) != 0) {
                duplicates += 1
            } else {
                outOfOrder += 1
                if backward < 64 { seenWindow |= 1 << UInt64(backward) }
                let extended = highestSequence - Int64(backward)
                if extended < baseSequence { baseSequence = extended }
            }
        }
        lastSequence = sequence
        transit(timestamp: timestamp, arrival: arrival, clockRate: clockRate)
    }

    /// RFC 3550 A.8: D(i-1,i) = (Rj - Ri) - (Sj - Si); J += (|D| - J) / 16.
    private mutating func transit(timestamp: UInt32, arrival: MediaTime, clockRate: Int) {
        guard clockRate > 0 else { return }
        let arrivalUnits = arrival.seconds(since: firstArrival ?? arrival) * Double(clockRate)
        let transit = arrivalUnits - Double(timestamp)
        if hasTransit {
            var d = transit - lastTransit
            // A timestamp wrap between the two packets shows up as +-2^32.
            if d > 2_147_483_648 { d -= 4_294_967_296 } else if d < -2_147_483_648 { d += 4_294_967_296 }
            let j = jitter * Double(clockRate)
            let updated = j + (abs(d) - j) / 16
            jitter = updated / Double(clockRate)
            maxJitter = max(maxJitter, jitter)
            jitterSum += jitter
        }
        lastTransit = transit
        hasTransit = true
    }
}
