/// Lowercase hexadecimal text of bytes (digests, fingerprints), by table:
/// `String(format:)` per byte cost more than the hash it printed (measured
/// in the evidence benchmark).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex digits, two per byte, after `prefix`.
    public static func lowercase<S: Sequence<UInt8>>(_ bytes: S, prefix: String = "") -> String {
        var out = Array(prefix.utf8)
        out.reserveCapacity(out.count + 2 * bytes.underestimatedCount)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
