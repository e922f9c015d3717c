import CallrecCore

/// Where the next SIP message lies in a byte stream (SIP over TCP, RFC 3261
/// section 18.3): the header block ends at the first empty line and the body
/// is exactly Content-Length bytes (a missing Content-Length means no body).
///
/// The framer only finds boundaries; `SIPMessage.parse` reads the message.
/// Its bounds make a hostile stream cost at most `maxHeaderBytes` +
/// `maxBodyBytes` of buffer: an oversized header block or body is skipped and
/// the stream resynchronises at the next start line.
public enum SIPFrame: Equatable, Sendable {
    /// The bytes so far end inside a message: wait for more.
    case incomplete
    /// A whole message of `length` bytes starts at offset 0.
    case message(length: Int)
    /// Skip `count` bytes: CRLF keep-alives (RFC 5626 section 4.4.1), or
    /// bytes that are not the start of a message (a capture that began
    /// mid-stream, a gap in the stream, an oversized message).
    case skip(count: Int)

    /// Largest header block accepted (start line and headers), in bytes.
    public static let maxHeaderBytes = 65_536
    /// Largest body accepted, in bytes.
    public static let maxBodyBytes = 32_768

    /// Finds the next frame at the start of `bytes`.
    public static func next(in bytes: UnsafeRawBufferPointer) -> SIPFrame {
        let n = bytes.count
        guard n > 0 else { return .incomplete }
        // CRLF keep-alives between messages ("\r\n\r\n" pings, "\r\n" pongs).
        var crlf = 0
        while crlf < n && (bytes[crlf] == 0x0D || bytes[crlf] == 0x0A) { crlf += 1 }
        if crlf > 0 { return .skip(count: crlf) }
        if n < 12 {
            // Too short to tell; a start line is never shorter.
            return bytes.contains(0x0A) ? .skip(count: lineLength(bytes)) : .incomplete
        }
        guard SIPMessage.looksLikeSIP(bytes) else { return .skip(count: lineLength(bytes)) }
        guard let (headerEnd, bodyStart) = headerBlockEnd(bytes, limit: maxHeaderBytes) else {
            // No empty line yet: wait, unless the header block is already too long.
            return n >= maxHeaderBytes ? .skip(count: lineLength(bytes)) : .incomplete
        }
        guard let bodyLength = contentLength(bytes, headerEnd: headerEnd), bodyLength <= maxBodyBytes else {
            // Unreadable or oversized Content-Length: the message cannot be framed; drop its headers.
            return .skip(count: bodyStart)
        }
        let total = bodyStart + bodyLength
        return n >= total ? .message(length: total) : .incomplete
    }

    /// The length of the first line, its LF included (all of `bytes` if it has no LF).
    static func lineLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        if let lf = bytes.firstIndex(of: 0x0A) { return lf + 1 }
        return bytes.count
    }

    /// The offset of the empty line that ends the header block and the offset
    /// of the body after it (CRLF CRLF, or LF LF leniently), within `limit` bytes.
    static func headerBlockEnd(_ bytes: UnsafeRawBufferPointer, limit: Int) -> (Int, Int)? {
        let n = min(bytes.count, limit)
        var i = 0
        while i < n {
            if bytes[i] == 0x0A {
                if i + 1 < n && bytes[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < n && bytes[i + 1] == 0x0D && bytes[i + 2] == 0x0A { return (i, i + 3) }
            }
            i += 1
        }
        return nil
    }

    /// The value of Content-Length (or its compact form `l`) in the header
    /// block, 0 when absent, nil when it is not a number.
    static func contentLength(_ bytes: UnsafeRawBufferPointer, headerEnd: Int) -> Int? {
        var lineStart = 0
        var i = 0
        while i <= headerEnd {
            if i == headerEnd || bytes[i] == 0x0A {
                if let value = contentLengthValue(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<i])) {
                    return value
                }
                lineStart = i + 1
            }
            i += 1
        }
        return 0
    }

    /// Some(value) if `line` is a Content-Length header (nil value inside for a bad number).
    private static func contentLengthValue(_ line: UnsafeRawBufferPointer) -> Int?? {
        guard let colon = line.firstIndex(of: 0x3A) else { return nil }
        // The name, trimmed, compared case-insensitively.
        var start = 0
        var end = colon
        while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
        while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        let name = UnsafeRawBufferPointer(rebasing: line[start..<end])
        guard name.count == 1 ? (name[0] | 0x20) == 0x6C : equalsIgnoringCase(name, "content-length") else { return nil }
        var value = 0
        var digits = 0
        for b in line[(colon + 1)...] {
            switch b {
            case 0x30...0x39:
                digits += 1
                // Ten digits already exceed any body callrec accepts.
                if digits > 9 { return .some(nil) }
                value = value * 10 + Int(b - 0x30)
            case 0x20, 0x09, 0x0D:
                continue
            default:
                return .some(nil)
            }
        }
        return digits == 0 ? .some(nil) : .some(value)
    }

    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for k in 0..<bytes.count {
            let b = bytes[k]
            let lower = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
            if lower != expected[k] { return false }
        }
        return true
    }
}
