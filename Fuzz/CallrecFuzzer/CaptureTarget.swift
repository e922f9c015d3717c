import CallrecCore
import Capture
import RTP
import SIP

/// The `capture` target: the capture readers and the packet slicer. The
/// input is a capture file (pcap or pcapng, any bytes); every packet it
/// yields is sliced (link, IP with fragment reassembly, UDP/TCP) and handed
/// to the SIP, SDP and RTP parsers and the stream statistics, as `inspect` does.
enum CaptureTarget {
    /// One input, start to end. Traps (through `precondition`) on a broken invariant.
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let diagnostics = Diagnostics()
        // The last byte picks how many bytes each read hands over, so refills,
        // compaction and growth of the reader's buffer are all exercised.
        let chunk = bytes.isEmpty ? 1 : Int(bytes[bytes.count - 1] % 97) + 1
        guard let reader = try? CaptureFileReader(bytes: Array(bytes), name: "fuzz", chunk: chunk, diagnostics: diagnostics) else { return }
        let slicer = PacketSlicer(
            diagnostics: diagnostics, fragmentLimits: FragmentReassembler.Limits(maxDatagrams: 4, maxBytes: 1 << 17, timeout: 1_000_000_000))
        var statistics = RTPStreamStatistics()
        var delivered = 0
        while let packet = try? reader.next() {
            delivered += 1
            precondition(packet.number == delivered, "packets are numbered in order")
            precondition(packet.bytes.count <= CaptureFileReader.maxRecordLength, "a packet is never longer than the limit")
            guard let datagram = slicer.slice(packet) else { continue }
            let payload = datagram.payload
            if SIPMessage.looksLikeSIP(payload), let (message, length) = SIPMessage.parse(payload) {
                precondition(length <= payload.count, "a SIP message lies inside its datagram")
                if message.hasSDP { _ = SessionDescription(message.body) }
            } else if let header = RTPHeader(payload) {
                precondition(header.payloadOffset + header.payloadLength <= payload.count, "the RTP payload lies inside its datagram")
                statistics.record(
                    sequence: header.sequence, timestamp: header.timestamp, arrival: packet.timestamp,
                    clockRate: RTPPayloadType.tsharkClockRate(header.payloadType), marker: header.marker, payloadType: header.payloadType)
            }
        }
        slicer.reassembler.finish()
        precondition(reader.packetsRead == delivered, "every packet read was delivered")
        precondition(slicer.reassembler.datagramsInFlight == 0, "finish gives up every datagram")
    }
}
