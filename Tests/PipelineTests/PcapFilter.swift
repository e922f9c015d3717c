import CallrecCore
import CallrecTestSupport
import Capture

/// Rewrites a generated capture, dropping some packets.
enum PcapFilter {
    /// Drops RTP packets sent from `endpoint` between `start` and `end` seconds after `origin`.
    static func dropRTP(_ pcap: [UInt8], from endpoint: Endpoint, between start: Double, and end: Double, after origin: MediaTime) throws -> [UInt8] {
        let path = try TemporaryFile.write(pcap)
        let source = try CaptureSource(path: path)
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var writer = PcapWriter()
        try source.forEachPacket { packet in
            if let d = slicer.slice(packet), d.source == endpoint {
                let t = packet.timestamp.seconds(since: origin)
                if t >= start && t < end { return }
            }
            writer.append(Array(packet.bytes), at: packet.timestamp)
        }
        return writer.bytes
    }

    /// Rewrites the sequence number and timestamp of RTP packets sent from `endpoint`;
    /// `change` gets (sequence, timestamp, index of the packet among that sender's) and returns the new timestamp.
    static func rewriteRTP(_ pcap: [UInt8], from endpoint: Endpoint, change: (UInt16, UInt32, Int) -> UInt32) throws -> [UInt8] {
        let path = try TemporaryFile.write(pcap)
        let source = try CaptureSource(path: path)
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var writer = PcapWriter()
        var index = 0
        try source.forEachPacket { packet in
            var bytes = Array(packet.bytes)
            if let d = slicer.slice(packet), d.source == endpoint, d.payload.count >= 12, d.payload[0] >> 6 == 2 {
                let offset = d.payload.baseAddress! - packet.bytes.baseAddress!
                let sequence = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
                let timestamp = UInt32(bytes[offset + 4]) << 24 | UInt32(bytes[offset + 5]) << 16 | UInt32(bytes[offset + 6]) << 8 | UInt32(bytes[offset + 7])
                let updated = change(sequence, timestamp, index)
                for k in 0..<4 { bytes[offset + 4 + k] = UInt8(updated >> UInt32(24 - 8 * k) & 0xFF) }
                index += 1
            }
            writer.append(bytes, at: packet.timestamp)
        }
        return writer.bytes
    }
}
