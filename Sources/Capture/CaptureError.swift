import CallrecCore

/// A condition that stops reading one capture. Bad packets are not errors
/// (they are counted in `Diagnostics`); this is for a capture that cannot be
/// opened or read on. The message names the file and, where known, the byte
/// offset or packet number.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as a stable code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The file does not exist.
        public static let notFound = Code(rawValue: "not-found")
        /// The file exists but cannot be read (permissions, a directory).
        public static let unreadable = Code(rawValue: "unreadable")
        /// The input does not start with a pcap or pcapng magic number.
        public static let notACapture = Code(rawValue: "not-a-capture")
        /// The input is empty.
        public static let empty = Code(rawValue: "empty")
        /// The input ends inside a header or record.
        public static let truncated = Code(rawValue: "truncated")
        /// A record header is inconsistent and reading cannot go on.
        public static let corrupt = Code(rawValue: "corrupt")
        /// A live interface could not be opened or filtered.
        public static let interface = Code(rawValue: "interface")
        /// A `--filter` expression libpcap cannot compile.
        public static let filter = Code(rawValue: "filter")

        public var description: String { rawValue }
    }

    public var code: Code
    /// The capture's path as the user gave it (`-` for standard input).
    public var path: String
    /// What went wrong, without the path.
    public var message: String
    /// The byte offset in the capture where reading stopped, when known.
    public var fileOffset: Int64?
    /// The number of packets read successfully before the error.
    public var packetsRead: Int

    public init(code: Code, path: String, message: String, fileOffset: Int64? = nil, packetsRead: Int = 0) {
        self.code = code
        self.path = path
        self.message = message
        self.fileOffset = fileOffset
        self.packetsRead = packetsRead
    }

    /// One line: `capture.pcap: truncated ... (at byte 1234, after packet 56)`.
    public var description: String {
        var text = "\(path == "-" ? "<stdin>" : path): \(message)"
        var position: [String] = []
        if let offset = fileOffset { position.append("at byte \(offset)") }
        if packetsRead > 0 { position.append("after packet \(packetsRead)") }
        if !position.isEmpty { text += " (" + position.joined(separator: ", ") + ")" }
        return text
    }
}
