import Catalog
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A transaction's view of a PostgreSQL connection: the catalog's `?`
/// placeholders numbered `$1, $2, ...`, values bound in PostgreSQL's binary
/// format, rows read back as `SQLRow`. Each call waits for its result on
/// the calling thread (see `PostgresCatalogDatabase`).
struct PostgresSQL: SQLConnection {
    let connection: PostgresConnection

    var dialect: SQLDialect { .postgres }

    private static let logger = Logger(label: "callrec.catalog.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    func execute(sql: String, arguments: SQLArguments) throws -> Int {
        try run(sql, arguments).metadata.rows ?? 0
    }

    func query(sql: String, arguments: SQLArguments) throws -> [SQLRow] {
        let result = try run(sql, arguments)
        guard let first = result.rows.first else { return [] }
        let columns = SQLColumns(first.map(\.columnName))
        return try result.rows.map { row in SQLRow(columns: columns, values: try row.map(Self.value)) }
    }

    /// `COPY table (columns) FROM STDIN`, the rows streamed in PostgreSQL's
    /// text format in chunks of about 256 KiB: PostgreSQL's own bulk load,
    /// several times faster than multi-row INSERTs (the CatalogFind
    /// benchmark measures both), with nothing bound or parsed per row. Runs
    /// inside the transaction like any statement.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        let connection = self.connection
        do {
            try EventLoopBridge.run(on: connection.eventLoop) {
                try await connection.copyFrom(table: table, columns: columns, logger: Self.logger) { writer in
                    var buffer = ByteBuffer()
                    buffer.reserveCapacity(Self.copyChunk + 4096)
                    for row in rows {
                        precondition(row.count == columns.count, "a bulk-insert row has \(row.count) values for \(columns.count) columns")
                        Self.appendCopyRow(row, to: &buffer)
                        if buffer.readableBytes >= Self.copyChunk {
                            try await writer.write(buffer)
                            buffer.clear()
                        }
                    }
                    if buffer.readableBytes > 0 { try await writer.write(buffer) }
                }
            }
        } catch {
            throw PostgresFailure(error)
        }
    }

    /// How many bytes of COPY data go in one message.
    static let copyChunk = 256 * 1024

    /// One row in COPY's text format: values separated by tabs, `\N` for
    /// NULL, a newline at the end; in text, a backslash, tab, newline or
    /// carriage return is escaped with a backslash; bytes as `\\x` + hex (the
    /// bytea input syntax, its backslash escaped for COPY).
    static func appendCopyRow(_ row: [SQLValue], to buffer: inout ByteBuffer) {
        for (i, value) in row.enumerated() {
            if i > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
            switch value {
            case .null: buffer.writeStaticString("\\N")
            case .integer(let v): buffer.writeString(String(v))
            case .real(let v):
                // Swift prints the shortest text that reads back as the same double.
                if v.isNaN {
                    buffer.writeStaticString("NaN")
                } else if v.isInfinite {
                    buffer.writeStaticString(v < 0 ? "-Infinity" : "Infinity")
                } else {
                    buffer.writeString(v.description)
                }
            case .text(let v):
                for byte in v.utf8 {
                    switch byte {
                    case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                    case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                    case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                    case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                    default: buffer.writeInteger(byte)
                    }
                }
            case .blob(let v):
                buffer.writeStaticString("\\\\x")
                let hex: StaticString = "0123456789abcdef"
                hex.withUTF8Buffer { digits in
                    for byte in v {
                        buffer.writeInteger(digits[Int(byte >> 4)])
                        buffer.writeInteger(digits[Int(byte & 0x0f)])
                    }
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }

    /// Runs `sql` with `arguments` and waits for the whole result.
    @discardableResult
    func run(_ sql: String, _ arguments: SQLArguments = []) throws -> PostgresQueryResult {
        var binds = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            switch value {
            case .null: binds.appendNull()
            case .integer(let v): binds.append(v)
            case .real(let v): binds.append(v)
            case .text(let v): binds.append(v)
            case .blob(let v): binds.append(ByteBuffer(bytes: v))
            }
        }
        let query = PostgresQuery(unsafeSQL: Self.numberingPlaceholders(sql), binds: binds)
        do {
            return try EventLoopBridge.wait(connection.query(query, logger: Self.logger))
        } catch {
            throw PostgresFailure(error)
        }
    }

    /// A cell as a catalog value: PostgreSQL's integer, floating point, text,
    /// boolean and bytea types map onto the five SQLite storage classes.
    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .float4, .float8: return .real(try cell.decode(Double.self))
            case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
            case .bytea: return .blob(Array(buffer: try cell.decode(ByteBuffer.self)))
            case .numeric:
                let text = "\(try cell.decode(Decimal.self))"
                if let integer = Int64(text) { return .integer(integer) }
                return .real(Double(text) ?? .nan)
            default: return .text(try cell.decode(String.self))
            }
        } catch {
            throw CatalogError(.database, "catalog column '\(cell.columnName)': cannot read PostgreSQL type \(cell.dataType)")
        }
    }

    /// `SELECT * FROM t WHERE a = ? AND b = '?'` → `... a = $1 AND b = '?'`:
    /// every `?` outside string literals, quoted names, dollar-quoted bodies
    /// and comments becomes the next `$n`.
    static func numberingPlaceholders(_ sql: String) -> String {
        let bytes = Array(sql.utf8)
        guard bytes.contains(UInt8(ascii: "?")) else { return sql }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var n = 0
        var i = 0
        func copy(until end: Int) {
            out.append(contentsOf: bytes[i..<min(end, bytes.count)])
            i = min(end, bytes.count)
        }
        /// The index just past the next occurrence of `terminator` at or after `from`.
        func after(_ terminator: [UInt8], from: Int) -> Int {
            var j = from
            while j + terminator.count <= bytes.count {
                if Array(bytes[j..<j + terminator.count]) == terminator { return j + terminator.count }
                j += 1
            }
            return bytes.count
        }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // '...' with '' inside, "..." with "" inside: the doubled quote is two literals in a row.
                copy(until: after([c], from: i + 1))
            case UInt8(ascii: "-") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "-"):
                copy(until: after([UInt8(ascii: "\n")], from: i + 2))
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                copy(until: after(Array("*/".utf8), from: i + 2))
            case UInt8(ascii: "$"):
                // $tag$ ... $tag$ (tag: letters, digits, underscore; may be empty). `$1` is a parameter, not a quote.
                var j = i + 1
                while j < bytes.count, bytes[j] == UInt8(ascii: "_") || (bytes[j] | 0x20 >= UInt8(ascii: "a") && bytes[j] | 0x20 <= UInt8(ascii: "z"))
                    || (j > i + 1 && bytes[j] >= UInt8(ascii: "0") && bytes[j] <= UInt8(ascii: "9"))
                {
                    j += 1
                }
                if j < bytes.count && bytes[j] == UInt8(ascii: "$") {
                    let tag = Array(bytes[i...j])
                    copy(until: after(tag, from: j + 1))
                } else {
                    copy(until: i + 1)
                }
            case UInt8(ascii: "?"):
                n += 1
                out.append(contentsOf: Array("$\(n)".utf8))
                i += 1
            default:
                copy(until: i + 1)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
