import Catalog
import CallrecTestSupport
import Testing

@Suite struct NumberPatternTests {
    @Test(arguments: [
        ("+4681234567", "+4681234567", true),
        ("+4681234567", "+46812345678", false),
        ("+46812*", "+4681234567", true),
        ("+46812*", "+46813", false),
        ("+46812*", "+46812", true),
        ("*4567", "+4681234567", true),
        ("*4567", "+4681234568", false),
        ("+46?1*", "+4681234567", true),
        ("+46?1*", "+464", false),
        ("+46*12*67", "+4681234567", true),
        ("*", "", true),
        ("a*b*c", "aXbYbZc", true),
        ("a*b*c", "aXbYcZ", false),
        ("sip?", "sipp", true),
    ])
    func globMatchesLikeSQLite(pattern: String, value: String, expected: Bool) throws {
        let p = try #require(NumberPattern(pattern))
        #expect(p.matches(value) == expected)
    }

    @Test(arguments: ["", "+46[0-9]*", "a\u{1}b", String(repeating: "1", count: 65)])
    func rejectsWhatItCannotMatchTheSameWayInSQL(text: String) {
        #expect(NumberPattern(text) == nil)
        #expect(throws: CatalogError.self) { try NumberPattern.parse(text) }
    }

    @Test func classifiesExactPrefixAndPattern() throws {
        #expect(try NumberPattern.parse("+4681").isExact)
        #expect(try NumberPattern.parse("+4681*").isPrefix)
        #expect(try !NumberPattern.parse("+46*1").isPrefix)
        #expect(try NumberPattern.parse("+46*1").literalPrefix == "+46")
    }

    /// The SQL condition selects exactly what the Swift matcher matches, over
    /// numbers that sit on the edges of each prefix range — and, on
    /// PostgreSQL, where GLOB becomes LIKE, over the characters LIKE treats
    /// specially (`%`, `_`, `\`) and case.
    @Test(arguments: CatalogBackend.all)
    func sqlAgreesWithSwift(backend: CatalogBackend) throws {
        let store = try CatalogFixtures.store(backend)
        let numbers = [
            "+46812", "+468120", "+4681299", "+46813", "+4681", "+4670123", "+46\u{10FFFF}x", "alice", "Alice", "+46812\u{10FFFF}", nil,
            "50%off", "50Xoff", "a_b", "aXb", "a\\b", "a\\\\b", "sip:100@pbx", "ÅÄÖ", "Åland",
        ]
        for (i, number) in numbers.enumerated() {
            try store.save(CatalogFixtures.recording("r\(i)", caller: number, callee: "+1555000\(i)", start: Double(i)))
        }
        for text in [
            "+46812", "+46812*", "+4681?9*", "*3", "+46*", "+46\u{10FFFF}*", "al*", "+46812\u{10FFFF}*", "*%*", "50%*", "*_*", "a_*",
            "a?b", "*\\*", "a\\*", "A*", "*ice", "?lice", "sip:*@pbx", "?land", "Å*", "*Ö",
        ] {
            let pattern = try NumberPattern.parse(text)
            var query = RecordingQuery(limit: 100)
            query.caller = pattern
            let found = Set(try store.find(query, by: .operator("test"), at: 0).recordings.map(\.id))
            let expected = Set(numbers.enumerated().filter { pattern.matches($0.element) }.map { "r\($0.offset)" })
            #expect(found == expected, "pattern \(text)")
        }
    }
}
