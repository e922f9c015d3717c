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
}
