/// A value as it crosses into or out of the catalog's SQL: the five storage
/// classes SQLite has, which PostgreSQL's `bigint`, `double precision`,
/// `text` and `bytea` carry the same way.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// `NULL`, `42`, `1.5`, `'text'`, `x'0a0b'` — for error messages, never for SQL.
    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let v): "'" + v + "'"
        case .blob(let v): "\(v.count)-byte blob"
        }
    }

    /// The name of the kind of value, for decoding errors.
    var kindName: String {
        switch self {
        case .null: "NULL"
        case .integer: "an integer"
        case .real: "a real"
        case .text: "text"
        case .blob: "a blob"
        }
    }
}

/// A Swift type the catalog binds to and reads from SQL.
public protocol SQLValueConvertible {
    /// The value as SQL.
    var sqlValue: SQLValue { get }
    /// The Swift value for `value`, or nil when it is not one (a `NULL` for
    /// a non-optional, text for a number).
    static func fromSQL(_ value: SQLValue) -> Self?
}

extension String: SQLValueConvertible {
    public var sqlValue: SQLValue { .text(self) }
    public static func fromSQL(_ value: SQLValue) -> String? {
        if case .text(let v) = value { return v }
        return nil
    }
}

extension Int64: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(self) }
    public static func fromSQL(_ value: SQLValue) -> Int64? {
        switch value {
        case .integer(let v): return v
        // SQLite keeps an integral value in a REAL column as a real.
        case .real(let v) where v == v.rounded() && abs(v) < 9.2e18: return Int64(v)
        default: return nil
        }
    }
}

extension Int: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(Int64(self)) }
    public static func fromSQL(_ value: SQLValue) -> Int? { Int64.fromSQL(value).map { Int($0) } }
}

extension Double: SQLValueConvertible {
    public var sqlValue: SQLValue { .real(self) }
    public static func fromSQL(_ value: SQLValue) -> Double? {
        switch value {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
}

/// Booleans are stored as the integers 0 and 1 on both backends (one column
/// type, one SQL text: `damaged = 1`).
extension Bool: SQLValueConvertible {
    public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
    public static func fromSQL(_ value: SQLValue) -> Bool? {
        switch value {
        case .integer(let v): return v != 0
        case .real(let v): return v != 0
        default: return nil
        }
    }
}

/// Bytes (wrapped keys, signatures): `BLOB` in SQLite, `bytea` in PostgreSQL.
extension Array: SQLValueConvertible where Element == UInt8 {
    public var sqlValue: SQLValue { .blob(self) }
    public static func fromSQL(_ value: SQLValue) -> [UInt8]? {
        if case .blob(let v) = value { return v }
        return nil
    }
}

extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
    public static func fromSQL(_ value: SQLValue) -> Wrapped?? {
        if case .null = value { return .some(nil) }
        return Wrapped.fromSQL(value).map { .some($0) }
    }
}

extension SQLValue: SQLValueConvertible {
    public var sqlValue: SQLValue { self }
    public static func fromSQL(_ value: SQLValue) -> SQLValue? { value }
}

/// An enum stored as its text.
extension SQLValueConvertible where Self: RawRepresentable, RawValue == String {
    public var sqlValue: SQLValue { .text(rawValue) }
    public static func fromSQL(_ value: SQLValue) -> Self? {
        if case .text(let v) = value { return Self(rawValue: v) }
        return nil
    }
}

/// The values bound to a statement's `?` placeholders, in order. Written as
/// an array literal: `[recording.id, now, nil]`.
public struct SQLArguments: Sendable, ExpressibleByArrayLiteral {
    /// The values, one per `?`.
    public var values: [SQLValue]

    /// Arguments from values.
    public init(_ values: [SQLValue] = []) { self.values = values }

    /// Arguments from Swift values (nil binds `NULL`).
    public init(_ values: [(any SQLValueConvertible)?]) { self.values = values.map { $0?.sqlValue ?? .null } }

    public init(arrayLiteral elements: (any SQLValueConvertible)?...) { self.init(elements) }

    /// Appends one value.
    public mutating func append(_ value: (any SQLValueConvertible)?) { values.append(value?.sqlValue ?? .null) }

    /// These arguments followed by `other`.
    public static func + (lhs: SQLArguments, rhs: SQLArguments) -> SQLArguments { SQLArguments(lhs.values + rhs.values) }

    /// Appends `other`.
    public static func += (lhs: inout SQLArguments, rhs: SQLArguments) { lhs.values += rhs.values }
}
