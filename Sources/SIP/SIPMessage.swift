import CallrecCore

/// A parsed SIP message (RFC 3261): start line, headers and body.
///
/// Everything in it came from the network. Its size is bounded by the
/// datagram or the framed TCP message it was parsed from, and parsing caps
/// the header count and the length of every field it keeps.
public struct SIPMessage: Sendable {
    /// The first line of a request or a response.
    public enum StartLine: Sendable, Equatable {
        case request(method: String, uri: String)
        case response(code: Int, reason: String)
    }

    /// Most headers kept. Past it, only the first of each header callrec
    /// reads (`essentialHeaders`) is still kept; the rest are dropped and counted.
    public static let maxHeaders = 128
    /// Longest header value kept, in bytes; a longer header is dropped and counted.
    public static let maxValueLength = 8192
    /// The headers callrec reads to follow a call: repaired rather than dropped, kept past `maxHeaders`.
    static let essentialHeaders: Set<String> = ["call-id", "from", "to", "cseq", "content-length", "content-type"]

    public var startLine: StartLine
    /// Headers in order, names in canonical lowercase long form (`i` becomes `call-id`).
    public var headers: [(name: String, value: String)]
    /// The body, exactly Content-Length bytes when the header is present.
    public var body: [UInt8]
    /// The body is shorter than Content-Length said (a cut datagram).
    public var bodyIsIncomplete: Bool
    /// Headers left out because they could not be used (see `parse`).
    public var headersDropped = 0
    /// Headers callrec reads that held control characters, kept with U+FFFD in their place.
    public var headersRepaired = 0

    /// The request method, or nil for a response.
    public var method: String? {
        if case .request(let m, _) = startLine { return m }
        return nil
    }

    /// The status code, or nil for a request.
    public var statusCode: Int? {
        if case .response(let c, _) = startLine { return c }
        return nil
    }

    /// The first value of `name` (canonical lowercase long form).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// The Call-ID header.
    public var callID: String? { header("call-id") }

    /// The CSeq number and method (`CSeq: 1 INVITE`).
    public var cseq: (number: UInt32, method: String)? {
        guard let value = header("cseq") else { return nil }
        let parts = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, let n = UInt32(parts[0]) else { return nil }
        return (n, String(parts[1]).uppercased())
    }

    /// The From header as a name-address.
    public var from: SIPAddress? { header("from").flatMap(SIPAddress.init(header:)) }
    /// The `tag` parameter of the From header, read without parsing the whole address.
    public var fromTag: String? { tag(of: "from") }
    /// The To header as a name-address.
    public var to: SIPAddress? { header("to").flatMap(SIPAddress.init(header:)) }
    /// The `tag` parameter of the To header, read without parsing the whole
    /// address (a request that has one is inside a dialog, even when the
    /// address itself does not parse).
    public var toTag: String? { tag(of: "to") }

    /// The `tag` parameter of header `name` (From or To).
    private func tag(of name: String) -> String? {
        guard let value = header(name) else { return nil }
        // Header parameters follow the URI: after '>' when there are brackets.
        let params = value.lastIndex(of: ">").map { value[value.index(after: $0)...] } ?? Substring(value)
        for param in params.split(separator: ";").dropFirst(value.contains(">") ? 0 : 1) {
            let kv = param.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingSpaces().lowercased() == "tag" { return kv[1].trimmingSpaces() }
        }
        return nil
    }

    /// Whether the body is SDP (by Content-Type, or by its first line when the type is missing).
    public var hasSDP: Bool {
        guard !body.isEmpty, !bodyIsIncomplete else { return false }
        if let type = header("content-type")?.lowercased() {
            return type.hasPrefix("application/sdp")
        }
        return body.starts(with: Array("v=0".utf8))
    }

    /// Counts the headers parsing dropped or repaired (`sip_headers_dropped`, `sip_headers_repaired`).
    public func countHeaderRepairs(in diagnostics: Diagnostics) {
        diagnostics.count(.sipHeadersDropped, by: headersDropped)
        diagnostics.count(.sipHeadersRepaired, by: headersRepaired)
    }

    public init(startLine: StartLine, headers: [(name: String, value: String)], body: [UInt8], bodyIsIncomplete: Bool = false) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
        self.bodyIsIncomplete = bodyIsIncomplete
    }
}

extension SIPMessage {
    /// Compact header forms (RFC 3261 section 7.3.3 and later RFCs) and their long names.
    static let compactForms: [String: String] = [
        "i": "call-id", "f": "from", "t": "to", "m": "contact", "l": "content-length",
        "c": "content-type", "v": "via", "s": "subject", "k": "supported", "e": "content-encoding",
        "o": "event", "r": "refer-to", "u": "allow-events", "x": "session-expires", "b": "referred-by",
        "a": "accept-contact", "j": "reject-contact", "d": "request-disposition", "y": "identity",
    ]

    /// Whether `bytes` starts with a SIP start line: `SIP/2.0 ` (a response),
    /// or a method token, a space and a first line ending in ` SIP/2.0` (a
    /// request). Cheap enough to run on every UDP datagram and TCP segment:
    /// RTP fails on its first byte.
    public static func looksLikeSIP(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 12, let first = bytes.u8(at: 0) else { return false }
        // Upper-case ASCII letter first: RTP (version 2) starts with 0x80-0xBF.
        guard first >= 0x41 && first <= 0x5A else { return false }
        // "SIP/2.0 "
        if bytes.u32be(at: 0) == 0x5349_502F && bytes.u32be(at: 4) == 0x322E_3020 { return true }
        // METHOD SP Request-URI SP SIP/2.0 CRLF: a token of capitals within 16 bytes,
        // then a first line ending in " SIP/2.0" (MGCP, MSNP, POP and the like do not).
        var i = 0
        while i < 16 && i < bytes.count {
            let b = bytes[i]
            if b == 0x20 { break }
            if !(b >= 0x41 && b <= 0x5A || b == 0x2D) { return false }
            i += 1
        }
        guard i >= 3, i < 16 else { return false }
        let limit = min(bytes.count, 4096)
        while i < limit && bytes[i] != 0x0A { i += 1 }
        guard i < limit else { return false }
        var end = i
        if end > 0 && bytes[end - 1] == 0x0D { end -= 1 }
        // " SIP/2.0" = 20 53 49 50 2F 32 2E 30
        return end >= 8 && bytes.u32be(at: end - 8) == 0x2053_4950 && bytes.u32be(at: end - 4) == 0x2F32_2E30
    }

    /// Parses one SIP message from the start of `bytes`.
    ///
    /// Liberal in what it reads, so that one bad header never costs a call
    /// its identity: a header that cannot be used is left out and counted in
    /// `headersDropped` (a line without a colon, a bad name, a value over
    /// `maxValueLength`, a header past `maxHeaders`, control characters in a
    /// header callrec does not read, an unreadable Content-Length); control
    /// characters (NUL, a bare CR) in a header callrec reads become U+FFFD,
    /// as invalid UTF-8 does, and are counted in `headersRepaired`. Only a
    /// start line that is not SIP makes the message malformed. Work and
    /// memory are bounded by `bytes` (at most one datagram or one framed
    /// TCP message) and the kept headers by `maxHeaders`.
    ///
    /// - Returns: the message and the number of bytes it used (headers plus
    ///   Content-Length body), or nil when `bytes` does not start with a SIP
    ///   start line or the headers are not complete yet.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> (message: SIPMessage, length: Int)? {
        let n = bytes.count
        // The header block ends at CRLF CRLF (or LF LF, leniently); an empty one is no message.
        guard let (headerEnd, bodyStart) = SIPFrame.headerBlockEnd(bytes, limit: n), headerEnd > 0 else { return nil }
        var reader = SIPHeaderReader(bytes)
        let firstLineEnd = reader.lineEnd(from: 0, limit: headerEnd)
        let first = UnsafeRawBufferPointer(rebasing: bytes[0..<reader.trimmingCR(0, firstLineEnd)])
        guard !first.contains(where: SIPHeaderReader.isControl),
              let startLine = parseStartLine(String(decoding: first, as: UTF8.self))
        else { return nil }
        var message = SIPMessage(startLine: startLine, headers: [], body: [])
        // Each header is its first line and the continuation lines (starting
        // with a space or a tab) that fold into it (RFC 3261 section 7.3.1).
        var start = firstLineEnd + 1
        while start < headerEnd {
            var end = reader.lineEnd(from: start, limit: headerEnd)
            while end + 1 < headerEnd, bytes[end + 1] == 0x20 || bytes[end + 1] == 0x09 {
                end = reader.lineEnd(from: end + 1, limit: headerEnd)
            }
            reader.read(header: start..<end, into: &message)
            start = end + 1
        }
        let available = n - bodyStart
        if let lengthText = message.header("content-length") {
            if let length = Int(lengthText), length >= 0 {
                if length > available {
                    message.body = Array(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<n]))
                    message.bodyIsIncomplete = true
                    return (message, n)
                }
                message.body = Array(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + length)]))
                return (message, bodyStart + length)
            }
            // Not a length: read as if it were absent.
            message.headers.removeAll { $0.name == "content-length" }
            message.headersDropped += 1
        }
        // No Content-Length: over UDP the body runs to the end of the datagram.
        message.body = Array(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<n]))
        return (message, n)
    }

    static func parseStartLine(_ line: String) -> StartLine? {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2 else { return nil }
        if parts[0] == "SIP/2.0" {
            guard let code = Int(parts[1]), (100...699).contains(code) else { return nil }
            return .response(code: code, reason: parts.count > 2 ? String(parts[2]) : "")
        }
        guard parts.count == 3, parts[2] == "SIP/2.0",
              parts[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "-") })
        else { return nil }
        return .request(method: String(parts[0]).uppercased(), uri: String(parts[1]))
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let f = scalars.first, f == " " || f == "\t" { scalars.removeFirst() }
        while let l = scalars.last, l == " " || l == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
