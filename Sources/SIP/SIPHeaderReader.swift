/// Reads the headers of a SIP header block into a `SIPMessage`, straight
/// from the bytes: one header (its first line and the continuation lines
/// folded into it) at a time, keeping what `SIPMessage.parse` says it keeps
/// and counting what it leaves out or mends.
struct SIPHeaderReader {
    let bytes: UnsafeRawBufferPointer
    /// The value being built, reused from header to header.
    private var value: [UInt8] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        value.reserveCapacity(256)
    }

    /// A control character: anything below a space except the tab, and DEL.
    static func isControl(_ byte: UInt8) -> Bool {
        byte < 0x20 && byte != 0x09 || byte == 0x7F
    }

    /// The offset of the LF that ends the line starting at `start`, or `limit` if none comes before it.
    func lineEnd(from start: Int, limit: Int) -> Int {
        var i = start
        while i < limit && bytes[i] != 0x0A { i += 1 }
        return i
    }

    /// `end` moved back over a CR just before it, if there is one (and the line is not empty).
    func trimmingCR(_ start: Int, _ end: Int) -> Int {
        end > start && bytes[end - 1] == 0x0D ? end - 1 : end
    }

    /// `start..<end` without the spaces and tabs at either end.
    private func trimmingSpaces(_ start: Int, _ end: Int) -> (Int, Int) {
        var s = start
        var e = end
        while s < e && (bytes[s] == 0x20 || bytes[s] == 0x09) { s += 1 }
        while e > s && (bytes[e - 1] == 0x20 || bytes[e - 1] == 0x09) { e -= 1 }
        return (s, e)
    }

    /// Reads the header in `range` (its lines without the final LF) into `message`, or counts it dropped.
    mutating func read(header range: Range<Int>, into message: inout SIPMessage) {
        let firstEnd = lineEnd(from: range.lowerBound, limit: range.upperBound)
        var colon = range.lowerBound
        while colon < firstEnd && bytes[colon] != 0x3A { colon += 1 }
        let (nameStart, nameEnd) = trimmingSpaces(range.lowerBound, colon)
        guard colon < firstEnd, nameEnd > nameStart, nameEnd - nameStart <= 64,
              !(nameStart..<nameEnd).contains(where: { SIPHeaderReader.isControl(bytes[$0]) })
        else {
            message.headersDropped += 1
            return
        }
        var name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd]), as: UTF8.self).lowercased()
        if let long = SIPMessage.compactForms[name] { name = long }
        let essential = SIPMessage.essentialHeaders.contains(name)
        // Past the cap only the first of each header callrec reads gets in.
        guard message.headers.count < SIPMessage.maxHeaders || essential && message.header(name) == nil else {
            message.headersDropped += 1
            return
        }
        // The value: each line's text trimmed, folded lines joined by one space.
        value.removeAll(keepingCapacity: true)
        var controls = 0
        var pieceStart = colon + 1
        while pieceStart <= range.upperBound {
            let pieceEnd = lineEnd(from: pieceStart, limit: range.upperBound)
            let (s, e) = trimmingSpaces(pieceStart, trimmingCR(pieceStart, pieceEnd))
            if s < e {
                if !value.isEmpty { value.append(0x20) }
                guard value.count + (e - s) <= SIPMessage.maxValueLength else {
                    message.headersDropped += 1
                    return
                }
                for k in s..<e {
                    let byte = bytes[k]
                    if SIPHeaderReader.isControl(byte) {
                        controls += 1
                        value += [0xEF, 0xBF, 0xBD]  // U+FFFD in UTF-8
                    } else {
                        value.append(byte)
                    }
                }
            }
            pieceStart = pieceEnd + 1
        }
        if controls > 0 {
            // A NUL in a User-Agent is no reason to keep it; one in a From display name is no reason to lose the caller.
            guard essential else {
                message.headersDropped += 1
                return
            }
            message.headersRepaired += 1
        }
        message.headers.append((name, String(decoding: value, as: UTF8.self)))
    }
}
