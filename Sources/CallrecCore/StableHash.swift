/// FNV-1a, 32-bit: a stable, platform-independent hash for deriving short
/// names (recording ids) from untrusted text. Not for security: the id only
/// has to be stable and to carry no byte of the input.
public enum StableHash {
    /// The 32-bit FNV-1a hash of `bytes`.
    @inlinable
    public static func fnv1a32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var hash: UInt32 = 0x811C_9DC5
        for b in bytes {
            hash ^= UInt32(b)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    /// The 64-bit FNV-1a hash of `bytes`.
    @inlinable
    public static func fnv1a64<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            hash ^= UInt64(b)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// `value` as exactly `digits` lowercase hex digits.
    public static func hex<T: FixedWidthInteger>(_ value: T, digits: Int = MemoryLayout<T>.size * 2) -> String {
        let s = String(value, radix: 16)
        return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
    }
}
