import CallrecCore
import Codecs
import RTP

/// One party's audio as it arrives: the decoder, where its timestamps fall
/// on the call timeline, and its stream statistics per SSRC.
struct Leg {
    /// Most SSRCs tracked per leg; a leg that changes SSRC more often keeps the last ones.
    static let maxSSRCs = 8

    var decoder: PayloadDecoder
    var timeline: RTPTimeline
    var currentSSRC: UInt32
    var streams: [(ssrc: UInt32, statistics: RTPStreamStatistics)] = []
    var latePackets = 0

    init(codec: AudioCodec, ssrc: UInt32, clockRate: Int, outputRate: Int, maxSkew: Double) {
        decoder = PayloadDecoder(codec: codec)
        timeline = RTPTimeline(clockRate: clockRate, sampleRate: outputRate, maxSkew: maxSkew)
        currentSSRC = ssrc
    }

    /// Records the packet in its SSRC's statistics.
    mutating func count(_ header: RTPHeader, at time: MediaTime, clockRate: Int) {
        if header.ssrc != currentSSRC {
            // A new source on the same leg: same channel, re-anchored to capture time.
            currentSSRC = header.ssrc
            timeline.reset()
        }
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
