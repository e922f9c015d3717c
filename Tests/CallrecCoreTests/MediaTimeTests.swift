import CallrecCore
import Testing

@Suite struct MediaTimeTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z", "19700101T000000Z"),
        (Int64(1_480_171_979_666_393_000), "2016-11-26T14:52:59.666Z", "20161126T145259Z"),
        (Int64(951_782_400_000_000_000), "2000-02-29T00:00:00.000Z", "20000229T000000Z"),
        (Int64(-1_000_000), "1969-12-31T23:59:59.999Z", "19691231T235959Z"),
    ])
    func formatsUTC(nanoseconds: Int64, iso: String, compact: String) {
        let t = MediaTime(nanoseconds: nanoseconds)
        #expect(t.iso8601 == iso)
        #expect(t.compactUTC == compact)
    }

    @Test func samplesBetweenTimes() {
        let origin = MediaTime(seconds: 100, microseconds: 0)
        #expect(MediaTime(seconds: 101, microseconds: 0).samples(since: origin, rate: 8000) == 8000)
        #expect(MediaTime(seconds: 100, microseconds: 20_000).samples(since: origin, rate: 16000) == 320)
        #expect(MediaTime(seconds: 99, microseconds: 500_000).samples(since: origin, rate: 8000) == -4000)
    }
}

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("10.0.2.15", "10.0.2.15"),
        ("2001:db8::1", "2001:db8::1"),
        ("::1", "::1"),
        ("fe80:0:0:0:0:0:0:5", "fe80::5"),
        ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
    ])
    func parsesAndPrints(text: String, printed: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == printed)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", "2001:db8::1::2", "12345::", "g::1", "1.2.3.4 ", ":::"])
    func rejectsMalformed(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4EqualsItsMappedForm() {
        #expect(IPAddress("192.0.2.1") == IPAddress("::ffff:192.0.2.1"))
        #expect(IPAddress("192.0.2.1")?.isIPv4 == true)
        #expect(Endpoint(address: IPAddress("2001:db8::1")!, port: 5060).description == "[2001:db8::1]:5060")
    }
}

@Suite struct DiagnosticsTests {
    @Test func countsAndBoundsNotes() {
        let d = Diagnostics()
        d.count(.rtpLate)
        d.count(.rtpLate, by: 2)
        #expect(d[.rtpLate] == 3)
        for k in 0..<(Diagnostics.maxNotes + 5) { d.note("note \(k)") }
        #expect(d.notes.count == Diagnostics.maxNotes)
        #expect(d.notesDropped == 5)
        #expect(d.nonZero.map(\.0) == [.rtpLate])
    }

    @Test func stableHashIsFNV1a() {
        // Reference values of the FNV-1a specification.
        #expect(StableHash.fnv1a32("".utf8) == 0x811C_9DC5)
        #expect(StableHash.fnv1a32("a".utf8) == 0xE40C_292C)
        #expect(StableHash.fnv1a32("foobar".utf8) == 0xBF9C_F968)
        #expect(StableHash.hex(UInt32(0xAB), digits: 8) == "000000ab")
    }
}
