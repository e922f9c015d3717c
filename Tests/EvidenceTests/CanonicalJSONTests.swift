import Catalog
import Foundation
import Testing

/// The bytes callrec hashes and signs are canonical JSON: parsed back by any
/// JSON reader to the same values, written the same way every time.
@Suite struct CanonicalJSONTests {
    @Test(arguments: ["plain", "quote \" and back\\slash", "line\nbreak\ttab\r\u{8}\u{c}", "nul \u{0} and \u{1f}", "ünïcødé ☎"])
    func stringsRoundTripThroughJSONSerialization(text: String) throws {
        var json = CanonicalJSON()
        json.field("a", text)
        json.field("b", Int64(-7))
        json.field("c", nil as String?)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
        #expect(object["a"] as? String == text)
        #expect((object["b"] as? NSNumber)?.int64Value == -7)
        #expect(object["c"] is NSNull)
    }

    @Test func multilineObjectsPutEachTopLevelFieldOnItsOwnLine() {
        var inner = CanonicalJSON()
        inner.field("x", Int64(1))
        var json = CanonicalJSON(multiline: true)
        json.field("a", "1")
        json.field("b", objects: [inner, inner])
        #expect(String(decoding: json.bytes, as: UTF8.self) == "{\n  \"a\": \"1\",\n  \"b\": [{\"x\":1},{\"x\":1}]\n}\n")
    }
}
