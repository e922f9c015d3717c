/// ITU-T G.711 u-law and A-law, by table: decoding is one lookup per sample.
///
/// The tables are built once from the G.711 expansion rules and give the
/// 16-bit left-justified linear values of the ITU-T STL reference decoder
/// (u-law: 14-bit magnitude << 2; A-law: 13-bit magnitude << 3).
public enum G711 {
    /// The two companding laws.
    public enum Law: Sendable {
        case ulaw
        case alaw
    }

    /// Linear value for each u-law code.
    public static let ulawTable: [Int16] = (0..<256).map { ulawExpand(UInt8($0)) }
    /// Linear value for each A-law code.
    public static let alawTable: [Int16] = (0..<256).map { alawExpand(UInt8($0)) }

    /// G.711 u-law expansion of one code (ITU-T G.711 table 2a).
    public static func ulawExpand(_ code: UInt8) -> Int16 {
        let u = ~code
        let sign = u & 0x80
        let exponent = Int((u >> 4) & 0x07)
        let mantissa = Int(u & 0x0F)
        // ((2 * mantissa + 33) << exponent) - 33, in units of the 14-bit range, then << 2.
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        return Int16(sign != 0 ? -magnitude : magnitude)
    }

    /// G.711 A-law expansion of one code (ITU-T G.711 table 1a).
    public static func alawExpand(_ code: UInt8) -> Int16 {
        let a = code ^ 0x55
        let sign = a & 0x80
        let exponent = Int((a >> 4) & 0x07)
        let mantissa = Int(a & 0x0F)
        var magnitude = (mantissa << 4) + 8
        if exponent != 0 { magnitude = (magnitude + 0x100) << (exponent - 1) }
        // A-law sign bit set means positive.
        return Int16(sign != 0 ? magnitude : -magnitude)
    }

    /// G.711 u-law compression of one 16-bit linear sample.
    public static func ulawCompress(_ sample: Int16) -> UInt8 {
        // The STL works on the 14-bit value: drop the two low bits.
        var value = Int(sample) >> 2
        let mask: UInt8
        if value < 0 {
            value = -value - 1
            mask = 0x7F
        } else {
            mask = 0xFF
        }
        value += 33  // bias, in 14-bit units
        if value > 0x1FFF { value = 0x1FFF }
        var exponent = 0
        var v = value >> 6
        while v != 0 {
            exponent += 1
            v >>= 1
        }
        let mantissa = (value >> (exponent + 1)) & 0x0F
        return UInt8((exponent << 4) | mantissa) ^ mask
    }

    /// G.711 A-law compression of one 16-bit linear sample.
    public static func alawCompress(_ sample: Int16) -> UInt8 {
        // The STL works on the 13-bit value: drop the three low bits.
        var value = Int(sample) >> 3
        let mask: UInt8
        if value >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            value = -value - 1
        }
        var exponent = 0
        var v = value >> 5
        while v != 0 && exponent < 7 {
            exponent += 1
            v >>= 1
        }
        if value > 0xFFF { exponent = 7 }
        let mantissa = exponent == 0 ? (value >> 1) & 0x0F : (min(value, 0xFFF) >> exponent) & 0x0F
        return UInt8((exponent << 4) | mantissa) ^ mask
    }
}

/// Decodes G.711 payloads to 16-bit linear PCM.
public struct G711Decoder: Sendable {
    public let law: G711.Law
    private let table: [Int16]

    public init(law: G711.Law) {
        self.law = law
        self.table = law == .ulaw ? G711.ulawTable : G711.alawTable
    }

    /// Decodes `payload` (one code per byte) into `output`, which must hold
    /// at least `payload.count` samples. Returns the samples written.
    @inlinable
    public func decode(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let n = min(payload.count, output.count)
        tableBuffer { table in
            // SAFETY: i < n <= payload.count and <= output.count; codes index a 256-entry table.
            for i in 0..<n { output[i] = table[Int(payload[i])] }
        }
        return n
    }

    @usableFromInline
    func tableBuffer(_ body: (UnsafeBufferPointer<Int16>) -> Void) {
        table.withUnsafeBufferPointer(body)
    }
}
