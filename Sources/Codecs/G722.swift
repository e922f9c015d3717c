/// ITU-T G.722 (09/2012) sub-band ADPCM: the parts shared by the decoder and
/// the encoder. Written by hand from the Recommendation's block descriptions.
/// spandsp, which callrec links for G.711 Appendix I concealment, has a G.722
/// codec too, bit-exact with the same vectors (its 56 and 48 kbit/s modes
/// take the codeword right-aligned, one or two bits shifted out). This one is
/// kept because it decodes the same bytes in about 0.6 of spandsp's CPU time,
/// measured side by side in the CodecThroughput benchmark (README, "Measured
/// defaults"), decoding being a G.722 call's largest per-packet cost, and
/// because it exposes the ADPCM core alone for the Appendix II sequences.
/// The arithmetic follows the Recommendation's 16-bit fixed point exactly,
/// saturation included, so the output is bit-exact with the ITU-T STL
/// reference (the tests compare every byte).
public enum G722 {
    /// The three bit rates. Modes 2 and 3 drop the low bits of the lower
    /// sub-band codeword; the predictor always adapts on the 4-bit core, so
    /// one bitstream decodes in any mode.
    public enum Mode: Int, Sendable, CaseIterable {
        /// 64 kbit/s: 6-bit lower sub-band codewords (the RTP payload, RFC 3551).
        case kbit64 = 1
        /// 56 kbit/s: 5 bits of the lower sub-band codeword used.
        case kbit56 = 2
        /// 48 kbit/s: 4 bits used.
        case kbit48 = 3
    }

    /// One sub-band's adaptive predictor and scale factor (blocks 3 and 4 of
    /// G.722 clause 6). Plain fields only: copied into a local for the loop.
    @usableFromInline
    struct Band: Sendable {
        /// Scale factor (DETL / DETH) and its log (NBL / NBH).
        @usableFromInline var det: Int32
        @usableFromInline var nb: Int32 = 0
        /// Signal estimate (SL / SH) and the zero section's part of it (SZL / SZH).
        @usableFromInline var s: Int32 = 0
        @usableFromInline var sz: Int32 = 0
        /// Pole coefficients (AL1, AL2) and zero coefficients (BL1..BL6).
        @usableFromInline var a1: Int32 = 0, a2: Int32 = 0
        @usableFromInline var b1: Int32 = 0, b2: Int32 = 0, b3: Int32 = 0, b4: Int32 = 0, b5: Int32 = 0, b6: Int32 = 0
        /// Past quantized differences DLT(n-1)..DLT(n-6).
        @usableFromInline var d1: Int32 = 0, d2: Int32 = 0, d3: Int32 = 0, d4: Int32 = 0, d5: Int32 = 0, d6: Int32 = 0
        /// Past partial reconstructions PLT(n-1), PLT(n-2) and reconstructions RLT(n-1), RLT(n-2).
        @usableFromInline var p1: Int32 = 0, p2: Int32 = 0
        @usableFromInline var r1: Int32 = 0, r2: Int32 = 0

        @usableFromInline
        init(det: Int32) { self.det = det }

        /// Blocks 4 (RECONS, PARREC, UPZERO, UPPOL2, UPPOL1, FILTEZ, FILTEP,
        /// PREDIC) for the quantized difference `d` of this sample.
        ///
        /// The Recommendation saturates every 16-bit add, shift and multiply.
        /// Where the operands' ranges prove a result cannot leave 16 bits the
        /// saturation is left out (each such place says why); the result is
        /// the same, bit for bit. The ranges: DET <= 16384 (the scale table's
        /// largest entry), so |d| <= 16384 * 20456 / 32768 = 10228 in the
        /// lower band (INVQAL's largest step) and <= 3704 in the higher.
        @inlinable @inline(__always)
        mutating func adapt(_ d: Int32) {
            let p0 = sat(d &+ sz)
            let r0 = sat(s &+ d)

            // UPZERO: leak each zero coefficient and step it by the sign agreement
            // of the new difference with the one it multiplies. No saturation:
            // (b * 32640) >> 15 lies in [-32640, 32639], so +-128 stays in 16 bits.
            let step: Int32 = d == 0 ? 0 : 128
            let sg0 = d >> 15
            @inline(__always) func zero(_ b: Int32, _ di: Int32) -> Int32 {
                ((di >> 15) == sg0 ? step : -step) &+ ((b &* 32640) >> 15)
            }
            b6 = zero(b6, d6); b5 = zero(b5, d5); b4 = zero(b4, d4)
            b3 = zero(b3, d3); b2 = zero(b2, d2); b1 = zero(b1, d1)
            d6 = d5; d5 = d4; d4 = d3; d3 = d2; d2 = d1; d1 = d

            // UPPOL2, then UPPOL1 against the new AL2. |AL1| <= 15360 + 12288 and
            // |AL2| <= 12288, so only AL1 * 4 and its negation can saturate.
            let s0 = p0 >> 15, s1 = p1 >> 15, s2 = p2 >> 15
            let w1 = sat(a1 &* 4)
            let w2 = (s0 == s1 ? sat(-w1) : w1) >> 7
            let apl2 = min(max(w2 &+ (s0 == s2 ? 128 : -128) &+ ((a2 &* 32512) >> 15), -12288), 12288)
            var apl1 = (s0 == s1 ? 192 : -192) &+ ((a1 &* 32640) >> 15)
            let limit = 15360 &- apl2
            if apl1 > limit { apl1 = limit } else if apl1 &+ limit < 0 { apl1 = -limit }
            a1 = apl1
            a2 = apl2
            p2 = p1; p1 = p0

            // FILTEZ, taps 6 down to 1. 2 * |d| <= 20456 and |b| <= 32768, so each
            // product fits 16 bits; the running sum saturates as the Recommendation's does.
            var z: Int32 = (d6 &* 2 &* b6) >> 15
            z = sat(z &+ ((d5 &* 2 &* b5) >> 15))
            z = sat(z &+ ((d4 &* 2 &* b4) >> 15))
            z = sat(z &+ ((d3 &* 2 &* b3) >> 15))
            z = sat(z &+ ((d2 &* 2 &* b2) >> 15))
            z = sat(z &+ ((d1 &* 2 &* b1) >> 15))
            sz = z
            // FILTEP: 2 * RLT saturates; |AL1|, |AL2| < 32768 keep each product in 16 bits.
            r2 = r1; r1 = r0
            let sp = sat(((a1 &* sat(r1 &* 2)) >> 15) &+ ((a2 &* sat(r2 &* 2)) >> 15))
            s = sat(sp &+ sz)
        }
    }

    /// 16-bit saturation (the Recommendation's `add`/`sub` result).
    @inlinable @inline(__always)
    static func sat(_ x: Int32) -> Int32 { min(max(x, -32768), 32767) }

    /// The Recommendation's `mult`: (a * b) >> 15 of two 16-bit values, saturated.
    /// |a|, |b| <= 32768, so the product fits in 32 bits.
    @inlinable @inline(__always)
    static func mult(_ a: Int32, _ b: Int32) -> Int32 { sat((a &* b) >> 15) }

    /// Lower sub-band output (LIMIT block): 15-bit range.
    @inlinable @inline(__always)
    static func limit(_ x: Int32) -> Int32 { min(max(x, -16384), 16383) }

    // MARK: Tables (G.722 clause 6 and its tables 9 to 17)

    /// Magnitudes of the inverse quantizers, in units of 1/8 (the Recommendation's
    /// OQ4, OQ5, OQ6 and OQ2 tables shifted left by 3 when used).
    static let oq4: [Int32] = [0, 150, 323, 530, 786, 1121, 1612, 2557]
    static let oq5: [Int32] = [0, 35, 110, 190, 276, 370, 473, 587, 714, 858, 1023, 1219, 1458, 1765, 2195, 2919]
    static let oq6: [Int32] = [
        0, 17, 54, 91, 130, 170, 211, 254, 300, 347, 396, 447, 501, 558, 618, 682,
        750, 822, 899, 982, 1072, 1170, 1279, 1399, 1535, 1689, 1873, 2088, 2376, 2738, 3101,
    ]
    /// The lower sub-band decision levels of the 6-bit quantizer (Q6).
    static let q6: [Int32] = [
        0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
        786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 3200,
    ]
    /// Log scale factor increments, lower band (WL) by 4-bit magnitude, higher band (WH).
    static let wl: [Int32] = [-60, -30, 58, 172, 334, 538, 1198, 3042]
    static let wh: [Int32] = [0, -214, 798]

    /// Magnitude index of a 4-bit codeword (RIL4) and whether it is negative.
    static func ril4(_ i4: Int) -> (magnitude: Int, negative: Bool) {
        (i4 < 8 ? (i4 == 0 ? 0 : 8 - i4) : (i4 == 15 ? 0 : 15 - i4), i4 != 0 && i4 < 8)
    }

    /// Signed inverse-quantizer multiplier of a 6-bit lower codeword in each mode.
    static func lowerOutput(_ il: Int, mode: Mode) -> Int32 {
        switch mode {
        case .kbit64:
            // RIL6: codes 0-3 and 62-63 are the innermost levels; 4-31 negative, 32-61 positive.
            let (m, negative): (Int, Bool) = switch il {
            case 0...3: (1, true)
            case 4...31: (34 - il, true)
            case 32...61: (62 - il, false)
            case 62: (2, true)
            default: (1, true)
            }
            return (negative ? -1 : 1) * (oq6[m] << 3)
        case .kbit56:
            let i5 = il >> 1
            let (m, negative): (Int, Bool) = switch i5 {
            case 0, 1: (1, true)
            case 2...15: (17 - i5, true)
            case 16...29: (31 - i5, false)
            case 30: (1, false)
            default: (1, true)
            }
            return (negative ? -1 : 1) * (oq5[m] << 3)
        case .kbit48:
            let (m, negative) = ril4(il >> 2)
            return (negative ? -1 : 1) * (oq4[m] << 3)
        }
    }

    /// Everything the sample loops look up, in one array so a loop takes one
    /// pointer: per-mode lower output multipliers, the 4-bit core multipliers,
    /// WL by codeword, the higher band's multipliers and WH, the scale factors
    /// and the QMF coefficients.
    @usableFromInline
    enum Table {
        /// 64 entries per mode (modes 1, 2, 3).
        @usableFromInline static let lowerOutput = 0
        /// 64: the 4-bit core multiplier by 6-bit codeword (INVQAL).
        @usableFromInline static let lowerAdapt = 192
        /// 64: WL by 6-bit codeword (LOGSCL).
        @usableFromInline static let lowerLog = 256
        /// 4: INVQAH by 2-bit codeword.
        @usableFromInline static let higherOutput = 320
        /// 4: WH by 2-bit codeword (LOGSCH).
        @usableFromInline static let higherLog = 324
        /// 353: the scale factor (DET) for NB >> 6 (SCALEL adds 64).
        @usableFromInline static let scale = 328
        /// 12: the QMF coefficients h0, h2, ..., h22; the odd ones are these reversed.
        @usableFromInline static let qmf = 681
        /// 12: the same reversed (h22, h20, ..., h0), so both QMF sums run forwards.
        @usableFromInline static let qmfReversed = 693
        @usableFromInline static let count = 705
    }

    /// The lookup tables, laid out as `Table` says.
    @usableFromInline
    static let tables: [Int32] = {
        var t = [Int32](repeating: 0, count: Table.count)
        for (k, mode) in Mode.allCases.enumerated() {
            for il in 0..<64 { t[Table.lowerOutput + 64 * k + il] = lowerOutput(il, mode: mode) }
        }
        for il in 0..<64 {
            let (m, negative) = ril4(il >> 2)
            t[Table.lowerAdapt + il] = (negative ? -1 : 1) * (oq4[m] << 3)
            t[Table.lowerLog + il] = wl[m]
        }
        // IH: 0 and 1 negative, 2 and 3 positive; 0 and 2 the outer level.
        let oq2: [Int32] = [0, 202, 926]
        for ih in 0..<4 {
            let m = ih & 1 == 0 ? 2 : 1
            t[Table.higherOutput + ih] = (ih < 2 ? -1 : 1) * (oq2[m] << 3)
            t[Table.higherLog + ih] = wh[m]
        }
        // The scale factor is 2^(NB / 2048) in the Recommendation's table ILA:
        // one octave of 32 mantissas, shifted by the octave.
        let mantissa: [Int32] = [
            2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
            2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
        ]
        for i in 0...352 {
            let octave = i >> 5
            let value = octave >= 10 ? mantissa[i & 31] << (octave - 10) : mantissa[i & 31] >> (10 - octave)
            t[Table.scale + i] = value << 2
        }
        let qmf: [Int32] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11]
        for i in 0..<12 {
            t[Table.qmf + i] = qmf[i]
            t[Table.qmfReversed + i] = qmf[11 - i]
        }
        return t
    }()

    /// The scale factors a band starts from (and returns to on reset).
    @usableFromInline static let initialLowerScale: Int32 = 32
    @usableFromInline static let initialHigherScale: Int32 = 8
}
