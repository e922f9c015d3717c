/// The exact bytes of a record callrec hashes or signs (an audit row, a
/// manifest, a checkpoint): a JSON object whose keys the writer gives in
/// ascending byte order, each once, with strings escaped as RFC 8259 requires
/// and nothing more (`"` and `\` with a backslash, control characters below
/// U+0020 as `\n`, `\t`, ... or `\u00XX`; every other character as its UTF-8
/// bytes), integers in decimal, `null` for absent values. The bytes are
/// stored and hashed as written, so a reader never has to re-encode a record
/// to check it: it hashes the bytes it was given. docs/FORMATS.md, "Signed
/// and chained records".
///
/// `multiline` puts each top-level field on its own line (two spaces in, a
/// newline at the end) so that a person can read a manifest in any editor;
/// nested values are always on one line.
public struct CanonicalJSON {
    private var buffer: [UInt8]
    private var count = 0
    private let multiline: Bool
    #if DEBUG
    private var lastKey: String? = nil
    #endif

    /// An empty object.
    public init(multiline: Bool = false) {
        self.multiline = multiline
        buffer = [UInt8(ascii: "{")]
        buffer.reserveCapacity(256)
    }

    private mutating func key(_ name: String) {
        #if DEBUG
        if let lastKey { precondition(lastKey.utf8.lexicographicallyPrecedes(name.utf8), "canonical JSON keys out of order: \(lastKey), \(name)") }
        lastKey = name
        #endif
        if multiline {
            buffer.append(contentsOf: count == 0 ? "\n  ".utf8 : ",\n  ".utf8)
        } else if count > 0 {
            buffer.append(UInt8(ascii: ","))
        }
        count += 1
        Self.appendString(name, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        if multiline { buffer.append(UInt8(ascii: " ")) }
    }

    /// `"name": "value"`, or `null`.
    public mutating func field(_ name: String, _ value: String?) {
        key(name)
        if let value { Self.appendString(value, to: &buffer) } else { buffer.append(contentsOf: "null".utf8) }
    }

    /// `"name": 42`, or `null`.
    public mutating func field(_ name: String, _ value: Int64?) {
        key(name)
        buffer.append(contentsOf: (value.map { String($0) } ?? "null").utf8)
    }

    /// `"name": 42`.
    public mutating func field(_ name: String, _ value: Int) { field(name, Int64(value)) }

    /// `"name": true` or `false`.
    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        buffer.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// `"name": {...}`: a nested object (written on one line), or `null`.
    public mutating func field(_ name: String, object: CanonicalJSON?) {
        key(name)
        if let object { buffer += object.closed(newline: false) } else { buffer.append(contentsOf: "null".utf8) }
    }

    /// `"name": [{...}, ...]`: nested objects on one line.
    public mutating func field(_ name: String, objects: [CanonicalJSON]) {
        key(name)
        buffer.append(UInt8(ascii: "["))
        for (i, object) in objects.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer += object.closed(newline: false)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// `"name": [1, 2]`.
    public mutating func field(_ name: String, integers: [Int64]) {
        key(name)
        buffer += Array(("[" + integers.map { String($0) }.joined(separator: ",") + "]").utf8)
    }

    /// The object's bytes: closed, with a final newline when `multiline`.
    public var bytes: [UInt8] { closed(newline: multiline) }

    private func closed(newline: Bool) -> [UInt8] {
        var out = buffer
        if multiline && count > 0 { out.append(UInt8(ascii: "\n")) }
        out.append(UInt8(ascii: "}"))
        if newline { out.append(UInt8(ascii: "\n")) }
        return out
    }

    /// Appends `text` as a JSON string.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (keys, hashes, ids) need no escape: their bytes in one copy.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: text.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        func hex(_ digit: UInt8) -> UInt8 { digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10 }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0..<0x20: out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex(byte >> 4), hex(byte & 0xF)]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
