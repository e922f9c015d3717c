/// What a verifier reads back from a manifest's bytes: the fields the chain
/// and the files are checked against. Unknown fields are ignored.
///
/// Read by one pass over the bytes (`ManifestScanner`), not through
/// `JSONSerialization`: `catalog verify` reads every manifest of the catalog,
/// and building a Foundation dictionary of boxed values per manifest was, with
/// its signature, most of what verifying 100k recordings' chains cost. The
/// scanner reads any JSON text (RFC 8259: whitespace, escapes, fields in any
/// order, nested values it skips) and is stricter than Foundation where a
/// manifest has no business being loose: a key given twice in one object,
/// invalid UTF-8, a number with a fraction or an exponent where an integer
/// belongs, anything after the object, or nesting deeper than
/// `ManifestScanner.maximumDepth` make it nil.
public struct ManifestFacts: Sendable, Equatable {
    public var version: Int
    public var recording: String
    public var recorder: String
    public var sequence: Int64
    public var previousSHA256: String?
    public var files: [RecordingManifest.File]

    /// The facts of `bytes`, or nil when they are not a version-1 manifest.
    public init?(_ bytes: [UInt8]) {
        var version: Int64? = nil
        var recording: String? = nil
        var recorder: String? = nil
        var sequence: Int64? = nil
        var previous: String? = nil
        var files: [RecordingManifest.File]? = nil
        var seen = ManifestScanner.Seen()
        let parsed: Bool = bytes.withUnsafeBufferPointer { buffer in
            var scanner = ManifestScanner(buffer)
            let object = scanner.object { scanner, key in
                guard seen.first(key) else { return false }
                switch key {
                case "v": version = scanner.integer(); return version != nil
                case "recording": recording = scanner.string(); return recording != nil
                case "recorder": recorder = scanner.string(); return recorder != nil
                case "sequence": sequence = scanner.integer(); return sequence != nil
                case "previous_sha256":
                    // Anything but a string (null, for a recorder's first) is no previous manifest.
                    if scanner.peek == UInt8(ascii: "\"") {
                        previous = scanner.string()
                        return previous != nil
                    }
                    previous = nil
                    return scanner.skipValue()
                case "files": files = scanner.files(); return files != nil
                default: return scanner.skipValue()
                }
            }
            return object && scanner.atEnd
        }
        guard parsed, version == 1, let recording, let recorder, let sequence, let files else { return nil }
        self.version = 1
        self.recording = recording
        self.recorder = recorder
        self.sequence = sequence
        previousSHA256 = previous
        self.files = files
    }
}

/// One forward pass over JSON text, reading the values a caller asks for
/// and skipping the rest. Every reader returns nil (or false) on text that
/// is not JSON, leaving the scanner somewhere undefined: the caller gives up.
struct ManifestScanner {
    /// Objects and arrays nested deeper than this are refused (an evidence
    /// bundle's manifest is untrusted input; the skipping recursion is bounded by it).
    static let maximumDepth = 64

    /// The keys of one object read so far. A key given twice makes the
    /// bytes no manifest: readers disagree on which of the two counts (the
    /// first, the last), and a signed text that says two things to two
    /// readers is what a forger would want.
    struct Seen {
        private var keys: [String] = []

        /// Whether `key` is new in this object (and notes it).
        mutating func first(_ key: String) -> Bool {
            if keys.contains(key) { return false }
            keys.append(key)
            return true
        }
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The next byte that is not whitespace, or nil at the end.
    var peek: UInt8? {
        mutating get {
            skipWhitespace()
            return position < bytes.count ? bytes[position] : nil
        }
    }

    /// Whether only whitespace is left.
    var atEnd: Bool {
        mutating get { peek == nil }
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Takes `byte` (after whitespace), or returns false.
    private mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        position += 1
        return true
    }

    /// An object: `field` is called with each key and the scanner before its
    /// value, and must read or skip the value (false: not a manifest).
    mutating func object(_ field: (inout ManifestScanner, String) -> Bool) -> Bool {
        guard depth < Self.maximumDepth, take(UInt8(ascii: "{")) else { return false }
        depth += 1
        defer { depth -= 1 }
        if take(UInt8(ascii: "}")) { return true }
        while true {
            guard let key = string(), take(UInt8(ascii: ":")), field(&self, key) else { return false }
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "}"))
        }
    }

    /// An array: `element` reads each element.
    mutating func array(_ element: (inout ManifestScanner) -> Bool) -> Bool {
        guard depth < Self.maximumDepth, take(UInt8(ascii: "[")) else { return false }
        depth += 1
        defer { depth -= 1 }
        if take(UInt8(ascii: "]")) { return true }
        while true {
            guard element(&self) else { return false }
            if take(UInt8(ascii: ",")) { continue }
            return take(UInt8(ascii: "]"))
        }
    }

    /// `files`: an array of objects, each with a name, a size and a SHA-256.
    mutating func files() -> [RecordingManifest.File]? {
        var files: [RecordingManifest.File] = []
        let read = array { scanner in
            var name: String? = nil
            var size: Int64? = nil
            var sha: String? = nil
            var seen = Seen()
            guard
                scanner.object({ scanner, key in
                    guard seen.first(key) else { return false }
                    switch key {
                    case "name": name = scanner.string(); return name != nil
                    case "bytes": size = scanner.integer(); return size != nil
                    case "sha256": sha = scanner.string(); return sha != nil
                    default: return scanner.skipValue()
                    }
                }), let name, let size, let sha
            else { return false }
            files.append(.init(name: name, bytes: size, sha256: sha))
            return true
        }
        return read ? files : nil
    }

    /// A string, its escapes decoded; nil when the next value is not one, or not valid UTF-8.
    mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = position
        var ascii = true
        // The common case, a string without escapes: its bytes as they are. ASCII needs no
        // validation (and the generic validating initializer cost more than the rest of the scan).
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<position])
                position += 1
                return ascii ? String(decoding: slice, as: UTF8.self) : String(validating: slice, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { return nil }
            if byte >= 0x80 { ascii = false }
            position += 1
        }
        guard position < bytes.count else { return nil }
        var out = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { return nil }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard var unit = hex4() else { return nil }
                    // UTF-16 surrogates come in pairs: \ud83d\ude00 is one scalar (U+1F600).
                    if (0xD800..<0xDC00).contains(unit) {
                        // The next escape right here, not after whitespace: this is inside a string.
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                        else { return nil }
                        position += 2
                        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(unit) else { return nil }
                    out.append(contentsOf: Unicode.UTF8.encode(scalar)!)
                default: return nil
                }
            case 0..<0x20: return nil
            default: out.append(byte)
            }
        }
        return nil
    }

    /// Four hex digits of a `\u` escape.
    private mutating func hex4() -> UInt32? {
        guard position + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            position += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// An integer (`-12`, `0`); nil for anything else, a fraction or an
    /// exponent included, and for one that does not fit in 64 bits.
    mutating func integer() -> Int64? {
        skipWhitespace()
        let negative = position < bytes.count && bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        let start = position
        var magnitude: UInt64 = 0
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[position] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            magnitude = sum
            position += 1
        }
        let digits = position - start
        // JSON has no leading zeros (`01`).
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if position < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[position]) { return nil }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// Skips one value of any kind; false when it is not JSON.
    mutating func skipValue() -> Bool {
        switch peek {
        case UInt8(ascii: "\"")?: return string() != nil
        case UInt8(ascii: "{")?: return object { scanner, _ in scanner.skipValue() }
        case UInt8(ascii: "[")?: return array { scanner in scanner.skipValue() }
        case UInt8(ascii: "t")?: return literal("true")
        case UInt8(ascii: "f")?: return literal("false")
        case UInt8(ascii: "n")?: return literal("null")
        case .some(let byte) where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte): return number()
        default: return false
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        for k in 0..<count where bytes[position + k] != word.utf8Start[k] { return false }
        position += count
        return true
    }

    /// Any JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func number() -> Bool {
        func digits(_ scanner: inout ManifestScanner) -> Int {
            let start = scanner.position
            while scanner.position < scanner.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(scanner.bytes[scanner.position]) {
                scanner.position += 1
            }
            return scanner.position - start
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let start = position
        let whole = digits(&self)
        guard whole > 0, whole == 1 || bytes[start] != UInt8(ascii: "0") else { return false }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { return false }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { return false }
        }
        return true
    }
}
