#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered writes to stdout or stderr.
enum FileHandleOutput {
    case standardOutput
    case standardError

    func write(_ text: String) {
        let fd: Int32 = self == .standardOutput ? 1 : 2
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Whether the stream is a terminal.
    var isTerminal: Bool { isatty(self == .standardOutput ? 1 : 2) != 0 }
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
