/// What a request's `Range` header asks of a file of `size` bytes (RFC 9110
/// §14): one range of bytes, or all of it. Several ranges at once
/// (`multipart/byteranges`) are not offered: browsers' media players never ask for them.
package enum ByteRangeRequest: Equatable, Sendable {
    /// No Range header: the whole file (200).
    case whole
    /// Bytes `lowerBound...upperBound` (206).
    case range(ClosedRange<Int64>)
    /// 416 with `Content-Range: bytes */size`: a range past the end, a
    /// malformed header, another unit or several ranges.
    case unsatisfiable

    /// Reads `header` (nil: no Range header) against a file of `size` bytes.
    package init(header: String?, size: Int64) {
        guard let header else {
            self = .whole
            return
        }
        self = Self.parse(header, size: size) ?? .unsatisfiable
    }

    private static func parse(_ header: String, size: Int64) -> ByteRangeRequest? {
        // bytes=first-last | bytes=first- | bytes=-suffix ; no spaces, one range.
        guard header.utf8.count <= 64, header.hasPrefix("bytes=") else { return nil }
        let spec = header.dropFirst(6)
        guard let dash = spec.firstIndex(of: "-"), !spec.contains(",") else { return nil }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        func number(_ s: Substring) -> Int64? {
            guard !s.isEmpty, s.utf8.count <= 18, s.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
            return Int64(s)
        }
        guard size > 0 else { return nil }
        if first.isEmpty {
            guard let suffix = number(last), suffix > 0 else { return nil }
            return .range(max(0, size - suffix)...(size - 1))
        }
        guard let start = number(first), start < size else { return nil }
        if last.isEmpty { return .range(start...(size - 1)) }
        guard let end = number(last), end >= start else { return nil }
        return .range(start...min(end, size - 1))
    }
}
