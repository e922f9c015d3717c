/// Extends a wrapping RTP counter (16-bit sequence numbers, 32-bit
/// timestamps) to 64 bits relative to the highest value seen, by serial
/// number arithmetic (RFC 1982): a step of less than half the counter's range
/// is forward, anything else backward. So reordering across the wrap is a
/// small negative step rather than a jump of a whole range.
public struct WrappingCounterExtender<Counter: FixedWidthInteger & UnsignedInteger>: Sendable {
    @usableFromInline var highest: Int64 = 0
    @usableFromInline var started = false
    /// Where the first value lands: well above zero, so a packet reordered to
    /// just before the first stays positive.
    @usableFromInline let origin: Int64

    /// An extender whose first value is placed at `origin | value`.
    public init(origin: Int64) {
        self.origin = origin
    }

    /// The extended value of `value`.
    @inlinable
    public mutating func extend(_ value: Counter) -> Int64 {
        guard started else {
            started = true
            highest = origin | Int64(value)
            return highest
        }
        // 16 bits: seq 65535 -> 2 is +3, not -65533; seq 2 -> 65535 is -3.
        // The difference modulo the range, read as a signed number of the counter's width.
        let shift = Int64(64 - Counter.bitWidth)
        let modular = Int64(truncatingIfNeeded: UInt64(value &- Counter(truncatingIfNeeded: highest)))
        let step = (modular << shift) >> shift
        let extended = highest + step
        if step > 0 { highest = extended }
        return extended
    }

    /// The extended value `value` would get, without taking it as seen
    /// (an RTCP report's timestamp); nil before the first value.
    public func peek(_ value: Counter) -> Int64? {
        guard started else { return nil }
        let shift = Int64(64 - Counter.bitWidth)
        let modular = Int64(truncatingIfNeeded: UInt64(value &- Counter(truncatingIfNeeded: highest)))
        return highest + ((modular << shift) >> shift)
    }

    /// Forgets the history (a new SSRC).
    public mutating func reset() {
        started = false
    }
}

/// Extends 16-bit RTP sequence numbers to 64 bits.
public typealias SequenceExtender = WrappingCounterExtender<UInt16>

/// Extends 32-bit RTP timestamps to 64 bits.
public typealias TimestampExtender = WrappingCounterExtender<UInt32>

extension WrappingCounterExtender where Counter == UInt16 {
    /// A sequence-number extender (first value at 2^20 + seq).
    public init() { self.init(origin: 1 << 20) }
}

extension WrappingCounterExtender where Counter == UInt32 {
    /// A timestamp extender (first value at 2^34 + ts).
    public init() { self.init(origin: 1 << 34) }
}
