/// A pattern over party numbers (or names): `+4681234567` matches exactly,
/// `+46812*` by prefix, and `*` / `?` anywhere match any run of characters /
/// one character, as SQLite's GLOB does (character classes are not
/// accepted, so the Swift matcher and the SQL agree; PostgreSQL, which has
/// no GLOB, gets the same pattern as a `LIKE` with escapes, see
/// `SQLDialect.globCondition`).
///
/// Patterns reach SQL only as bound parameters; the literal prefix before
/// the first wildcard becomes a range on the indexed column, so a prefix
/// search among a million recordings reads only the matching index entries.
public struct NumberPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String

    /// The longest pattern accepted, in bytes.
    public static let maxLength = 64

    /// Parses `text`; nil when it is empty, too long, holds control
    /// characters or `[` `]` (character classes are not supported).
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= NumberPattern.maxLength else { return nil }
        for scalar in text.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "[" || scalar == "]" {
            return nil
        }
        self.text = text
    }

    /// Parses `text` or throws a `CatalogError` naming what is wrong.
    public static func parse(_ text: String) throws -> NumberPattern {
        guard let pattern = NumberPattern(text) else {
            throw CatalogError(
                .invalid,
                "'\(text)' is not a number pattern (1 to \(maxLength) characters; '*' and '?' are the wildcards; no '[' ']')")
        }
        return pattern
    }

    /// The pattern as written.
    public var description: String { text }

    /// Whether the pattern has no wildcard (an exact number).
    public var isExact: Bool { !text.unicodeScalars.contains { $0 == "*" || $0 == "?" } }

    /// The characters before the first wildcard.
    public var literalPrefix: String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix { $0 != "*" && $0 != "?" }))
    }

    /// Whether the pattern is a literal prefix followed by a single trailing `*`.
    public var isPrefix: Bool {
        let prefix = literalPrefix
        return text.unicodeScalars.count == prefix.unicodeScalars.count + 1 && text.hasSuffix("*")
    }

    /// Whether `value` matches the whole pattern.
    public func matches(_ value: String?) -> Bool {
        guard let value else { return false }
        let p = Array(text.unicodeScalars)
        let s = Array(value.unicodeScalars)
        // Iterative glob with one backtrack point: linear in practice, never exponential.
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count && (p[pi] == "?" || (p[pi] != "*" && p[pi] == s[si])) {
                pi += 1
                si += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// An SQL condition that holds when `column` matches, with its bound
    /// arguments. `column` is one of callrec's own column names, never input.
    func sqlCondition(column: String, dialect: SQLDialect) -> (sql: String, arguments: SQLArguments) {
        if isExact { return ("\(column) = ?", [text]) }
        let prefix = literalPrefix
        var sql = ""
        var arguments: SQLArguments = []
        if let upper = NumberPattern.successor(of: prefix) {
            sql = "\(column) >= ? AND \(column) < ?"
            arguments = [prefix, upper]
        } else {
            sql = "\(column) IS NOT NULL"
        }
        if !isPrefix {
            let glob = dialect.globCondition(column: column, glob: text)
            sql += " AND " + glob.sql
            arguments.append(glob.argument)
        }
        return ("(" + sql + ")", arguments)
    }

    /// The smallest string greater than every string that starts with
    /// `prefix` (its last scalar plus one), or nil for an empty prefix.
    /// UTF-8 byte order is code point order, so this bounds SQLite's BINARY
    /// comparison and PostgreSQL's "C" collation too: `+46812` -> `+46813`.
    static func successor(of prefix: String) -> String? {
        var scalars = Array(prefix.unicodeScalars)
        while let last = scalars.popLast() {
            var next = last.value + 1
            if next == 0xD800 { next = 0xE000 }  // skip the surrogate range
            if let scalar = Unicode.Scalar(next) {
                scalars.append(scalar)
                return String(String.UnicodeScalarView(scalars))
            }
            // U+10FFFF has no successor: carry into the previous scalar.
        }
        return nil
    }
}
