import Catalog
import Foundation

/// Where a PostgreSQL catalog is, read as libpq reads a connection URI
/// (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS):
///
///     postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]
///     postgres://callrec@db.example.com/calls?sslmode=require
///     postgresql:///calls?host=/var/run/postgresql          (a Unix socket folder)
///     postgresql://%2Fvar%2Frun%2Fpostgresql/calls          (the same, percent-encoded)
///
/// What the URL leaves out comes from the environment, as libpq does it:
/// `PGHOST` (else the socket folder `/var/run/postgresql`), `PGPORT`
/// (5432), `PGUSER` (the login), `PGDATABASE` (the user name), and the
/// password from the URL, else `PGPASSWORD`, else the password file
/// (`PGPASSFILE`, else `~/.pgpass`, ignored unless only its owner can read
/// it). The password is never printed: `redacted` is the URL without it.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// How TLS is used (libpq's `sslmode`). A Unix socket never uses TLS.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, else plain (libpq's default; `allow` is read as this).
        case prefer
        /// TLS, without checking the server's certificate.
        case require
        /// TLS, the certificate checked against the trusted roots (`sslrootcert`), not the host name.
        case verifyCA = "verify-ca"
        /// TLS, the certificate and the host name checked.
        case verifyFull = "verify-full"
    }

    /// A host name or address, or (starting with `/`) the folder of a Unix socket.
    public var host: String
    /// The TCP port, or the number in the socket's name (`.s.PGSQL.5432`).
    public var port: Int
    /// The database user.
    public var user: String
    /// The password (from the URL, `PGPASSWORD` or the password file), if any.
    public var password: String?
    /// The database.
    public var database: String
    /// TLS.
    public var tls: TLSMode
    /// A file of trusted root certificates (PEM) for `verify-ca` and `verify-full`.
    public var rootCertificate: String?
    /// Seconds to wait for the connection.
    public var connectTimeout: Int
    /// What the server shows in `pg_stat_activity`.
    public var applicationName: String
    /// Why the password file was not read, when that matters for a login failure.
    public var passwordFileNote: String?

    /// Whether `text` names a PostgreSQL catalog (`postgresql://` or `postgres://`).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// The Unix socket's path, when `host` is a folder.
    public var socketPath: String? { host.hasPrefix("/") ? host + "/.s.PGSQL.\(port)" : nil }

    /// The URL without its password (for messages and the catalog's location).
    public var redacted: String {
        let hostPart = host.hasPrefix("/") ? "" : (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        var query: [String] = []
        if host.hasPrefix("/") { query.append("host=" + host + (port == 5432 ? "" : "&port=\(port)")) }
        return "postgresql://\(Self.encode(user))@\(hostPart)/\(Self.encode(database))" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    public var description: String { redacted }

    /// Reads `text`, filling in what it leaves out from `environment` (the
    /// process's by default) and the password file.
    /// - Throws: `CatalogError.invalid` for a URL that does not parse, naming what is wrong (never the password).
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isURL(text) else {
            throw CatalogError(.invalid, "'\(text)' is not a PostgreSQL URL (postgresql://user@host:port/database)")
        }
        let afterScheme = String(text[text.range(of: "://")!.upperBound...])
        var rest = Substring(afterScheme)
        var queryText: Substring? = nil
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var pathText: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            pathText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userText: String? = nil
        var passwordText: String? = nil
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                userText = try Self.decode(credentials[..<colon], what: "user")
                passwordText = try Self.decode(credentials[credentials.index(after: colon)...], what: "password")
            } else {
                userText = try Self.decode(credentials, what: "user")
            }
        }
        var hostText: String? = nil
        var portText: String? = nil
        if rest.hasPrefix("[") {
            // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { throw CatalogError(.invalid, "\(Self.shown(text)): an IPv6 host needs a closing ']'") }
            hostText = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = String(after.dropFirst()) }
        } else if !rest.isEmpty {
            if rest.contains(",") {
                throw CatalogError(.invalid, "\(Self.shown(text)): several hosts in one URL are not supported; give one")
            }
            if let colon = rest.lastIndex(of: ":") {
                hostText = try Self.decode(rest[..<colon], what: "host")
                portText = String(rest[rest.index(after: colon)...])
            } else {
                hostText = try Self.decode(rest, what: "host")
            }
            if hostText == "" { hostText = nil }
        }
        var databaseText = try pathText.map { try Self.decode($0, what: "database") }
        if databaseText == "" { databaseText = nil }

        var tls: TLSMode? = nil
        var rootCertificate: String? = nil
        var connectTimeout = 10
        var applicationName = "callrec"
        var passfile: String? = environment["PGPASSFILE"]
        for pair in (queryText ?? "").split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0], what: "parameter")
            let value = try Self.decode(parts.count > 1 ? parts[1] : "", what: key)
            switch key {
            case "host": hostText = value
            case "port": portText = value
            case "user": userText = value
            case "password": passwordText = value
            case "dbname": databaseText = value
            case "sslmode":
                if value == "allow" {
                    tls = .prefer
                } else if let mode = TLSMode(rawValue: value) {
                    tls = mode
                } else {
                    throw CatalogError(.invalid, "\(Self.shown(text)): sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not '\(value)'")
                }
            case "sslrootcert": rootCertificate = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds >= 0 else {
                    throw CatalogError(.invalid, "\(Self.shown(text)): connect_timeout must be a whole number of seconds, not '\(value)'")
                }
                connectTimeout = seconds == 0 ? 10 : max(2, seconds)
            case "application_name": applicationName = value
            case "passfile": passfile = value
            default:
                throw CatalogError(
                    .invalid,
                    "\(Self.shown(text)): unknown parameter '\(key)' (callrec reads host, port, user, password, dbname, sslmode, "
                        + "sslrootcert, connect_timeout, application_name, passfile)")
            }
        }

        host = hostText ?? environment["PGHOST"] ?? "/var/run/postgresql"
        if host.contains(",") { throw CatalogError(.invalid, "\(Self.shown(text)): several hosts are not supported; give one") }
        let portValue = portText ?? environment["PGPORT"] ?? "5432"
        guard let port = Int(portValue), (1...65535).contains(port) else {
            throw CatalogError(.invalid, "\(Self.shown(text)): '\(portValue)' is not a port (1 to 65535)")
        }
        self.port = port
        user = userText ?? environment["PGUSER"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "postgres"
        database = databaseText ?? environment["PGDATABASE"] ?? user
        self.tls = tls ?? TLSMode(rawValue: environment["PGSSLMODE"] ?? "") ?? .prefer
        self.rootCertificate = rootCertificate ?? environment["PGSSLROOTCERT"]
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
        passwordFileNote = nil
        password = passwordText ?? environment["PGPASSWORD"]
        if password == nil {
            let file = passfile ?? environment["HOME"].map { $0 + "/.pgpass" }
            if let file { password = lookUpPassword(in: file) }
        }
    }

    /// libpq's password file: lines `host:port:database:user:password`, `*`
    /// matching anything, `\` escaping `:` and `\`; the first matching line
    /// wins. Ignored (with a note) when others may read it.
    private mutating func lookUpPassword(in path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if info.st_mode & 0o077 != 0 {
            passwordFileNote = "\(path) was not read: others may read it (chmod 600 \(path))"
            return nil
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        // A socket connection matches `localhost` as well as its folder.
        let hosts = host.hasPrefix("/") ? [host, "localhost"] : [host]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = []
            var field = ""
            var escaped = false
            for c in line {
                if escaped {
                    field.append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == ":" && fields.count < 4 {
                    fields.append(field)
                    field = ""
                } else {
                    field.append(c)
                }
            }
            fields.append(field)
            guard fields.count == 5 else { continue }
            func matches(_ pattern: String, _ values: [String]) -> Bool { pattern == "*" || values.contains(pattern) }
            if matches(fields[0], hosts) && matches(fields[1], [String(port)]) && matches(fields[2], [database]) && matches(fields[3], [user]) {
                return fields[4]
            }
        }
        return nil
    }

    private static func decode(_ text: Substring, what: String) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw CatalogError(.invalid, "the PostgreSQL URL's \(what) has a bad percent escape")
        }
        return decoded
    }

    private static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed.subtracting(CharacterSet(charactersIn: ":@/?#[]"))) ?? text
    }

    /// `text` with any password removed, for error messages about the URL itself.
    static func shown(_ text: String) -> String {
        var shown = text
        if let scheme = shown.range(of: "://") {
            let authorityEnd = shown[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" } ?? shown.endIndex
            if let at = shown[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
                let colon = shown[scheme.upperBound..<at].firstIndex(of: ":")
            {
                shown.replaceSubrange(colon..<at, with: "")
            }
        }
        if let range = shown.range(of: #"password=[^&]*"#, options: .regularExpression) {
            shown.replaceSubrange(range, with: "password=...")
        }
        return shown
    }
}
