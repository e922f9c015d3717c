/// The column names of one result, shared by its rows, with an index by name.
public final class SQLColumns: Sendable {
    /// The names, in select order.
    public let names: [String]
    private let index: [String: Int]

    /// Columns named `names` (a later duplicate name does not shadow the first).
    public init(_ names: [String]) {
        self.names = names
        var index: [String: Int] = [:]
        for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
        self.index = index
    }

    /// The position of `name`, or nil.
    public func position(of name: String) -> Int? { index[name] }
}

/// One row of a query's result: typed access to its columns by name.
///
///     let id: String = try row["id"]
///     let caller: String? = try row["caller"]
///
/// A column the query did not select, or a value that is not of the asked
/// type (`NULL` for a non-optional), throws a `CatalogError` naming it.
public struct SQLRow: Sendable {
    /// The result's columns.
    public let columns: SQLColumns
    /// The values, in column order.
    public let values: [SQLValue]

    /// A row of `values` under `columns`.
    public init(columns: SQLColumns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    /// The raw value of `column`.
    public func value(_ column: String) throws -> SQLValue {
        guard let i = columns.position(of: column), i < values.count else {
            throw CatalogError(.database, "catalog query has no column '\(column)' (it has \(columns.names.joined(separator: ", ")))")
        }
        return values[i]
    }

    /// The value of `column` as `T`.
    public subscript<T: SQLValueConvertible>(_ column: String) -> T {
        get throws {
            let raw = try value(column)
            guard let typed = T.fromSQL(raw) else {
                throw CatalogError(.database, "catalog column '\(column)' holds \(raw.kindName), not \(T.self)")
            }
            return typed
        }
    }

    /// The value of the first column as `T`.
    public func first<T: SQLValueConvertible>(as type: T.Type = T.self) throws -> T {
        guard let raw = values.first else { throw CatalogError(.database, "catalog query returned a row without columns") }
        guard let typed = T.fromSQL(raw) else {
            throw CatalogError(.database, "catalog column '\(columns.names[0])' holds \(raw.kindName), not \(T.self)")
        }
        return typed
    }
}
