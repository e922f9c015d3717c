import Foundation

/// Reads age's ASCII armor (C2SP age, "ASCII armor"): the binary file in
/// strict PEM (RFC 7468, figure 3) labelled `AGE ENCRYPTED FILE`, lines of 64
/// base64 characters with `=` padding on the last, LF or CRLF line ends,
/// whitespace allowed only before and after the block. Anything looser
/// (headers, a checksum line, a short line before the last, trailing spaces)
/// is refused, since an armor that accepts many spellings of one file is
/// malleable. What `age -a` writes.
///
/// callrec writes binary age files; it reads armored ones so that a key or
/// a file pasted from a mail or a terminal can be opened.
final class ArmoredSource: AgeByteSource {
    static let beginLine = Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)
    static let endLine = Array("-----END AGE ENCRYPTED FILE-----".utf8)
    /// How much whitespace may surround the block (as age).
    static let maximumWhitespace = 1024

    private let input: BufferedSource
    private let name: String
    private var decoded: [UInt8] = []
    private var position = 0
    private var started = false
    private var ended = false

    init(_ input: BufferedSource, name: String) {
        self.input = input
        self.name = name
    }

    /// Whether an input starting with `start` is armored: after whitespace,
    /// five dashes (a binary age file starts with "age-encryption.org/").
    static func looksArmored(_ start: ArraySlice<UInt8>) -> Bool {
        guard let first = start.firstIndex(where: { !isWhitespace($0) }) else { return false }
        return start[first...].starts(with: Array("-----".utf8))
    }

    static func isWhitespace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C }

    private func failure(_ why: String) -> SealingError { SealingError(.armor, path: name, "malformed ASCII armor: \(why)") }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            if position == decoded.count {
                if ended { break }
                try decodeLine()
                continue
            }
            let n = min(buffer.count - done, decoded.count - position)
            decoded.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: $0[position..<(position + n)]))
            }
            position += n
            done += n
        }
        return done
    }

    private func nextLine() throws -> [UInt8] {
        guard let line = try input.line(limit: ArmoredSource.maximumWhitespace, tooLong: { failure("a line is too long") }) else {
            throw failure("the file ends before \"-----END AGE ENCRYPTED FILE-----\"")
        }
        return line
    }

    /// Decodes the next line of the block into `decoded`.
    private func decodeLine() throws {
        decoded.removeAll(keepingCapacity: true)
        position = 0
        var skipped = 0
        while !started {
            let line = try nextLine()
            if line.allSatisfy(ArmoredSource.isWhitespace) {
                skipped += line.count + 1
                guard skipped <= ArmoredSource.maximumWhitespace else { throw failure("too much whitespace before the block") }
                continue
            }
            guard line == ArmoredSource.beginLine else { throw failure("the first line is not \"-----BEGIN AGE ENCRYPTED FILE-----\"") }
            started = true
        }
        let line = try nextLine()
        if line == ArmoredSource.endLine { return try end() }
        guard !line.isEmpty else { throw failure("an empty line inside the block") }
        guard line.count <= 64 else { throw failure("a line longer than 64 columns") }
        guard let bytes = ArmoredSource.strictBase64(line) else { throw failure("a line that is not canonical padded base64") }
        decoded = bytes
        if bytes.count < 48 {
            // A short line is the last: the end line must follow.
            guard try nextLine() == ArmoredSource.endLine else { throw failure("a short line that is not followed by the end line") }
            try end()
        }
    }

    /// After the end line: only whitespace, and not much of it.
    private func end() throws {
        ended = true
        var rest = [UInt8](repeating: 0, count: ArmoredSource.maximumWhitespace + 1)
        let n = try rest.withUnsafeMutableBytes { try input.read(into: $0) }
        guard rest[..<n].allSatisfy(ArmoredSource.isWhitespace) else { throw failure("data after the end line") }
        guard n <= ArmoredSource.maximumWhitespace else { throw failure("too much whitespace after the block") }
    }

    /// RFC 4648 base64 with `=` padding, canonical only.
    static func strictBase64(_ line: [UInt8]) -> [UInt8]? {
        guard line.count % 4 == 0 else { return nil }
        let padding = line.reversed().prefix { $0 == 0x3D }.count
        guard padding <= 2, line.dropLast(padding).allSatisfy(AgeBase64.isAlphabet),
            let data = Data(base64Encoded: Data(line))
        else { return nil }
        let bytes = [UInt8](data)
        guard Array(Data(bytes).base64EncodedString().utf8) == line else { return nil }
        return bytes
    }
}
