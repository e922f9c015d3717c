import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Testing

@Suite struct CaptureSourceTests {
    func count(_ path: String) throws -> Int {
        let source = try CaptureSource(path: path)
        var n = 0
        try source.forEachPacket { _ in n += 1 }
        return n
    }

    @Test(.enabled(if: FixturePaths.hasSharedData))
    func readsARealCapture() throws {
        // capinfos: 852 packets.
        #expect(try count(FixturePaths.shared("captures/sipnab__sip-rtp-g711.pcap")) == 852)
    }

    @Test func readsNanosecondCaptures() throws {
        var writer = PcapWriter(nanosecond: true)
        writer.append([1, 2, 3], at: MediaTime(nanoseconds: 1_000_000_123))
        let path = try TemporaryFile.write(writer.bytes)
        let source = try CaptureSource(path: path)
        var times: [Int64] = []
        try source.forEachPacket { times.append($0.timestamp.nanoseconds) }
        #expect(times == [1_000_000_123])
    }

    @Test func missingFile() {
        #expect { try CaptureSource(path: "/nonexistent/x.pcap") } throws: { error in
            let e = error as? CaptureError
            return e?.code == .notFound && e?.description == "/nonexistent/x.pcap: no such file"
        }
    }

    @Test func emptyFile() throws {
        let path = try TemporaryFile.write([])
        #expect { try CaptureSource(path: path) } throws: { ($0 as? CaptureError)?.code == .empty }
    }

    @Test func notACapture() throws {
        let path = try TemporaryFile.write(Array("This is a text file, not a capture.\n".utf8), name: "notes.pcap")
        #expect { try CaptureSource(path: path) } throws: { error in
            let e = error as? CaptureError
            return e?.code == .notACapture && e!.description.contains("notes.pcap: not a pcap or pcapng capture")
        }
    }

    @Test func truncatedLastRecordIsCountedWithItsOffset() throws {
        var writer = PcapWriter()
        writer.append([UInt8](repeating: 1, count: 60), at: MediaTime(nanoseconds: 0))
        writer.append([UInt8](repeating: 2, count: 60), at: MediaTime(nanoseconds: 1000))
        let cut = Array(writer.bytes.dropLast(20))
        let path = try TemporaryFile.write(cut)
        let diagnostics = Diagnostics()
        let source = try CaptureSource(path: path, diagnostics: diagnostics)
        var delivered = 0
        try source.forEachPacket { _ in delivered += 1 }
        #expect(delivered == 1)
        #expect(diagnostics[.captureRecordsTruncated] == 1)
        // The second record starts after the 24-byte file header and the first 16 + 60 byte record.
        #expect(diagnostics.notes.first?.contains("at byte 100") == true)
    }
}
