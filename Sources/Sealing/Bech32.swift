/// Bech32 (BIP 173), the text form of age keys: `age1…` recipients and
/// `AGE-SECRET-KEY-1…` identities.
///
/// Written here because no library in the offline package mirror offers it
/// (swift-crypto has no Bech32; the Bitcoin libraries that do are not in the
/// mirror) and it is small: a BCH checksum over 5-bit groups. It is not a
/// cryptographic primitive: a typo check and an encoding, nothing secret
/// depends on it. Tested with BIP 173's own vectors (SealingTests).
///
/// As the age specification says, there is no length limit on the data part
/// (BIP 173's 90 characters are for Bitcoin addresses; age's hybrid
/// recipients are longer), and the checksum is computed over the lowercase
/// string whatever case the text is in.
public enum Bech32 {
    /// The 32 data characters, by value.
    static let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    /// Encodes `data` under the human-readable part `hrp`. The result is in
    /// the case of `hrp` (`"AGE-SECRET-KEY-"` gives upper case).
    /// - Throws: when `hrp` is empty, has a character outside 33...126, or mixes cases.
    public static func encode(hrp: String, data: [UInt8]) throws -> String {
        let hrpBytes = Array(hrp.utf8)
        guard !hrpBytes.isEmpty, hrpBytes.allSatisfy({ (33...126).contains($0) }) else {
            throw SealingError(.key, "Bech32: invalid human-readable part \"\(hrp)\"")
        }
        let upper = hrpBytes.contains { (0x41...0x5A).contains($0) }
        guard !(upper && hrpBytes.contains { (0x61...0x7A).contains($0) }) else {
            throw SealingError(.key, "Bech32: mixed-case human-readable part \"\(hrp)\"")
        }
        let lowerHRP = hrpBytes.map(lowercased)
        let values = regroup(data, from: 8, to: 5, pad: true)!
        var text = lowerHRP + [0x31]  // "1"
        for v in values + checksum(hrp: lowerHRP, values: values) { text.append(alphabet[Int(v)]) }
        if upper { text = text.map(uppercased) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Decodes a Bech32 string into its human-readable part (in the case it
    /// was written) and its data.
    /// - Throws: on mixed case, a missing or misplaced separator, a character
    ///   outside the alphabet, a wrong checksum, or padding bits that are not zero.
    public static func decode(_ text: String) throws -> (hrp: String, data: [UInt8]) {
        let bytes = Array(text.utf8)
        let hasUpper = bytes.contains { (0x41...0x5A).contains($0) }
        let hasLower = bytes.contains { (0x61...0x7A).contains($0) }
        guard !(hasUpper && hasLower) else { throw invalid(text, "mixes upper and lower case") }
        // The separator is the last "1": the human-readable part may hold "1"s itself.
        guard let separator = bytes.lastIndex(of: 0x31), separator >= 1, bytes.count - separator - 1 >= 6 else {
            throw invalid(text, "has no separator '1' followed by a six-character checksum")
        }
        let hrp = bytes[..<separator]
        guard hrp.allSatisfy({ (33...126).contains($0) }) else { throw invalid(text, "has a character outside ASCII 33-126") }
        var values: [UInt8] = []
        values.reserveCapacity(bytes.count - separator - 1)
        for c in bytes[(separator + 1)...] {
            guard let v = alphabet.firstIndex(of: lowercased(c)) else { throw invalid(text, "has a character outside the Bech32 alphabet") }
            values.append(UInt8(v))
        }
        let lowerHRP = hrp.map(lowercased)
        guard polymod(expand(lowerHRP) + values) == 1 else { throw invalid(text, "has a wrong checksum (a typo?)") }
        guard let data = regroup(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else {
            throw invalid(text, "has non-zero padding bits")
        }
        return (String(decoding: hrp, as: UTF8.self), data)
    }

    private static func invalid(_ text: String, _ why: String) -> SealingError {
        // The text may be a secret key: never repeat it in an error.
        SealingError(.key, "not a valid Bech32 key: it \(why)")
    }

    /// BIP 173's checksum generator: the BCH code's remainder, 30 bits.
    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var check: UInt32 = 1
        for v in values {
            let top = check >> 25
            check = (check & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { check ^= generator[i] }
        }
        return check
    }

    /// The human-readable part as the checksum sees it: high bits, a zero, low bits.
    static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// The six checksum values for `values` under `hrp` (lowercase).
    static func checksum(hrp: [UInt8], values: [UInt8]) -> [UInt8] {
        let mod = polymod(expand(hrp) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        return (0..<6).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
    }

    /// Regroups bits: 8-bit bytes into 5-bit values (padding the last with
    /// zeros), or back (nil when the leftover bits are a whole group or not zero).
    static func regroup(_ input: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator: UInt32 = 0
        var bits = 0
        let mask = UInt32(1 << to - 1)
        var out: [UInt8] = []
        out.reserveCapacity(input.count * from / to + 1)
        for value in input {
            accumulator = accumulator << UInt32(from) | UInt32(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((accumulator >> UInt32(bits)) & mask))
            }
            accumulator &= UInt32(1 << bits - 1)  // keep only the bits not yet emitted
        }
        if pad {
            if bits > 0 { out.append(UInt8((accumulator << UInt32(to - bits)) & mask)) }
        } else if bits >= from || accumulator != 0 {
            return nil
        }
        return out
    }

    private static func lowercased(_ c: UInt8) -> UInt8 { (0x41...0x5A).contains(c) ? c | 0x20 : c }
    private static func uppercased(_ c: UInt8) -> UInt8 { (0x61...0x7A).contains(c) ? c & ~0x20 : c }
}
