import CallrecCore
import Codecs

/// One RTP stream on its own, from `from` to `to`: audio coded with `codec`
/// in packets of `ptime` ms, with RFC 4733 events in place of audio where
/// `events` says, on `eventPayloadType`. For captures a `SyntheticCall`
/// does not make by itself: a second source sending a leg beside its own (a
/// B2BUA or phone sending from another port than it receives on), a relay's
/// copy, a stream of events alone. Merge it with a call's capture with
/// `PcapMerge`, or write it alone with `pcap()`.
public struct SyntheticStream {
    public var from: Endpoint
    public var to: Endpoint
    public var codec: AudioCodec = .pcmu
    /// Packetisation in milliseconds.
    public var ptime = 20
    public var ssrc: UInt32 = 0x5EC0_0D01
    public var firstSequence: UInt16 = 1000
    public var firstTimestamp: UInt32 = 80_000
    /// Capture time of the first packet.
    public var start: MediaTime
    /// What is said, at the codec's rate (16 kHz for G.722); the stream lasts as long.
    public var audio: [Int16]
    /// Events to send instead of audio: digit code (0-9, 10 = `*`, 11 = `#`), start and duration in seconds.
    public var events: [(digit: UInt8, at: Double, duration: Double)] = []
    /// The payload type of events (96 or 101 as SDPs commonly say).
    public var eventPayloadType: UInt8 = 101
    /// Send no audio at all: only the events (a capture of DTMF alone).
    public var eventsOnly = false
    /// Largest random delay added to each packet's capture time, in seconds.
    public var jitter = 0.001
    public var seed: UInt64 = 7

    public init(from: Endpoint, to: Endpoint, start: MediaTime, audio: [Int16]) {
        self.from = from
        self.to = to
        self.start = start
        self.audio = audio
    }

    /// One packet of the stream.
    public struct Packet {
        public var time: MediaTime
        /// The RTP packet (header and payload).
        public var rtp: [UInt8]
        /// The Ethernet frame carrying it.
        public var frame: [UInt8]
    }

    /// The packets in sending order (capture times may interleave by jitter).
    public func packets() -> [Packet] {
        var rng = SeededRandom(seed: seed)
        var out: [Packet] = []
        let samplesPerPacket = codec.sampleRate * ptime / 1000
        let units = UInt32(codec.clockRate * ptime / 1000)
        var sequence = firstSequence
        var g722 = G722Encoder()
        let count = audio.count / samplesPerPacket
        let period = Double(ptime) / 1000
        for k in 0..<count {
            let send = Double(k) * period
            let timestamp = firstTimestamp &+ UInt32(k) &* units
            let pcm = audio[(k * samplesPerPacket)..<((k + 1) * samplesPerPacket)]
            var payloads: [(pt: UInt8, ts: UInt32, marker: Bool, bytes: [UInt8])] = []
            if let event = events.first(where: { send >= $0.at && send < $0.at + $0.duration + 2 * period }) {
                // RFC 4733: the timestamp is the event's start; the duration grows; the end goes three times.
                let first = Int((event.at / period).rounded(.up))
                let elapsed = min(Double(k - first + 1) * period, event.duration)
                let ended = send + period > event.at + event.duration
                if ended && send >= event.at + event.duration + period { continue }
                let duration = UInt16(clamping: Int(elapsed * Double(codec.clockRate)))
                let bytes: [UInt8] = [event.digit, (ended ? 0x80 : 0) | 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]
                let start = firstTimestamp &+ UInt32(first) &* units
                for copy in 0..<(ended ? 3 : 1) { payloads.append((eventPayloadType, start, k == first && copy == 0, bytes)) }
            } else if !eventsOnly {
                var bytes: [UInt8] = []
                switch codec {
                case .pcmu: bytes = pcm.map(G711.ulawCompress)
                case .pcma: bytes = pcm.map(G711.alawCompress)
                case .g722: g722.encode(pcm, into: &bytes)
                }
                payloads.append((codec.staticPayloadType, timestamp, k == 0, bytes))
            }
            let arrival = send + (k == 0 ? 0 : rng.uniform(0...jitter))
            for (copy, p) in payloads.enumerated() {
                let rtp = PacketBuilder.rtp(payloadType: p.pt, sequence: sequence, timestamp: p.ts, ssrc: ssrc, marker: p.marker, payload: p.bytes)
                sequence &+= 1
                let time = start.advanced(byNanoseconds: Int64((arrival + Double(copy) * 0.0001) * 1e9))
                out.append(Packet(time: time, rtp: rtp, frame: PacketBuilder.ethernetUDP(from: from, to: to, payload: rtp)))
            }
        }
        return out
    }

    /// The stream alone as a classic pcap file, in capture order.
    public func pcap() -> [UInt8] {
        var writer = PcapWriter()
        for packet in packets().sorted(by: { $0.time < $1.time }) { writer.append(packet.frame, at: packet.time) }
        return writer.bytes
    }
}
