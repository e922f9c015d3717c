import CallrecTestSupport
import Codecs
import Foundation
import Testing

/// G.711 against the ITU-T STL sweep in ../shared/data/g711: every code of
/// both laws must decode exactly as the reference decoder did.
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct G711VectorTests {
    static func words(_ relative: String) throws -> [Int16] {
        let data = try Data(contentsOf: URL(fileURLWithPath: FixturePaths.shared(relative)))
        return stride(from: 0, to: data.count - 1, by: 2).map { Int16(bitPattern: UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8) }
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.shared(relative))))
    }

    @Test(arguments: [
        (G711.Law.ulaw, "g711/derived/sweep-r.u.ulaw-bytes.raw", "g711/sweep-r.reu"),
        (G711.Law.alaw, "g711/derived/sweep-r.a.alaw-bytes.raw", "g711/sweep-r.rea"),
    ])
    func decodesTheSweepBitExact(law: G711.Law, codes: String, expected: String) throws {
        let input = try Self.bytes(codes)
        let reference = try Self.words(expected)
        #expect(input.count == reference.count)
        let decoder = G711Decoder(law: law)
        var output = [Int16](repeating: 0, count: input.count)
        let n = input.withUnsafeBytes { raw in output.withUnsafeMutableBufferPointer { decoder.decode(raw, into: $0) } }
        #expect(n == input.count)
        let mismatches = zip(output, reference).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(mismatches.isEmpty, "first mismatch: \(String(describing: mismatches.first))")
    }

    @Test(arguments: [
        (G711.Law.ulaw, "g711/sweep-r.u"),
        (G711.Law.alaw, "g711/sweep-r.a"),
    ])
    func encodesTheSweepBitExact(law: G711.Law, expectedCodes: String) throws {
        let input = try Self.words("g711/sweep.src")
        // The STL stores each code in the low byte of a 16-bit word.
        let reference = try Self.words(expectedCodes).map { UInt8(truncatingIfNeeded: $0) }
        let encoded = input.map { law == .ulaw ? G711.ulawCompress($0) : G711.alawCompress($0) }
        let mismatches = zip(encoded, reference).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches; first: \(String(describing: mismatches.first)) input \(mismatches.first.map { input[$0.offset] } ?? 0)")
    }

    @Test func everyCodeRoundTrips() {
        for code in 0...255 {
            let u = UInt8(code)
            // u-law 0x7F and 0xFF both decode to 0; the encoder picks 0xFF.
            if u != 0x7F { #expect(G711.ulawCompress(G711.ulawExpand(u)) == u) }
            #expect(G711.alawCompress(G711.alawExpand(u)) == u)
        }
    }
}
