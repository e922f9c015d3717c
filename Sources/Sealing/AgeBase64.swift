import Foundation

/// The base64 of age headers: RFC 4648's standard alphabet without `=`
/// padding, and only the canonical encoding of each value (the spec: "decoders
/// MUST reject non-canonical encodings"), so one value has exactly one text
/// and a header cannot be altered without changing its MAC.
///
/// Foundation does the coding; this adds what age asks beyond it: no
/// padding, no other characters, and canonical unused bits (checked by
/// encoding the decoded bytes again and comparing).
enum AgeBase64 {
    /// The unpadded encoding of `bytes`.
    static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.last == "=" { text.removeLast() }
        return text
    }

    /// The bytes of the unpadded, canonical `text`; nil for anything else.
    static func decode<Text: Collection<UInt8>>(_ text: Text) -> [UInt8]? {
        guard text.allSatisfy(isAlphabet), text.count % 4 != 1 else { return nil }
        var padded = Array(text)
        while padded.count % 4 != 0 { padded.append(0x3D) }
        guard let data = Data(base64Encoded: Data(padded)) else { return nil }
        let bytes = [UInt8](data)
        // Canonical: the unused low bits of the last character are zero.
        guard encode(bytes).utf8.elementsEqual(text) else { return nil }
        return bytes
    }

    /// `A-Z a-z 0-9 + /`.
    static func isAlphabet(_ c: UInt8) -> Bool {
        (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x2B || c == 0x2F
    }
}
