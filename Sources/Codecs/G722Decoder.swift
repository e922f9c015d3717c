/// Decodes G.722 to 16 kHz 16-bit PCM: two output samples per codeword byte.
/// Bit-exact with the ITU-T STL reference decoder in all three modes.
///
/// The state is plain fields and a fixed QMF history, so a decoder is a
/// value with no allocation: one per leg, kept between packets.
public struct G722Decoder: Sendable {
    /// The bit rate the codewords are read at.
    public let mode: G722.Mode

    @usableFromInline var lower: G722.Band
    @usableFromInline var higher: G722.Band
    /// The receive QMF's delay line: 12 sums (RL + RH) and 12 differences
    /// (RL - RH), each written twice (at k and k + 12) so the 12 newest are
    /// always contiguous; `cursor` is where the newest goes next.
    @usableFromInline var sums: SIMD32<Int32> = .zero
    @usableFromInline var differences: SIMD32<Int32> = .zero
    @usableFromInline var cursor = 0

    /// A decoder in the reset state.
    public init(mode: G722.Mode = .kbit64) {
        self.mode = mode
        lower = G722.Band(det: G722.initialLowerScale)
        higher = G722.Band(det: G722.initialHigherScale)
    }

    /// Returns to the reset state (the STL's reset flag).
    public mutating func reset() {
        self = G722Decoder(mode: mode)
    }

    /// Decodes `payload` (one 8-bit codeword per byte: 2 higher sub-band bits,
    /// 6 lower) into `output`, which should hold `2 * payload.count` samples.
    /// Returns the samples written (two per byte decoded).
    @inlinable
    public mutating func decode(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let n = min(payload.count, output.count / 2)
        guard n > 0 else { return 0 }
        let modeOffset = G722.Table.lowerOutput + 64 * (mode.rawValue - 1)
        var lower = self.lower
        var higher = self.higher
        var cursor = self.cursor
        G722.tables.withUnsafeBufferPointer { table in
            withUnsafeMutableBytes(of: &sums) { sumBytes in
                withUnsafeMutableBytes(of: &differences) { differenceBytes in
                    // SAFETY: both histories are SIMD32<Int32> (32 lanes); cursor < 12, so
                    // cursor + 12 < 32 and the window cursor+1 ... cursor+12 stays inside.
                    // Table offsets are the fixed layout of G722.Table, indexed by 6-bit,
                    // 2-bit or NB >> 6 (<= 352) values.
                    let xs = sumBytes.baseAddress!.assumingMemoryBound(to: Int32.self)
                    let xd = differenceBytes.baseAddress!.assumingMemoryBound(to: Int32.self)
                    let h = table.baseAddress! + G722.Table.qmf
                    let hr = table.baseAddress! + G722.Table.qmfReversed
                    for i in 0..<n {
                        let (rl, rh) = G722Decoder.core(
                            UInt8(truncatingIfNeeded: payload[i]), &lower, &higher, table.baseAddress!, modeOffset)

                        // Receive QMF: newest at the end of the window.
                        cursor = cursor == 11 ? 0 : cursor + 1
                        let d = G722.sat(rl &- rh), s = G722.sat(rl &+ rh)
                        xd[cursor] = d; xd[cursor + 12] = d
                        xs[cursor] = s; xs[cursor + 12] = s
                        // Window x[cursor + 1 + j], j = 0 (oldest) ... 11 (newest):
                        // out1 = sum h[2i] * d(n - i), out2 = sum h[2i + 1] * s(n - i),
                        // with h[2i + 1] = h[22 - 2i].
                        let wd = xd + cursor + 1, ws = xs + cursor + 1
                        var out1: Int32 = 0, out2: Int32 = 0
                        for j in 0..<12 {
                            out1 &+= hr[j] &* wd[j]
                            out2 &+= h[j] &* ws[j]
                        }
                        output[2 * i] = Int16(G722.sat(out1 >> 11))
                        output[2 * i + 1] = Int16(G722.sat(out2 >> 11))
                    }
                }
            }
        }
        self.lower = lower
        self.higher = higher
        self.cursor = cursor
        return 2 * n
    }

    /// The ADPCM core alone, without the QMF, for the G.722 Appendix II
    /// digital test sequences: decodes one codeword (or resets, as the
    /// sequences' reset flag asks) and returns the sub-band outputs RL, RH.
    public mutating func decodeSubbands(_ code: UInt8, reset: Bool) -> (lower: Int16, higher: Int16) {
        if reset {
            self.reset()
            return (0, 0)
        }
        let modeOffset = G722.Table.lowerOutput + 64 * (mode.rawValue - 1)
        let (rl, rh) = G722.tables.withUnsafeBufferPointer { G722Decoder.core(code, &lower, &higher, $0.baseAddress!, modeOffset) }
        return (Int16(rl), Int16(rh))
    }

    /// One codeword through both sub-band decoders: returns RL and RH.
    /// - Parameter modeOffset: where the mode's lower output multipliers start in `table`.
    @inlinable @inline(__always)
    static func core(
        _ code: UInt8, _ lower: inout G722.Band, _ higher: inout G722.Band, _ table: UnsafePointer<Int32>, _ modeOffset: Int
    ) -> (Int32, Int32) {
        let il = Int(code & 0x3F)
        let ih = Int(code >> 6)
        // Lower sub-band: INVQBL (the mode's quantizer) for the output,
        // INVQAL (the 4-bit core) for adaptation, LOGSCL, SCALEL. DET <= 16384
        // and the multipliers <= 24808, so the products need no saturation, and
        // LIMIT's range lies inside 16 bits, so it subsumes RECONS's saturation.
        let dl = (lower.det &* table[modeOffset + il]) >> 15
        let rl = G722.limit(lower.s &+ dl)
        let dlt = (lower.det &* table[G722.Table.lowerAdapt + il]) >> 15
        lower.nb = min(max((lower.nb &* 127) >> 7 &+ table[G722.Table.lowerLog + il], 0), 18432)
        lower.det = table[G722.Table.scale + 64 + Int(lower.nb >> 6)]
        lower.adapt(dlt)
        // Higher sub-band: INVQAH, LOGSCH, SCALEH.
        let dh = (table[G722.Table.higherOutput + ih] &* higher.det) >> 15
        let rh = G722.limit(higher.s &+ dh)
        higher.nb = min(max((higher.nb &* 127) >> 7 &+ table[G722.Table.higherLog + ih], 0), 22528)
        higher.det = table[G722.Table.scale + Int(higher.nb >> 6)]
        higher.adapt(dh)
        return (rl, rh)
    }
}
