import CallrecCore

/// Unbuffered writes to stdout or stderr.
enum FileHandleOutput {
    case standardOutput
    case standardError

    func write(_ text: String) {
        // A reader that went away (EPIPE) or a full disk: the text is lost, the run goes on.
        try? System.writeAll(descriptor, Array(text.utf8))
    }

    /// Whether the stream is a terminal.
    var isTerminal: Bool { System.isTerminal(descriptor) }

    private var descriptor: Int32 { self == .standardOutput ? 1 : 2 }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while s.last == "\n" { s.removeLast() }
        return String(s)
    }

    /// Left-aligned in a field of `width` characters.
    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
