/// A sealed file, key or key file that cannot be used: one clear line that
/// names the file (and, for a damaged payload, the chunk and its byte
/// offset), and a code a program can switch on.
///
/// The codes follow the failure classes of the age test kit (C2SP CCTV), so
/// a caller can tell a file it may not open (`noMatch`) from one that was
/// altered (`headerMAC`, `payload`) or is not an age file at all (`header`).
public struct SealingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a small set of static constants.
    public struct Code: RawRepresentable, Hashable, Sendable {
        /// The code as text (`payload`).
        public var rawValue: String
        /// A code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The header does not parse, or a stanza meant for the given
        /// identity is malformed (a wrong share, a wrong body length, an
        /// scrypt stanza beside others, a work factor over the limit).
        public static let header = Code(rawValue: "header")
        /// No given identity (key or passphrase) opens the file.
        public static let noMatch = Code(rawValue: "no-match")
        /// An identity opened the file key but the header's MAC does not
        /// match: the header was altered after it was written.
        public static let headerMAC = Code(rawValue: "header-mac")
        /// A payload chunk does not authenticate, is missing, is out of
        /// place, or data follows the final chunk.
        public static let payload = Code(rawValue: "payload")
        /// The ASCII armor around the file is malformed.
        public static let armor = Code(rawValue: "armor")
        /// A key, recipient or key file is malformed.
        public static let key = Code(rawValue: "key")
        /// A private key file that others may read or write.
        public static let permissions = Code(rawValue: "permissions")
        /// A file could not be read or written.
        public static let io = Code(rawValue: "io")
        /// The caller asked for something the file cannot do (a byte range
        /// past its end, an overwrite of a chunk already sealed).
        public static let usage = Code(rawValue: "usage")
    }

    /// What kind of failure.
    public var code: Code
    /// The file it concerns, when there is one.
    public var path: String?
    /// The payload chunk it concerns (0 is the first), when there is one.
    public var chunk: Int64?
    /// The byte offset in the stored file of what failed, when known.
    public var offset: Int64?
    /// What went wrong, without the path.
    public var message: String

    /// An error of `code` about `path` saying `message`.
    public init(_ code: Code, path: String? = nil, chunk: Int64? = nil, offset: Int64? = nil, _ message: String) {
        self.code = code
        self.path = path
        self.chunk = chunk
        self.offset = offset
        self.message = message
    }

    /// One line: `PATH: message`.
    public var description: String { path.map { "\($0): \(message)" } ?? message }

    /// The same error about `path` (for errors raised before the path was known).
    func about(_ path: String?) -> SealingError {
        var copy = self
        if copy.path == nil { copy.path = path }
        return copy
    }
}
