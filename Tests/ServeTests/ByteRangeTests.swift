import Serve
import Testing

/// `Range` headers against a file's size (RFC 9110 §14): one range or the whole file, 416 for everything else.
@Suite struct ByteRangeTests {
    @Test func oneRangeOfBytes() {
        #expect(ByteRangeRequest(header: nil, size: 100) == .whole)
        #expect(ByteRangeRequest(header: "bytes=0-9", size: 100) == .range(0...9))
        #expect(ByteRangeRequest(header: "bytes=90-", size: 100) == .range(90...99))
        #expect(ByteRangeRequest(header: "bytes=-10", size: 100) == .range(90...99))
        #expect(ByteRangeRequest(header: "bytes=-1000", size: 100) == .range(0...99))
        #expect(ByteRangeRequest(header: "bytes=50-5000", size: 100) == .range(50...99))
        #expect(ByteRangeRequest(header: "bytes=99-99", size: 100) == .range(99...99))
    }

    @Test func everythingElseIsUnsatisfiable() {
        for header in [
            "bytes=100-", "bytes=100-200", "bytes=5-4", "bytes=-0", "bytes=", "bytes=-", "bytes=a-b", "bytes= 0-1", "bytes=0-1,3-4",
            "bits=0-1", "Bytes=0-1", "bytes=+1-2", "bytes=0x10-", "bytes=1-2-3", "bytes=99999999999999999999-",
            "bytes=0-" + String(repeating: "9", count: 100),
        ] {
            #expect(ByteRangeRequest(header: header, size: 100) == .unsatisfiable, "\(header)")
        }
        // An empty file has no byte to give.
        #expect(ByteRangeRequest(header: "bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRangeRequest(header: "bytes=-1", size: 0) == .unsatisfiable)
    }
}
