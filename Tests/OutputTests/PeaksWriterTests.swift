import CallrecTestSupport
import Foundation
import Output
import Testing

/// PeaksWriter on its own: the bytes of both audiowaveform formats, field by
/// field as docs/FORMATS.md and audiowaveform's DataFormat.md give them.
///
/// audiowaveform itself is not in Debian (bookworm has no package of it), so
/// no test reads these files with it; SpeechAndPeaksTests reads a converted
/// call's peaks back with a reader written from the specification.
@Suite struct PeaksWriterTests {
    /// Pixels of two channels with the values where 8-bit truncation and
    /// little-endian order go wrong: the extremes, -1, and both sides of 256.
    static let pixels: [[Int16]] = [
        [0, 0, -1, 1],
        [.min, .max, -256, 256],
        [-255, 255, -257, 257],
        [-12_345, 23_456, -32_767, 32_767],
    ]

    /// What audiowaveform writes for a 16-bit value at 8 bits: divided by 256, truncated toward zero.
    static func eightBit(_ v: Int16) -> Int { Int(v) / 256 }

    /// Writes `pixels` and returns the published file's bytes.
    static func write(_ pixels: [[Int16]], format: PeaksWriter.Format, bits: Int, channels: Int = 2, sampleRate: Int = 8000, samplesPerPixel: Int = 160)
        throws -> [UInt8]
    {
        let directory = FixturePaths.temporaryDirectory("peaks")
        let file = try AtomicFile(directory: directory, name: "call" + format.suffix)
        let writer = try PeaksWriter(file: file, format: format, bits: bits, channels: channels, sampleRate: sampleRate, samplesPerPixel: samplesPerPixel)
        for p in pixels { try p.withUnsafeBufferPointer { try writer.add($0) } }
        #expect(writer.length == pixels.count)
        try writer.finish()
        #expect(!FileManager.default.fileExists(atPath: file.path), "finish leaves the file under its temporary name")
        try file.commit()
        return Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/call" + format.suffix)))
    }

    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: UInt32(truncatingIfNeeded: v) >> (8 * $0)) } }

    @Test(arguments: [16, 8])
    func jsonHasEveryFieldAndTheValues(bits: Int) throws {
        let bytes = try Self.write(Self.pixels, format: .json, bits: bits, sampleRate: 16000, samplesPerPixel: 320)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(object.keys) == ["version", "channels", "sample_rate", "samples_per_pixel", "bits", "data", "length"])
        #expect(object["version"] as? Int == 2)
        #expect(object["channels"] as? Int == 2)
        #expect(object["sample_rate"] as? Int == 16000)
        #expect(object["samples_per_pixel"] as? Int == 320)
        #expect(object["bits"] as? Int == bits)
        #expect(object["length"] as? Int == 4)
        let values = Self.pixels.flatMap { $0 }.map { bits == 8 ? Self.eightBit($0) : Int($0) }
        #expect(object["data"] as? [Int] == values)
        if bits == 8 {
            #expect(Array(values.prefix(8)) == [0, 0, 0, 0, -128, 127, -1, 1])
        }
        #expect(bytes.last == 0x0A, "one line")
    }

    @Test(arguments: [16, 8])
    func datHasTheHeaderAndValuesByteForByte(bits: Int) throws {
        let bytes = try Self.write(Self.pixels, format: .dat, bits: bits, sampleRate: 8000, samplesPerPixel: 160)
        // version 2, flags (bit 0: 8-bit values), sample rate, samples per pixel, length, channels.
        var expected = Self.le32(2) + Self.le32(bits == 8 ? 1 : 0) + Self.le32(8000) + Self.le32(160) + Self.le32(4) + Self.le32(2)
        for v in Self.pixels.flatMap({ $0 }) {
            if bits == 8 {
                expected.append(UInt8(bitPattern: Int8(Self.eightBit(v))))
            } else {
                expected += [UInt8(UInt16(bitPattern: v) & 0xFF), UInt8(UInt16(bitPattern: v) >> 8)]
            }
        }
        #expect(bytes.count == 24 + 4 * 2 * 2 * bits / 8)
        #expect(bytes == expected)
        // Spelled out once: -32768 is 00 80 little-endian, 32767 is ff 7f.
        if bits == 16 { #expect(Array(bytes[32..<36]) == [0x00, 0x80, 0xFF, 0x7F]) }
    }

    /// A long call: the writer drains its buffer many times and writes the
    /// length into the header last, so a length above 255 must come out whole.
    @Test(arguments: PeaksWriter.Format.allCases)
    func aLongCallKeepsItsLengthAndEveryPixel(format: PeaksWriter.Format) throws {
        var random = SeededRandom(seed: 70)
        let pixels = (0..<70_000).map { _ in
            (0..<2).flatMap { _ -> [Int16] in
                let a = Int16(truncatingIfNeeded: Int(random.next() % 65_536) - 32_768)
                let b = Int16(truncatingIfNeeded: Int(random.next() % 65_536) - 32_768)
                return [min(a, b), max(a, b)]
            }
        }
        let bytes = try Self.write(pixels, format: format, bits: 16, samplesPerPixel: 80)
        switch format {
        case .dat:
            // 70000 = 0x00011170.
            #expect(Array(bytes[16..<20]) == [0x70, 0x11, 0x01, 0x00])
            #expect(bytes.count == 24 + 70_000 * 8)
            let values = stride(from: 24, to: bytes.count, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
            #expect(values == pixels.flatMap { $0 })
        case .json:
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(object["length"] as? Int == 70_000)
            #expect(object["data"] as? [Int] == pixels.flatMap { $0 }.map(Int.init))
        }
    }

    @Test(arguments: PeaksWriter.Format.allCases)
    func aCallWithNoAudioIsAnEmptyWaveform(format: PeaksWriter.Format) throws {
        let bytes = try Self.write([], format: format, bits: 8, channels: 1)
        switch format {
        case .dat:
            #expect(bytes == Self.le32(2) + Self.le32(1) + Self.le32(8000) + Self.le32(160) + Self.le32(0) + Self.le32(1))
        case .json:
            #expect(String(decoding: bytes, as: UTF8.self)
                == "{\"version\":2,\"channels\":1,\"sample_rate\":8000,\"samples_per_pixel\":160,\"bits\":8,\"data\":[],\"length\":0}\n")
        }
    }
}
