#if canImport(Glibc)
import Glibc
#endif

/// The controlling terminal, for what must be typed rather than passed:
/// passwords. Written once here, beside `System`.
package enum Terminal {
    /// The longest line read (a password longer than this is refused, not cut).
    static let maximumLine = 4096

    /// Asks `prompt` on the controlling terminal (`/dev/tty`, so it works
    /// with standard input and output redirected) and reads one line with
    /// echo off, as `ssh` and `age -p` do. The terminal's settings are put
    /// back before this returns, also when reading fails.
    /// - Returns: the line without its line end, or nil when there is no
    ///   controlling terminal (a script, a service).
    /// - Throws: `SystemError` when the terminal cannot be read, or the line is too long (`E2BIG`).
    package static func readSecret(prompt: String) throws(SystemError) -> String? {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        try System.writeAll(fd, Array(prompt.utf8))
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        guard tcsetattr(fd, TCSAFLUSH, &quiet) == 0 else { throw SystemError(errno) }
        defer { _ = tcsetattr(fd, TCSAFLUSH, &saved) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = try System.read(fd, into: &byte, count: 1)
            if n == 0 || byte == 0x0A { break }
            if byte == 0x0D { continue }
            guard line.count < maximumLine else { throw SystemError(E2BIG) }
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self)
    }
}
