import CallrecCore
import Foundation
import Testing

/// The one ISO 8601 formatter and parser: what Foundation's ISO8601DateFormatter
/// gives and reads for the same instants, across leap days, centuries and
/// before 1970, and nothing for text that is not an RFC 3339 date-time.
@Suite struct ISO8601TimeTests {
    static let fixed: [Double] = [
        0, -1, -2_209_075_200, 951_782_400, 4_107_542_399, 1_764_404_130.12, 1_796_688_000, 253_402_300_799,
    ]
    /// 1938 to 2032 every half year and a bit, so every month and leap day come round.
    static let instants: [Double] = fixed + (0..<200).map { (k: Int) -> Double in Double(k) * 15_778_463.7 - 1e9 }

    @Test func formatsAsFoundationDoes() {
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime]
        for epoch in Self.instants {
            #expect(ISO8601Time.seconds(epoch) == foundation.string(from: Date(timeIntervalSince1970: epoch.rounded(.down))), "\(epoch)")
        }
        #expect(ISO8601Time.seconds(1_764_404_130.999) == "2025-11-29T08:15:30Z")
        #expect(MediaTime(nanoseconds: 1_764_404_130_120_000_000).iso8601 == "2025-11-29T08:15:30.120Z")
        #expect(MediaTime(nanoseconds: -1_000_000).iso8601 == "1969-12-31T23:59:59.999Z")
    }

    @Test func parsesWhatItWritesAndWhatFoundationReads() throws {
        for epoch in Self.instants {
            let whole = epoch.rounded(.down)
            #expect(ISO8601Time.parse(ISO8601Time.seconds(epoch)) == whole)
        }
        let withMillis = try #require(ISO8601Time.parse("2025-11-29T08:15:30.120Z"))
        #expect(abs(withMillis - 1_764_404_130.12) < 1e-6)
        #expect(ISO8601Time.parse("2025-11-29T09:15:30+01:00") == 1_764_404_130)
        #expect(ISO8601Time.parse("2025-11-29T03:45:30-04:30") == 1_764_404_130)
        #expect(ISO8601Time.parse("2024-02-29T00:00:00Z") == 1_709_164_800)
    }

    @Test(arguments: [
        "", "2025-11-29", "2025-11-29T08:15:30", "2025-11-29T08:15:30ZZ", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "2025-11-31T00:00:00Z", "2025-11-29T24:00:00Z", "2025-11-29T08:60:00Z", "2025-11-29T08:15:30.Z", "２０２５-11-29T08:15:30Z",
        "2025-11-29T08:15:30+1:00", "2025-11-29 08:15:30Z", String(repeating: "9", count: 4096),
    ])
    func refusesWhatIsNotADateTime(_ text: String) {
        #expect(ISO8601Time.parse(text) == nil)
    }
}
