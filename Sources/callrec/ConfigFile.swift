import CallMedia
import Foundation
import Sealing

/// A callrec configuration file: the long options of `callrec convert`
/// written one per line as `name = value`, so a site's settings need not be
/// repeated on every command line.
///
/// ```
/// # Our numbers and domains: they decide each call's direction.
/// local-number = +46812345000
/// local-prefix = +4681234
/// local-domain = pbx.example.com
/// idle-timeout = 90
/// # The compliance key: every recording is sealed to it.
/// recipient = age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
/// # A catalog several recorders share (the password from PGPASSWORD or ~/.pgpass).
/// catalog = postgresql://callrec@db.example.com/calls
/// # The role catalog users' queries (--as) read through, under row-level security.
/// viewer-catalog = postgresql://callrec_serve@db.example.com/calls
/// ```
///
/// `#` starts a comment line; blank lines are ignored; a value may be
/// wrapped in double quotes. A list setting (`local-number`, `local-prefix`,
/// `local-domain`, `recipient`, `recipients-file`) may appear on many lines and adds up; a single setting
/// takes its last value. Options given on the command line add to the lists
/// and override single settings. An unknown name or a bad value is an error
/// naming the file and line.
public struct ConfigFile: Sendable {
    /// One `name = value` line.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: String
        /// 1-based line number.
        public var line: Int
    }

    /// A configuration file that cannot be used, with the file and line.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// How a setting changes the options.
    typealias Setting = @Sendable (inout ConvertOptions, String) throws -> Void

    /// The settings a file may hold, by name.
    static let settings: [String: Setting] = [
        "local-number": { $0.localNumbers.append($1) },
        "local-prefix": { $0.localPrefixes.append($1) },
        "local-domain": { $0.localDomains.append($1) },
        "idle-timeout": { options, value in
            guard let seconds = Double(value), seconds > 0, seconds.isFinite else {
                throw Failure(description: "idle-timeout must be a positive number of seconds, not '\(value)'")
            }
            options.idleTimeout = seconds
        },
        // The compliance keys recordings are sealed to (sealing is on when there is one).
        "recipient": { options, value in
            do {
                options.complianceRecipients.append(try X25519Recipient(value).description)
            } catch let error as SealingError {
                throw Failure(description: "recipient: \(error.message)")
            }
        },
        "recipients-file": { options, value in
            do {
                options.complianceRecipients += try X25519Recipient.load(path: value).map(\.description)
            } catch let error as SealingError {
                throw Failure(description: "recipients-file: \(error)")
            }
        },
        // Where the catalog is (a path or a PostgreSQL URL): read by the command through `catalog`.
        "catalog": { _, _ in },
        // The viewer role's URL for catalog users' queries (serve, --as): read through `viewerCatalog`.
        "viewer-catalog": { _, _ in },
    ]

    /// The last `catalog = ...` line's value: the catalog's location, as `--catalog` takes it.
    public var catalog: String? { entries.last { $0.name == "catalog" }?.value }

    /// The last `viewer-catalog = ...` line's value, as `--viewer-catalog` takes it.
    public var viewerCatalog: String? { entries.last { $0.name == "viewer-catalog" }?.value }

    /// The names a file may use.
    public static var names: [String] { settings.keys.sorted() }

    /// Where the file was read from (for messages).
    public let path: String
    public let entries: [Entry]

    /// Reads and checks the file at `path`.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "\(path): cannot read the configuration file")
        }
        guard data.count <= 1 << 20 else { throw Failure(description: "\(path): configuration file larger than 1 MB") }
        try self.init(text: String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses configuration `text`; `path` names it in messages.
    public init(text: String, path: String) throws {
        self.path = path
        var entries: [Entry] = []
        for (k, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw Failure(description: "\(path):\(k + 1): expected 'name = value', found '\(line.prefix(80))'")
            }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard ConfigFile.settings[name] != nil else {
                throw Failure(
                    description: "\(path):\(k + 1): unknown setting '\(name.prefix(40))' (known: \(ConfigFile.names.joined(separator: ", ")))")
            }
            guard !value.isEmpty else { throw Failure(description: "\(path):\(k + 1): '\(name)' has no value") }
            entries.append(Entry(name: name, value: value, line: k + 1))
        }
        self.entries = entries
    }

    /// Applies every entry to `options`, in file order.
    public func apply(to options: inout ConvertOptions) throws {
        for entry in entries {
            do {
                try ConfigFile.settings[entry.name]?(&options, entry.value)
            } catch let failure as Failure {
                throw Failure(description: "\(path):\(entry.line): \(failure.description)")
            }
        }
    }
}
