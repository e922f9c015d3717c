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

    /// Most headers kept; a message with more is malformed.
    public static let maxHeaders = 128
    /// Longest header value kept, in bytes. A longer value of a header callrec
    /// reads (`essentialHeaders`) makes the message malformed; any other is dropped.
    public static let maxValueLength = 8192
    /// The headers callrec needs to follow a call; an oversized one makes the message malformed.
    static let essentialHeaders: Set<String> = ["call-id", "from", "to", "cseq", "content-length", "content-type"]

    public var startLine: StartLine
    /// Headers in order, names in canonical lowercase long form (`i` becomes `call-id`).
    public var headers: [(name: String, value: String)]
    /// The body, exactly Content-Length bytes when the header is present.
    public var body: [UInt8]
    /// The body is shorter than Content-Length said (a cut datagram).
    public var bodyIsIncomplete: Bool

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
    public var fromTag: String? {
        guard let value = header("from") else { return nil }
        // Header parameters follow the URI: after '>' when there are brackets.
        let params = value.lastIndex(of: ">").map { value[value.index(after: $0)...] } ?? Substring(value)
        for param in params.split(separator: ";").dropFirst(value.contains(">") ? 0 : 1) {
            let kv = param.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingSpaces().lowercased() == "tag" { return kv[1].trimmingSpaces() }
        }
        return nil
    }
    /// The To header as a name-address.
    public var to: SIPAddress? { header("to").flatMap(SIPAddress.init(header:)) }

    /// Whether the body is SDP (by Content-Type, or by its first line when the type is missing).
    public var hasSDP: Bool {
        guard !body.isEmpty, !bodyIsIncomplete else { return false }
        if let type = header("content-type")?.lowercased() {
            return type.hasPrefix("application/sdp")
        }
        return body.starts(with: Array("v=0".utf8))
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
    /// - Returns: the message and the number of bytes it used (headers plus
    ///   Content-Length body), or nil when `bytes` is not a well-formed SIP
    ///   message or the headers are not complete yet.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> (message: SIPMessage, length: Int)? {
        let n = bytes.count
        // The header block ends at CRLF CRLF (or LF LF, leniently); an empty one is no message.
        guard let (headerEnd, bodyStart) = SIPFrame.headerBlockEnd(bytes, limit: n), headerEnd > 0 else { return nil }
        // Split the header block into lines, unfolding continuation lines.
        var lines: [String] = []
        var lineStart = 0
        var j = 0
        while j <= headerEnd {
            if j == headerEnd || bytes[j] == 0x0A {
                var lineEnd = j
                if lineEnd > lineStart && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let raw = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd])
                // NUL bytes and other control characters make the message malformed.
                if raw.contains(where: { $0 < 0x20 && $0 != 0x09 }) { return nil }
                let text = String(decoding: raw, as: UTF8.self)
                if let first = raw.first, (first == 0x20 || first == 0x09), !lines.isEmpty {
                    lines[lines.count - 1] += " " + text.trimmingSpaces()
                } else {
                    lines.append(text)
                }
                if lines.count > maxHeaders + 1 { return nil }
                lineStart = j + 1
            }
            j += 1
        }
        guard let first = lines.first, let startLine = parseStartLine(first) else { return nil }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            var name = line[..<colon].trimmingSpaces().lowercased()
            guard !name.isEmpty, name.utf8.count <= 64 else { return nil }
            if let long = compactForms[name] { name = long }
            let value = line[line.index(after: colon)...].trimmingSpaces()
            if value.utf8.count > maxValueLength {
                // A 64 KB X-header does not hide the call; a 64 KB Call-ID makes it unusable.
                if essentialHeaders.contains(name) { return nil }
                continue
            }
            headers.append((name, value))
        }
        var message = SIPMessage(startLine: startLine, headers: headers, body: [])
        let available = n - bodyStart
        if let lengthText = message.header("content-length") {
            guard let length = Int(lengthText), length >= 0 else { return nil }
            if length > available {
                message.body = Array(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<n]))
                message.bodyIsIncomplete = true
                return (message, n)
            }
            message.body = Array(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + length)]))
            return (message, bodyStart + length)
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
