/// A condition that stops writing one recording. The message names the file.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as a stable code.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The output folder or file could not be created or written.
        public static let io = Code(rawValue: "io")
        /// The disk is full.
        public static let noSpace = Code(rawValue: "no-space")
        /// The encoder rejected its settings or input.
        public static let encoder = Code(rawValue: "encoder")
        /// The file's transform (sealing) refused a write, such as an
        /// overwrite of bytes it has already sealed.
        public static let transform = Code(rawValue: "transform")
        /// A file is at the name a recording's file was to take; it was not replaced.
        public static let exists = Code(rawValue: "exists")
        /// Another live process is writing the temporary file of that name
        /// (the same recording, from another converter or recorder); it was
        /// left as it is.
        public static let busy = Code(rawValue: "busy")
    }

    public var code: Code
    public var path: String
    public var message: String

    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
