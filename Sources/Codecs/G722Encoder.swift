/// Encodes 16 kHz 16-bit PCM to G.722 at 64 kbit/s: one codeword byte per
/// two input samples. Bit-exact with the ITU-T STL reference encoder. callrec
/// records calls and never needs to send G.722; the encoder exists to build
/// realistic G.722 captures for tests and `callrec bench`.
public struct G722Encoder: Sendable {
    var lower = G722.Band(det: G722.initialLowerScale)
    var higher = G722.Band(det: G722.initialHigherScale)
    /// The transmit QMF's 24 newest input samples, newest first.
    var history = [Int32](repeating: 0, count: 24)

    /// An encoder in the reset state.
    public init() {}

    /// Encodes `samples` (an even count; a trailing odd sample is ignored)
    /// and appends one codeword per pair to `output`.
    public mutating func encode(_ samples: some Collection<Int16>, into output: inout [UInt8]) {
        var iterator = samples.makeIterator()
        let table = G722.tables
        let h = Array(table[G722.Table.qmf..<(G722.Table.qmf + 12)])
        while let first = iterator.next(), let second = iterator.next() {
            // Transmit QMF: the pair enters the delay line, the later sample at the
            // even position (as the STL's qmf_tx takes them); the even taps filter
            // one phase, the odd taps the other.
            history.removeLast(2)
            history.insert(contentsOf: [Int32(second), Int32(first)], at: 0)
            var even: Int32 = 0, odd: Int32 = 0
            for i in 0..<12 {
                even &+= h[i] &* history[2 * i]
                odd &+= h[11 - i] &* history[2 * i + 1]
            }
            let xl = G722.limit((even &+ odd) >> 14)
            let xh = G722.limit((even &- odd) >> 14)
            output.append(encodeSubbands(lower: xl, higher: xh))
        }
    }

    /// The ADPCM core alone, without the QMF, for the G.722 Appendix II
    /// digital test sequences: codes one pair of sub-band samples (or resets)
    /// and returns the codeword (2 higher bits, 6 lower).
    public mutating func encodeSubbands(lower xl: Int32, higher xh: Int32, reset: Bool = false) -> UInt8 {
        if reset {
            self = G722Encoder()
            return 0
        }
        let table = G722.tables
        // QUANTL: the largest decision level at or below |el|, searched upwards.
        let el = G722.sat(xl &- lower.s)
        let magnitude = el >= 0 ? el : 32767 - (el & 32767)
        var level = 0
        while level < 30 && G722.mult(G722.q6[level] << 3, lower.det) <= magnitude { level += 1 }
        let il = el < 0 ? G722Encoder.negativeCode(level) : G722Encoder.positiveCode(level)
        let dlt = G722.mult(lower.det, table[G722.Table.lowerAdapt + il])
        lower.nb = min(max((lower.nb &* 127) >> 7 &+ table[G722.Table.lowerLog + il], 0), 18432)
        lower.det = table[G722.Table.scale + 64 + Int(lower.nb >> 6)]
        lower.adapt(dlt)

        // QUANTH: one decision level.
        let eh = G722.sat(xh &- higher.s)
        let hm = eh >= 0 ? eh : 32767 - (eh & 32767)
        let outer = hm >= G722.mult(564 << 3, higher.det)
        let ih = eh < 0 ? (outer ? 0 : 1) : (outer ? 2 : 3)
        let dh = G722.mult(table[G722.Table.higherOutput + ih], higher.det)
        higher.nb = min(max((higher.nb &* 127) >> 7 &+ table[G722.Table.higherLog + ih], 0), 22528)
        higher.det = table[G722.Table.scale + Int(higher.nb >> 6)]
        higher.adapt(dh)
        return UInt8(ih << 6 | il)
    }

    /// The 6-bit codeword of decision interval `level` (1...30), negative side:
    /// 63, 62, then 31 down to 4 (G.722 table 9); 0 outside.
    static func negativeCode(_ level: Int) -> Int {
        switch level {
        case 0, 31...: 0
        case 1: 63
        case 2: 62
        default: 34 - level
        }
    }

    /// Positive side: 61 down to 32.
    static func positiveCode(_ level: Int) -> Int {
        level == 0 || level >= 31 ? 0 : 62 - level
    }
}
