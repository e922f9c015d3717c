/// Classic pcap files (as `PcapWriter` and `SyntheticCall` write them,
/// little-endian, microsecond) merged or cut by capture time, so tests can
/// put several generated calls on one link and feed a stream in pieces.
public enum PcapMerge {
    /// One record: its timestamp in microseconds and its bytes (16-byte header included).
    public struct Record {
        public var microseconds: Int64
        public var bytes: ArraySlice<UInt8>
    }

    /// The records of a classic little-endian pcap file, in file order.
    public static func records(_ pcap: [UInt8]) -> [Record] {
        var out: [Record] = []
        var offset = 24
        while offset + 16 <= pcap.count {
            func le32(_ at: Int) -> Int64 {
                Int64(pcap[at]) | Int64(pcap[at + 1]) << 8 | Int64(pcap[at + 2]) << 16 | Int64(pcap[at + 3]) << 24
            }
            let length = Int(le32(offset + 8))
            guard offset + 16 + length <= pcap.count else { break }
            out.append(Record(microseconds: le32(offset) * 1_000_000 + le32(offset + 4), bytes: pcap[offset..<(offset + 16 + length)]))
            offset += 16 + length
        }
        return out
    }

    /// One capture holding every record of `captures`, in time order (stable for equal times).
    public static func merge(_ captures: [[UInt8]]) -> [UInt8] {
        let all = captures.flatMap(records).enumerated().sorted {
            ($0.element.microseconds, $0.offset) < ($1.element.microseconds, $1.offset)
        }
        var out = Array(captures.first?.prefix(24) ?? [])
        for (_, record) in all { out += record.bytes }
        return out
    }

    /// `pcap` cut in two: the file header with the records before `microseconds`, and the records from it on.
    public static func split(_ pcap: [UInt8], at microseconds: Int64) -> (head: [UInt8], tail: [UInt8]) {
        var head = Array(pcap.prefix(24))
        var tail: [UInt8] = []
        for record in records(pcap) {
            if record.microseconds < microseconds { head += record.bytes } else { tail += record.bytes }
        }
        return (head, tail)
    }
}
