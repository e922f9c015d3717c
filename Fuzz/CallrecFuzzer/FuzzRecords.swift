/// The input format of the structured targets (sip, rtp, tcp, fragment): a
/// header, then records separated by the 4 bytes `00 52 45 43` ("\0REC").
/// Each record's first byte is its control byte (what the target does with
/// it: direction, flags, how far capture time moves on); the rest is its body
/// (a SIP message, an RTP packet, a TCP segment's bytes, a fragment's data).
///
/// A separator rather than length prefixes: libFuzzer's mutations (and its
/// comparison tracing, which finds the separator within seconds) keep records
/// apart, so cutting, splicing and growing a record never shifts the others.
struct FuzzRecords {
    static let separator: [UInt8] = [0x00, 0x52, 0x45, 0x43]

    /// The bytes before the first separator (targets read options from them).
    let header: UnsafeRawBufferPointer
    /// Each record: its control byte (0 for an empty record) and its body.
    let records: [(control: UInt8, body: UnsafeRawBufferPointer)]

    init(_ bytes: UnsafeRawBufferPointer) {
        var pieces: [UnsafeRawBufferPointer] = []
        var start = 0
        var i = 0
        let s = FuzzRecords.separator
        while i + s.count <= bytes.count {
            if bytes[i] == s[0] && bytes[i + 1] == s[1] && bytes[i + 2] == s[2] && bytes[i + 3] == s[3] {
                pieces.append(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
                i += s.count
                start = i
            } else {
                i += 1
            }
        }
        pieces.append(UnsafeRawBufferPointer(rebasing: bytes[start..<bytes.count]))
        header = pieces[0]
        records = pieces.dropFirst().map { piece in
            guard let first = piece.first else { return (0, piece) }
            return (first, UnsafeRawBufferPointer(rebasing: piece[1...]))
        }
    }

    /// Byte `k` of the header, or 0.
    func option(_ k: Int) -> UInt8 { k < header.count ? header[k] : 0 }

    /// Writes an input in this format (for seeds).
    static func encode(header: [UInt8], _ records: [(control: UInt8, body: [UInt8])]) -> [UInt8] {
        var out = header
        for record in records {
            out += separator
            out.append(record.control)
            out += record.body
        }
        return out
    }
}

/// Bytes read in network order from the front of a record body.
extension UnsafeRawBufferPointer {
    /// The big-endian 16-bit value at `offset`, or 0 when the body is shorter.
    func fuzzU16(at offset: Int) -> UInt16 {
        offset + 2 <= count ? UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) : 0
    }

    /// The bytes from `offset` on (empty when the body is shorter).
    func fuzzRest(from offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[Swift.min(offset, count)...])
    }
}
