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
    /// Skip `count` bytes of CRLF keep-alives (RFC 5626 section 4.4.1).
    case keepAlive(count: Int)
    /// Skip `count` bytes that are not the start of a message (a capture
    /// that began mid-stream, a gap in the stream, an oversized message).
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
        if crlf > 0 { return .keepAlive(count: crlf) }
        guard bytes.contains(0x0A) else {
            // The first line is not complete: wait if it may become a start line.
            let capital = bytes[0] >= 0x41 && bytes[0] <= 0x5A
            return capital && n < 4096 ? .incomplete : .skip(count: n)
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
                // A line that starts with a space or a tab continues the header before it (as the parser reads it).
                let folded = i > lineStart && (bytes[lineStart] == 0x20 || bytes[lineStart] == 0x09)
                if !folded, let value = contentLengthValue(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<i])) {
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

    /// The bytes of the Call-ID header's value (long form `Call-ID` or
    /// compact `i`, any case), found without parsing the message: a cheap
    /// look for a driver that must turn away a flood of new calls before
    /// paying for a full parse. Nil when there is none in the header block.
    public static func callID(in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let n = min(bytes.count, maxHeaderBytes)
        guard n > 0, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        // SAFETY: every index read below is < n <= bytes.count.
        var lineStart = 0
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && base[lineEnd] != 0x0A { lineEnd += 1 }
            var stop = lineEnd
            if stop > lineStart && base[stop - 1] == 0x0D { stop -= 1 }
            // The empty line ends the header block.
            if stop == lineStart { return nil }
            let first = base[lineStart] | 0x20
            if first == 0x69 || first == 0x63 {  // 'i' or 'c'
                var colon = lineStart
                while colon < stop && base[colon] != 0x3A { colon += 1 }
                var nameEnd = colon
                while nameEnd > lineStart && (base[nameEnd - 1] == 0x20 || base[nameEnd - 1] == 0x09) { nameEnd -= 1 }
                let name = UnsafeRawBufferPointer(start: base + lineStart, count: nameEnd - lineStart)
                if colon < stop && (name.count == 1 ? first == 0x69 : equalsIgnoringCase(name, "call-id")) {
                    var start = colon + 1
                    while start < stop && (base[start] == 0x20 || base[start] == 0x09) { start += 1 }
                    var end = stop
                    while end > start && (base[end - 1] == 0x20 || base[end - 1] == 0x09) { end -= 1 }
                    return UnsafeRawBufferPointer(start: base + start, count: end - start)
                }
            }
            lineStart = lineEnd + 1
        }
        return nil
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
