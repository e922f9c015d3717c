/// What a request's `Range` header asks of a file of `size` bytes (RFC 9110
/// §14): one range of bytes, or all of it. The unit is compared without
/// regard to case (`Bytes=` is `bytes=`, §14.1); a Range in another unit is
/// ignored, as §14.2 requires, and so is one asking for several ranges at once
/// (`multipart/byteranges` is not offered: browsers' media players never ask
/// for it, and §14.2 lets a server ignore the header): both get the whole file.
package enum ByteRangeRequest: Equatable, Sendable {
    /// No Range header: the whole file (200).
    case whole
    /// Bytes `lowerBound...upperBound` (206).
    case range(ClosedRange<Int64>)
    /// 416 with `Content-Range: bytes */size`: a range past the end, or a
    /// malformed byte range.
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
        guard header.utf8.count <= 64, let equals = header.firstIndex(of: "=") else { return nil }
        let unit = header[..<equals]
        guard !unit.isEmpty, unit.utf8.allSatisfy({ Self.isTokenByte($0) }) else { return nil }
        guard unit.lowercased() == "bytes" else { return .whole }
        let spec = header[header.index(after: equals)...]
        if spec.contains(",") { return .whole }
        guard let dash = spec.firstIndex(of: "-") else { return nil }
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

    /// RFC 9110 `tchar`: what a token such as a range unit is made of.
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
}
