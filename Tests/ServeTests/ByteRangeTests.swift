import Serve
import Testing

/// `Range` headers against a file's size (RFC 9110 §14): one range or the whole file, 416 for a range past
/// the end or a malformed one.
@Suite struct ByteRangeTests {
    @Test func oneRangeOfBytes() {
        #expect(ByteRangeRequest(header: nil, size: 100) == .whole)
        #expect(ByteRangeRequest(header: "bytes=0-9", size: 100) == .range(0...9))
        #expect(ByteRangeRequest(header: "bytes=90-", size: 100) == .range(90...99))
        #expect(ByteRangeRequest(header: "bytes=-10", size: 100) == .range(90...99))
        #expect(ByteRangeRequest(header: "bytes=-1000", size: 100) == .range(0...99))
        #expect(ByteRangeRequest(header: "bytes=50-5000", size: 100) == .range(50...99))
        #expect(ByteRangeRequest(header: "bytes=99-99", size: 100) == .range(99...99))
        // The unit without regard to case (RFC 9110 §14.1).
        #expect(ByteRangeRequest(header: "Bytes=0-9", size: 100) == .range(0...9))
        #expect(ByteRangeRequest(header: "BYTES=-10", size: 100) == .range(90...99))
    }

    @Test func anotherUnitOrSeveralRangesGetTheWholeFile() {
        // §14.2: a Range in a unit the server does not understand MUST be ignored; several
        // ranges (multipart/byteranges, not offered) may be.
        for header in ["bits=0-1", "items=0-10", "bytes=0-1,3-4", "bytes=0-1, 3-4"] {
            #expect(ByteRangeRequest(header: header, size: 100) == .whole, "\(header)")
        }
    }

    @Test func aRangePastTheEndOrMalformedIsUnsatisfiable() {
        for header in [
            "bytes=100-", "bytes=100-200", "bytes=5-4", "bytes=-0", "bytes=", "bytes=-", "bytes=a-b", "bytes= 0-1",
            "bytes=+1-2", "bytes=0x10-", "bytes=1-2-3", "bytes=99999999999999999999-", "=0-1", "by tes=0-1", "0-1", "bytes",
            "b\u{e9}tes=0-1",
            "bytes=0-" + String(repeating: "9", count: 100),
        ] {
            #expect(ByteRangeRequest(header: header, size: 100) == .unsatisfiable, "\(header)")
        }
        // An empty file has no byte to give.
        #expect(ByteRangeRequest(header: "bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=-1", size: 0) == .unsatisfiable)
    }
}
