import Sealing
import Testing

/// Bech32 as BIP 173 specifies it, with age's one change: no length limit.
@Suite struct Bech32Tests {
    /// BIP 173's valid checksums: each decodes, encodes back to itself, and
    /// fails once one data character is changed.
    @Test(arguments: [
        "A12UEL5L",
        "a12uel5l",
        "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        "?1ezyfcl",
    ])
    func validChecksum(_ text: String) throws {
        let (hrp, data) = try Bech32.decode(text)
        #expect(try Bech32.encode(hrp: hrp, data: data) == text)
        // Change the first data character to its neighbour in the alphabet: the checksum catches it.
        var characters = Array(text)
        let separator = characters.lastIndex(of: "1")!
        let alphabet = Array(text == text.uppercased() ? "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" : "qpzry9x8gf2tvdw0s3jn54khce6mua7l")
        let position = separator + 1
        let i = alphabet.firstIndex(of: characters[position])!
        characters[position] = alphabet[(i + 1) % 32]
        #expect(throws: SealingError.self) { try Bech32.decode(String(characters)) }
    }

    /// BIP 173's invalid strings, each for its stated reason.
    @Test(arguments: [
        ("\u{20}1nwldj5", "HRP character out of range"),
        ("\u{7F}1axkwrx", "HRP character out of range"),
        ("\u{80}1eym55h", "HRP character out of range"),
        ("pzry9x0s0muk", "no separator character"),
        ("1pzry9x0s0muk", "empty HRP"),
        ("x1b4n0q5v", "invalid data character"),
        ("li1dgmt3", "too short checksum"),
        ("de1lg7wt\u{FF}", "invalid character in checksum"),
        ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
        ("10a06t8", "empty HRP"),
        ("1qzzfhee", "empty HRP"),
        ("A12uEL5L", "mixed case"),
    ])
    func invalid(_ text: String, _ reason: String) {
        #expect(throws: SealingError.self, "\(reason)") { try Bech32.decode(text) }
    }

    /// BIP 173 limits strings to 90 characters; age does not (its hybrid
    /// recipients are 1,900 long), so the over-long vector decodes here.
    @Test func noLengthLimit() throws {
        let text = "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx"
        let (hrp, data) = try Bech32.decode(text)
        #expect(hrp.count == 84 && data.isEmpty)
        let long = try Bech32.encode(hrp: "age", data: [UInt8](repeating: 0xA5, count: 1200))
        #expect(long.count > 1900)
        #expect(try Bech32.decode(long).data == [UInt8](repeating: 0xA5, count: 1200))
    }

    /// The data part of BIP 173's "abcdef" vector is the whole alphabet in
    /// order, the 5-bit values 0...31: 160 bits, regrouped into these 20 bytes.
    @Test func regroupsBits() throws {
        let (hrp, data) = try Bech32.decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw")
        #expect(hrp == "abcdef")
        let hex = data.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex == "00443214c74254b635cf84653a56d7c675be77df")
    }

    /// The age specification's own example key pair: the identity decodes,
    /// its public key is the recipient the spec prints, both encode back.
    @Test func ageSpecificationExample() throws {
        let identity = try X25519Identity("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
        #expect(identity.recipient.description == "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj")
        #expect(identity.secretKeyText == "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
        #expect(try X25519Recipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj") == identity.recipient)
    }

    @Test func keysOfTheWrongKindAreRefused() {
        #expect(throws: SealingError.self) { try X25519Recipient("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX") }
        #expect(throws: SealingError.self) { try X25519Identity("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj") }
        #expect(throws: SealingError.self) { try X25519Recipient("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwq") }
    }
}
