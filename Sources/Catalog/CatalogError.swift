/// A catalog operation that could not be done: one clear line for the
/// command line, and a code a program can switch on.
public struct CatalogError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a small set of static constants.
    public struct Code: RawRepresentable, Hashable, Sendable {
        /// The code as text (`refused`).
        public var rawValue: String
        /// A code from its text.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// No recording, rule or user by that name.
        public static let notFound = Code(rawValue: "not-found")
        /// The acting user may not do this (the refusal is in the audit log).
        public static let refused = Code(rawValue: "refused")
        /// A pattern, time, zone or retention that does not parse.
        public static let invalid = Code(rawValue: "invalid")
        /// A legal hold stops the operation.
        public static let held = Code(rawValue: "held")
        /// A rule that requires recording (`--require`) recorded it: it is not deleted at a user's request.
        public static let required = Code(rawValue: "required")
        /// The recording was erased (delete, forget, purge) and is not written again.
        public static let erased = Code(rawValue: "erased")
        /// The call is recorded already (the same call seen again: a second
        /// probe, an overlapping capture, a capture converted twice); the
        /// recording there is kept, never replaced.
        public static let exists = Code(rawValue: "exists")
        /// Another callrec process holds the catalog (a convert while verify runs).
        public static let busy = Code(rawValue: "busy")
        /// A file could not be read, written or removed.
        public static let io = Code(rawValue: "io")
        /// A file's SHA-256 differs from the one catalogued.
        public static let damaged = Code(rawValue: "damaged")
        /// The catalog's database cannot be reached: the server refuses the
        /// connection or the login, the database does not exist, the file cannot be opened.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The disk under the catalog is full: the transaction was rolled back and may be tried again.
        public static let diskFull = Code(rawValue: "disk-full")
        /// A sealed file that no key given opens.
        public static let sealed = Code(rawValue: "sealed")
        /// The database refused a statement (a constraint, a trigger such as
        /// the audit log's, a transaction that kept conflicting with others).
        public static let database = Code(rawValue: "database")
    }

    /// What kind of failure.
    public var code: Code
    /// One line for the user, naming the recording, rule, user or file.
    public var message: String

    /// An error of `code` saying `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
