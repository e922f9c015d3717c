/// A sequential source of bytes: a file or pipe, bytes in memory, or the
/// ASCII armor decoder over one of those.
protocol AgeByteSource: AnyObject {
    /// Fills `buffer`, short only at the end of the input.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension SealedFileDescriptor: AgeByteSource {}

/// Bytes in memory as a source.
final class ByteArraySource: AgeByteSource {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position..<(position + n)])) }
        position += n
        return n
    }
}

/// A source read ahead in blocks: lets a reader look at the first bytes
/// (armored or not) and read lines (the armor) without a system call per byte.
final class BufferedSource: AgeByteSource {
    private var pending: [UInt8] = []
    private var position = 0
    private var atEnd = false
    private let inner: any AgeByteSource
    /// Bytes read ahead at a time.
    private static let block = 16_384

    init(_ inner: any AgeByteSource) { self.inner = inner }

    /// Reads ahead until `count` bytes are buffered or the input ends; returns what is buffered.
    func peek(_ count: Int) throws -> ArraySlice<UInt8> {
        while pending.count - position < count, !atEnd { try refill() }
        return pending[position..<min(pending.count, position + count)]
    }

    private func refill() throws {
        if position > 0 {
            pending.removeSubrange(..<position)
            position = 0
        }
        let old = pending.count
        pending.append(contentsOf: repeatElement(0, count: BufferedSource.block))
        let n = try pending.withUnsafeMutableBytes { try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[old...])) }
        pending.removeLast(BufferedSource.block - n)
        if n < BufferedSource.block { atEnd = true }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, pending.count - position)
        if n > 0 {
            pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position..<(position + n)])) }
            position += n
        }
        if n == buffer.count || atEnd { return n }
        // The rest straight from the input: large reads (chunks) are not copied twice.
        return n + (try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[n...])))
    }

    /// The next line, without its LF (and a CR before it), or nil at the end
    /// of the input. A line longer than `limit` bytes throws `tooLong()`.
    func line(limit: Int, tooLong: () -> SealingError) throws -> [UInt8]? {
        var scanned = 0
        while true {
            if let lf = pending[(position + scanned)...].firstIndex(of: 0x0A) {
                var line = Array(pending[position..<lf])
                position = lf + 1
                if line.count > limit { throw tooLong() }
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            scanned = pending.count - position
            if scanned > limit { throw tooLong() }
            if atEnd {
                guard scanned > 0 else { return nil }
                let line = Array(pending[position...])
                position = pending.count
                return line
            }
            try refill()
        }
    }
}
