import CallrecCore
import Codecs
import RTP

/// One party's audio as it arrives: which codec its payload type means,
/// the decoder, where its timestamps fall on the call timeline, and its
/// stream statistics per SSRC.
struct Leg {
    /// Most SSRCs tracked per leg; a leg that changes SSRC more often keeps the last ones.
    static let maxSSRCs = 8

    /// The payload type the decoder was set up for, and what it means.
    private(set) var payloadType: UInt8
    private(set) var codec: AudioCodec
    private(set) var clockRate: Int
    private var decoder: PayloadDecoder
    private var timeline: RTPTimeline
    private var currentSSRC: UInt32
    private(set) var streams: [(ssrc: UInt32, statistics: RTPStreamStatistics)] = []
    /// Packets whose audio arrived after it was final.
    var latePackets = 0

    /// A leg whose first packet is `header`, coded as `codec` at `clockRate`,
    /// placed on a timeline of `outputRate` samples per second.
    init(header: RTPHeader, codec: AudioCodec, clockRate: Int, outputRate: Int, maxSkew: Double) {
        payloadType = header.payloadType
        self.codec = codec
        self.clockRate = clockRate
        decoder = PayloadDecoder(codec: codec)
        timeline = RTPTimeline(clockRate: clockRate, sampleRate: outputRate, maxSkew: maxSkew)
        currentSSRC = header.ssrc
    }

    /// Switches to another payload type mid-call (a re-INVITE changed the
    /// codec): same channel, statistics kept, re-anchored.
    mutating func change(to header: RTPHeader, codec: AudioCodec, clockRate: Int) {
        payloadType = header.payloadType
        self.codec = codec
        self.clockRate = clockRate
        decoder = PayloadDecoder(codec: codec)
        timeline = RTPTimeline(clockRate: clockRate, sampleRate: timeline.sampleRate, maxSkew: timeline.maxSkew)
    }

    /// Takes one packet: counts it, places it on the timeline and decodes
    /// its payload into `output`.
    /// - Returns: the timeline position of the first decoded sample and the
    ///   number of samples written to `output`.
    mutating func receive(
        _ header: RTPHeader, payload: UnsafeRawBufferPointer, at time: MediaTime, origin: MediaTime,
        into output: UnsafeMutableBufferPointer<Int16>
    ) -> (position: Int64, count: Int) {
        if header.ssrc != currentSSRC {
            // A new source on the same leg: same channel, re-anchored to capture time.
            currentSSRC = header.ssrc
            timeline.reset()
        }
        record(header, at: time)
        let position = timeline.position(timestamp: header.timestamp, arrival: time, origin: origin)
        let count = decoder.decode(payload, into: output)
        return (position, count)
    }

    private mutating func record(_ header: RTPHeader, at time: MediaTime) {
        if let k = streams.firstIndex(where: { $0.ssrc == header.ssrc }) {
            streams[k].statistics.record(sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: clockRate)
        } else {
            if streams.count == Leg.maxSSRCs { streams.removeFirst() }
            var statistics = RTPStreamStatistics()
            statistics.record(sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: clockRate)
            streams.append((header.ssrc, statistics))
        }
    }

    var packets: Int { streams.reduce(0) { $0 + $1.statistics.packets } }
    var lost: Int { streams.reduce(0) { $0 + max(0, $1.statistics.lost) } }
    var duplicates: Int { streams.reduce(0) { $0 + $1.statistics.duplicates } }
    var maxJitter: Double { streams.map(\.statistics.maxJitter).max() ?? 0 }
}
