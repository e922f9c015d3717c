/// Extends 16-bit RTP sequence numbers to 64 bits relative to the highest
/// seen, so reordering across the wrap is a small negative step rather than
/// a jump of 65535.
public struct SequenceExtender: Sendable {
    private var highest: Int64 = 0
    private var started = false

    public init() {}

    /// The extended value of `sequence`.
    @inlinable
    public mutating func extend(_ sequence: UInt16) -> Int64 {
        extendImpl(sequence)
    }

    @usableFromInline
    mutating func extendImpl(_ sequence: UInt16) -> Int64 {
        guard started else {
            started = true
            // Start well above zero so a reordered packet just before the first stays positive.
            highest = 1 << 20 | Int64(sequence)
            return highest
        }
        // seq 65535 -> 2: distance +3, not -65533; seq 2 -> 65535: distance -3.
        let step = Int64(Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: highest)))
        let extended = highest + step
        if step > 0 { highest = extended }
        return extended
    }

    /// Forgets the history (a new SSRC).
    public mutating func reset() {
        started = false
    }
}
