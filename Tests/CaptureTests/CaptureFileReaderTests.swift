import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Testing

@Suite struct CaptureFileReaderTests {
    static let a = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
    static let b = Endpoint(address: IPAddress("192.0.2.2")!, port: 5062)

    /// What a reader delivered: each packet's number, time, link type and bytes.
    struct Read {
        var packets: [(number: Int, time: Int64, link: LinkType, bytes: [UInt8], original: Int)] = []
        var diagnostics = Diagnostics()
        var format: CaptureFormat = .live
        var linkTypes: [LinkType] = []
    }

    /// Reads `bytes` as a pipe would deliver them, `chunk` bytes at a time.
    static func read(_ bytes: [UInt8], chunk: Int = 1 << 16) throws -> Read {
        var result = Read()
        let reader = try CaptureFileReader(bytes: bytes, name: "test.cap", chunk: chunk, diagnostics: result.diagnostics)
        try reader.forEachPacket { p in
            result.packets.append((p.number, p.timestamp.nanoseconds, p.linkType, Array(p.bytes), p.originalLength))
        }
        result.format = reader.format
        result.linkTypes = reader.linkTypes
        return result
    }

    static func frame(_ k: Int) -> [UInt8] {
        PacketBuilder.ethernetUDP(from: a, to: b, payload: [UInt8](repeating: UInt8(k & 0xFF), count: 20 + k))
    }

    static let t0 = MediaTime(seconds: 1_700_000_000, nanoseconds: 123_456_789)

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func pcapInEitherByteOrderAndResolution(nanosecond: Bool, bigEndian: Bool) throws {
        var writer = PcapWriter(nanosecond: nanosecond, bigEndian: bigEndian)
        for k in 0..<5 { writer.append(Self.frame(k), at: Self.t0.advanced(byNanoseconds: Int64(k) * 20_000_000)) }
        let read = try Self.read(writer.bytes)
        #expect(read.format == .pcap(nanosecond: nanosecond, modified: false))
        #expect(read.packets.map(\.number) == [1, 2, 3, 4, 5])
        #expect(read.packets.map(\.bytes) == (0..<5).map(Self.frame))
        // Microsecond files keep microseconds: .123456789 reads back as .123456.
        let fraction: Int64 = nanosecond ? 123_456_789 : 123_456_000
        #expect(read.packets[0].time == 1_700_000_000 * 1_000_000_000 + fraction)
        #expect(read.packets[4].time - read.packets[0].time == 80_000_000)
    }

    @Test func pcapngWithInterfacesOfDifferentLinkTypes() throws {
        // dumpcap -i eth0 -i any -i tun0: Ethernet, Linux SLL and raw IP in one file.
        var w = PcapngWriter()
        let ethernet = w.interface(linkType: 1)
        let sll = w.interface(linkType: 113, resolution: 9)
        let raw = w.interface(linkType: 101, resolution: 0x80 | 20, offsetSeconds: 100)
        let ip = PacketBuilder.ipv4UDP(from: Self.a, to: Self.b, payload: [7, 7])
        let sllFrame = [UInt8](repeating: 0, count: 14) + [0x08, 0x00] + ip
        w.packet(PacketBuilder.ethernet(ip), at: Self.t0, interface: ethernet)
        w.block(0x0000_0BAD, [1, 2, 3, 4, 5])  // a custom block: skipped
        w.block(0x7777, [9, 9, 9, 9])  // a block type no one defined: skipped and counted
        w.packet(sllFrame, at: Self.t0.advanced(byNanoseconds: 1), interface: sll)
        w.block(5, [UInt8](repeating: 0, count: 20))  // interface statistics: skipped
        w.packet(ip, at: Self.t0.advanced(byNanoseconds: 1_000_000), interface: raw)
        let read = try Self.read(w.bytes)
        #expect(read.format == .pcapng)
        #expect(read.linkTypes == [.ethernet, .linuxSLL, .raw])
        #expect(read.packets.map(\.link) == [.ethernet, .linuxSLL, .raw])
        #expect(read.packets.map(\.bytes) == [PacketBuilder.ethernet(ip), sllFrame, ip])
        let base = Self.t0.nanoseconds
        // Microsecond interface: nanoseconds dropped; nanosecond interface: exact;
        // 2^-20 interface with a 100 s offset: within one tick (about 954 ns).
        #expect(read.packets[0].time == base - base % 1000)
        #expect(read.packets[1].time == base + 1)
        #expect(abs(read.packets[2].time - (base + 1_000_000)) < 954)
        #expect(read.diagnostics[.captureBlocksUnknown] == 1)
        #expect(read.diagnostics[.captureRecordsCorrupt] == 0)
    }

    @Test func pcapngSectionsInBothByteOrdersAndOlderPacketBlocks() throws {
        var w = PcapngWriter(bigEndian: true)
        w.interface(linkType: 1)
        w.packet(Self.frame(1), at: Self.t0)
        w.simplePacket(Self.frame(2))
        w.section(bigEndian: false)
        w.interface(linkType: 101)
        w.obsoletePacket(PacketBuilder.ipv4UDP(from: Self.a, to: Self.b, payload: [3]), at: Self.t0.advanced(byNanoseconds: 5_000_000_000))
        let read = try Self.read(w.bytes, chunk: 7)
        #expect(read.packets.map(\.number) == [1, 2, 3])
        #expect(read.packets.map(\.link) == [.ethernet, .ethernet, .raw])
        // The simple packet has no timestamp: it keeps the previous packet's.
        #expect(read.packets[1].time == read.packets[0].time)
        #expect(read.packets[2].time == Self.t0.nanoseconds - Self.t0.nanoseconds % 1000 + 5_000_000_000)
    }

    @Test func snapLengthCutPacketsKeepTheirWireLength() throws {
        var w = PcapngWriter()
        w.interface(linkType: 1)
        w.packet(Self.frame(40), at: Self.t0, capturedLength: 34)
        var p = PcapWriter(snapLength: 34)
        p.append(Self.frame(40), at: Self.t0, capturedLength: 34)
        for bytes in [w.bytes, p.bytes] {
            let read = try Self.read(bytes)
            #expect(read.packets.count == 1)
            #expect(read.packets[0].bytes.count == 34)
            #expect(read.packets[0].original == Self.frame(40).count)
        }
    }

    @Test(arguments: [1, 3, 4096])
    func garbageInTheMiddleOfAPcapIsSkippedAndCounted(chunk: Int) throws {
        var w = PcapWriter()
        for k in 0..<3 { w.append(Self.frame(k), at: Self.t0.advanced(byNanoseconds: Int64(k) * 20_000_000)) }
        let garbageAt = w.bytes.count
        var rng = SeededRandom(seed: 7)
        w.raw((0..<333).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        for k in 3..<6 { w.append(Self.frame(k), at: Self.t0.advanced(byNanoseconds: Int64(k) * 20_000_000)) }
        let read = try Self.read(w.bytes, chunk: chunk)
        #expect(read.packets.map(\.bytes) == (0..<6).map(Self.frame))
        #expect(read.diagnostics[.captureRecordsCorrupt] == 1)
        #expect(read.diagnostics[.captureBytesSkipped] == 333)
        #expect(read.diagnostics.notes.first?.contains("skipped 333 bytes") == true)
        #expect(read.diagnostics.notes.first?.contains("at byte \(garbageAt)") == true)
    }

    @Test func aZeroFilledHoleIsSkipped() throws {
        // A crash can leave preallocated zeros: all-zero "records" are not packets.
        var w = PcapWriter()
        w.append(Self.frame(1), at: Self.t0)
        w.raw([UInt8](repeating: 0, count: 4096))
        w.append(Self.frame(2), at: Self.t0.advanced(byNanoseconds: 20_000_000))
        let read = try Self.read(w.bytes)
        #expect(read.packets.map(\.bytes) == [Self.frame(1), Self.frame(2)])
        #expect(read.diagnostics[.captureBytesSkipped] == 4096)
    }

    @Test func garbageInTheMiddleOfAPcapngIsSkippedAndCounted() throws {
        var w = PcapngWriter()
        w.interface(linkType: 1)
        w.packet(Self.frame(1), at: Self.t0)
        w.raw([0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x00, 0x00, 0x00, 0xFF])  // even looks like a block type at first
        w.packet(Self.frame(2), at: Self.t0)
        // A block whose trailing length disagrees with its leading one.
        var broken = PcapngWriter()
        broken.block(6, [UInt8](repeating: 1, count: 40))
        var bad = Array(broken.bytes.suffix(52))
        bad[bad.count - 4] = 0x99
        w.raw(bad)
        w.packet(Self.frame(3), at: Self.t0)
        let read = try Self.read(w.bytes, chunk: 5)
        #expect(read.packets.map(\.bytes) == [Self.frame(1), Self.frame(2), Self.frame(3)])
        #expect(read.diagnostics[.captureRecordsCorrupt] == 2)
        #expect(read.diagnostics[.captureBytesSkipped] == 9 + 52)
    }

    @Test func garbageClaimingARecordLongerThanTheRestDoesNotEndTheCapture() throws {
        var p = PcapWriter()
        p.append(Self.frame(1), at: Self.t0)
        // A plausible record header claiming 200 000 bytes, with far fewer left.
        p.raw([0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x0D, 0x03, 0, 0x40, 0x0D, 0x03, 0])
        for k in 2...4 { p.append(Self.frame(k), at: Self.t0) }
        var n = PcapngWriter()
        n.interface(linkType: 1)
        n.packet(Self.frame(1), at: Self.t0)
        n.raw([6, 0, 0, 0, 0x40, 0x0D, 0x03, 0])  // an enhanced packet block of 200 000 bytes
        for k in 2...4 { n.packet(Self.frame(k), at: Self.t0) }
        for bytes in [p.bytes, n.bytes] {
            let read = try Self.read(bytes)
            #expect(read.packets.map(\.bytes) == (1...4).map(Self.frame))
            #expect(read.diagnostics[.captureRecordsCorrupt] == 1)
            #expect(read.diagnostics[.captureRecordsTruncated] == 0)
        }
    }

    @Test func aPacketOnAnInterfaceNeverDescribedIsCounted() throws {
        var w = PcapngWriter()
        w.interface(linkType: 1)
        w.packet(Self.frame(1), at: Self.t0, interface: 0)
        w.interface(linkType: 1)
        w.packet(Self.frame(2), at: Self.t0, interface: 1)
        // Interface 2 does not exist.
        var other = PcapngWriter()
        other.interface(linkType: 1)
        other.interface(linkType: 1)
        other.interface(linkType: 1)
        let before = other.bytes.count
        other.packet(Self.frame(3), at: Self.t0, interface: 2)
        w.raw(Array(other.bytes[before...]))
        let read = try Self.read(w.bytes)
        #expect(read.packets.map(\.bytes) == [Self.frame(1), Self.frame(2)])
        #expect(read.diagnostics[.captureRecordsCorrupt] == 1)
    }

    @Test func aPcapngCutInsideItsLastBlockDeliversTheRest() throws {
        var w = PcapngWriter()
        w.interface(linkType: 1)
        w.packet(Self.frame(1), at: Self.t0)
        w.packet(Self.frame(2), at: Self.t0)
        let cut = Array(w.bytes.dropLast(10))
        let read = try Self.read(cut)
        #expect(read.packets.map(\.bytes) == [Self.frame(1)])
        #expect(read.diagnostics[.captureRecordsTruncated] == 1)
    }

    @Test func aCaptureThatEndsInsideARecordHeader() throws {
        var w = PcapWriter()
        w.append(Self.frame(1), at: Self.t0)
        w.raw([1, 2, 3, 4, 5, 6])
        let read = try Self.read(w.bytes)
        #expect(read.packets.count == 1)
        #expect(read.diagnostics[.captureRecordsTruncated] == 1)
    }

    /// Inputs that cannot be read at all: one clear error, with the byte offset.
    @Test(arguments: [
        ([UInt8](), CaptureError.Code.empty, "empty file, not a capture"),
        ([0xD4, 0xC3], .truncated, "capture ends inside its file header (at byte 2)"),
        ([0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0], .truncated, "capture ends inside its 24-byte file header (at byte 10)"),
        (Array("Call-ID: not a capture\n".utf8), .notACapture, "not a pcap or pcapng capture (unknown magic number) (at byte 0)"),
        ([0x1F, 0x8B, 8, 0, 0, 0, 0, 0], .notACapture, "gzip-compressed"),
        ([0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 1, 2, 3, 4], .corrupt, "no valid byte-order magic (at byte 8)"),
        ([0xD4, 0xC3, 0xB2, 0xA1, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 16), .corrupt, "pcap version 1.0 is not supported (at byte 4)"),
    ])
    func unreadableInputs(bytes: [UInt8], code: CaptureError.Code, message: String) {
        #expect {
            _ = try CaptureFileReader(bytes: bytes, name: "bad.cap", diagnostics: Diagnostics())
        } throws: { error in
            let e = error as? CaptureError
            return e?.code == code && e!.description.hasPrefix("bad.cap: ") && e!.description.contains(message)
        }
    }

    @Test func anUnsupportedSectionVersionStopsWithItsOffset() throws {
        var w = PcapngWriter()
        w.interface(linkType: 1)
        w.packet(Self.frame(1), at: Self.t0)
        let sectionAt = w.bytes.count
        w.sectionOfUnknownVersion(major: 2)
        let reader = try CaptureFileReader(bytes: w.bytes, name: "future.pcapng", diagnostics: Diagnostics())
        var delivered = 0
        #expect {
            try reader.forEachPacket { _ in delivered += 1 }
        } throws: { error in
            let e = error as? CaptureError
            return e?.code == .corrupt && e?.fileOffset == Int64(sectionAt) && e?.packetsRead == 1
        }
        #expect(delivered == 1)
    }

    @Test(arguments: TsharkReference.files)
    func readsEverySharedCaptureAsCapinfosCountsIt(file: String) throws {
        let reference = try #require(TsharkReference.load()?.capture(file))
        let read = try Self.read(Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.shared("captures/" + file)))), chunk: 4093)
        #expect(read.packets.count == reference.packets)
        #expect(read.diagnostics.nonZero.isEmpty, "\(read.diagnostics.nonZero)")
    }

    @Test func aFilterKeepsOnlyMatchingPackets() throws {
        let path = FixturePaths.fixture("g711u-2legs-20ms.pcap")
        let diagnostics = Diagnostics()
        let source = try CaptureSource(path: path, filter: "udp port 5060", diagnostics: diagnostics)
        var kept = 0
        try source.forEachPacket { _ in kept += 1 }
        // INVITE, 100, 180, 200, ACK, BYE, 200: the 600 RTP packets are filtered out.
        #expect(kept == 7)
        #expect(diagnostics[.capturePacketsFiltered] == 600)
        #expect(source.packetsRead == 607)
    }

    @Test func aBadFilterIsOneClearError() {
        #expect {
            try CaptureSource(path: FixturePaths.fixture("g711u-2legs-20ms.pcap"), filter: "udp port banana")
        } throws: { error in
            let e = error as? CaptureError
            return e?.code == .filter && e!.description.contains("invalid --filter 'udp port banana'")
        }
    }
}
