import CallrecTestSupport
import Codecs
import Foundation
import Testing

/// G.722 against the ITU-T test material in ../shared/data/g722: the STL
/// full-codec vectors (QMF included) in all three modes, the Appendix II
/// digital test sequences (ADPCM core alone) and libg722's regression
/// checksums. Every byte is compared.
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct G722VectorTests {
    static func bytes(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.shared("g722/" + relative))))
    }

    static func words(_ relative: String) throws -> [UInt16] {
        let data = try bytes(relative)
        return stride(from: 0, to: data.count - 1, by: 2).map { UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8 }
    }

    static func decode(_ codes: [UInt8], mode: G722.Mode) -> [Int16] {
        var decoder = G722Decoder(mode: mode)
        var output = [Int16](repeating: 0, count: codes.count * 2)
        // Packet-sized pieces, as RTP delivers them: state must carry across calls.
        var written = 0
        for start in stride(from: 0, to: codes.count, by: 160) {
            let piece = codes[start..<min(start + 160, codes.count)]
            written += piece.withUnsafeBytes { raw in
                output.withUnsafeMutableBufferPointer { out in
                    decoder.decode(raw, into: UnsafeMutableBufferPointer(rebasing: out[written...]))
                }
            }
        }
        #expect(written == codes.count * 2)
        return output
    }

    static func littleEndianBytes(_ samples: [Int16]) -> [UInt8] {
        samples.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: UInt16(bitPattern: $0) >> 8)] }
    }

    @Test(arguments: [(G722.Mode.kbit64, "outsp1.bin"), (.kbit56, "outsp2.bin"), (.kbit48, "outsp3.bin")])
    func fullCodecDecodesBitExact(mode: G722.Mode, expected: String) throws {
        let codes = try Self.bytes("itu-stl-g722-fullcodec/derived/codsp.natural-order.g722")
        let reference = try Self.bytes("itu-stl-g722-fullcodec/" + expected)
        let decoded = Self.littleEndianBytes(Self.decode(codes, mode: mode))
        #expect(decoded.count == reference.count)
        let first = zip(decoded, reference).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(first == nil, "mode \(mode.rawValue): first differing byte at \(first?.offset ?? -1) of \(reference.count)")
    }

    @Test func fullCodecEncodesBitExact() throws {
        let input = try Self.bytes("itu-stl-g722-fullcodec/inpsp.bin")
        let samples = stride(from: 0, to: input.count - 1, by: 2).map { Int16(bitPattern: UInt16(input[$0]) | UInt16(input[$0 + 1]) << 8) }
        let reference = try Self.bytes("itu-stl-g722-fullcodec/derived/codsp.natural-order.g722")
        var encoder = G722Encoder()
        var codes: [UInt8] = []
        encoder.encode(samples, into: &codes)
        #expect(codes.count == reference.count)
        let first = zip(codes, reference).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(first == nil, "first differing codeword at \(first?.offset ?? -1) of \(reference.count)")
    }

    /// Appendix II sequence 2: 16-bit words, bit 0 = reset, the codeword in the
    /// high byte; outputs are RL, RH shifted left by one (1 on reset).
    @Test(arguments: [(G722.Mode.kbit64, "bt3l2.rc1"), (.kbit56, "bt3l2.rc2"), (.kbit48, "bt3l2.rc3")])
    func adpcmCoreDecodesTheAppendixIISequence(mode: G722.Mode, lowerReference: String) throws {
        let codes = try Self.words("itu-g722-appendixII/bin-le/bt2r2.cod")
        let lowerExpected = try Self.words("itu-g722-appendixII/bin-le/" + lowerReference)
        let higherExpected = try Self.words("itu-g722-appendixII/bin-le/bt3h2.rc0")
        #expect(codes.count == 800 && lowerExpected.count == 800 && higherExpected.count == 800)
        var decoder = G722Decoder(mode: mode)
        var mismatches = 0
        for (k, word) in codes.enumerated() {
            let reset = word & 1 == 1
            let (rl, rh) = decoder.decodeSubbands(UInt8(word >> 8), reset: reset)
            let l = reset ? 1 : UInt16(bitPattern: rl << 1), h = reset ? 1 : UInt16(bitPattern: rh << 1)
            if l != lowerExpected[k] || h != higherExpected[k] { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func adpcmCoreEncodesTheAppendixIISequence() throws {
        let input = try Self.words("itu-g722-appendixII/bin-le/bt1c2.xmt")
        let expected = try Self.words("itu-g722-appendixII/bin-le/bt2r2.cod")
        var encoder = G722Encoder()
        var mismatches = 0
        for (k, word) in input.enumerated() {
            let reset = word & 1 == 1
            let x = Int32(Int16(bitPattern: word) >> 1)
            let code = encoder.encodeSubbands(lower: x, higher: x, reset: reset)
            let got: UInt16 = reset ? 1 : UInt16(code) << 8
            if got != expected[k] { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    /// libg722's `test.checksum`: SHA-256 of the 16 kHz decodes of its vectors.
    @Test(arguments: [
        ("test.g722", "a886f22d37ecd356e1963072bc481ed2c5dd12539428188d9779d33a520f3ff8"),
        ("fullscale.g722", "e70c92cd2068d112839db12bfaa787cc0ea9a809b64fbf62fd78b6041cd9fbcc"),
    ])
    func matchesTheLibg722Checksums(file: String, sha256: String) throws {
        let checksums = String(decoding: try Self.bytes("sippy-libg722/test.checksum"), as: UTF8.self)
        #expect(checksums.contains(sha256), "the checksum in this test is the one libg722 ships")
        let decoded = Self.littleEndianBytes(Self.decode(try Self.bytes("sippy-libg722/" + file), mode: .kbit64))
        #expect(SHA256Sum.hex(decoded) == sha256)
    }
}
