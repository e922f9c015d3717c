import CallrecCore
import Codecs
import RTP

/// One party's audio on its way from packets to the call timeline.
///
/// Packets go into a fixed `JitterBuffer` in sequence order, each with the
/// position its timestamp maps to (`RTPTimeline`: the sender's clock placed
/// rigidly from an anchor in capture time, significant drift taken out,
/// jumps re-anchored). They are played once capture time has moved a jitter
/// window past their arrival (however far behind it their audio belongs):
/// decoded, lost packets concealed (G.711 Appendix I), and written to the
/// timeline as one contiguous stream that follows the timestamps: a
/// silence-suppression gap is a jump of the cursor (the gap keeps its
/// length), and continuous audio is written sample after sample, nothing
/// added or removed. Only a leg with significant drift is corrected, by
/// `DriftCorrection`: resampled at a ratio that follows the drift (the
/// default), or samples dropped and repeated in silent packets only.
///
/// Events (RFC 4733), comfort noise and payloads not decoded keep their
/// place in the sequence, so they are never mistaken for loss, and are
/// never decoded as audio. Per packet nothing is allocated.
struct Leg {
    /// Writes decoded audio, at its decoded rate (the third argument), at a
    /// timeline position in samples at the recording's rate, compressed in
    /// time by the fourth argument (0: as it is; 0.001: 0.1 % shorter, a
    /// sender whose clock runs fast); returns the samples dropped as late.
    typealias Placement = (Int64, UnsafeBufferPointer<Int16>, Int, Double) throws -> Int

    /// Starting again behind the cursor by at most this (seconds) carries on from the cursor.
    static let resyncThreshold = 0.03
    /// A cursor further than this from where a drifting leg belongs (seconds) jumps instead of catching up.
    static let catchUpLimit = 0.5
    /// A drifting leg catches up with where it belongs over this long (seconds)...
    static let catchUpTime = 5.0
    /// ...at most this much faster or slower than the drift alone (0.5 %: under 9 cents of pitch).
    static let maxSteer = 0.005
    /// A packet whose samples all stay within this is silent (drift taken out there, `.silence`).
    static let silenceLevel = 256
    /// The largest payload held, in bytes (160 ms of G.711, 80 ms of G.722 at 64 kbit/s).
    static let maxPayload = 1280

    let outputRate: Int
    private let maxLag: Double
    private let correction: DriftCorrection
    /// What each payload type means on this leg, filled by `CallSession` as types appear,
    /// and the version of the call's description each meaning was read from (a re-INVITE
    /// may give a dynamic payload type a new codec: the meaning is read again).
    var kinds = [PayloadKind?](repeating: nil, count: 128)
    var kindVersions = [Int](repeating: -1, count: 128)

    // Arrival side.
    private var buffer: JitterBuffer
    private var sequences = SequenceExtender()
    private var timestamps = TimestampExtender()
    private var timeline: RTPTimeline?
    private var currentSSRC: UInt32?
    private var lowestSeen: Int64?
    private var highestSeen: Int64?
    /// The previous audio packet as it arrived, for learning the timestamp step.
    private var previousArrival: (sequence: Int64, timestamp: Int64, samples: Int, codec: AudioCodec)?
    private var stepCandidate: (units: Int, votes: Int)?

    // Playout side.
    private var nextSequence: Int64?
    /// Bit k set: sequence `nextSequence - 1 - k` was received and played (not concealed).
    private var playedBits: UInt64 = 0
    private var decoder: PayloadDecoder?
    private let concealer = LossConcealer()
    private var pcm: [Int16]
    /// Where the next played sample goes (fractional while drift is corrected).
    private var cursor: Double?
    /// The extended timestamp where the last played audio ended; nil after silence or a change.
    private var lastEnd: Int64?
    private var lastUnitsPerTwoSamples = 2
    private var lastPacketSamples = 0
    /// The time compression the last packet was placed with (`Placement`).
    private var lastStretch = 0.0

    // What the index reports.
    /// The codec of the last audio played.
    private(set) var codec: AudioCodec?
    /// Every codec the leg carried, in order, with the timeline position where it started
    /// (at most `maxCodecChanges`; a leg that changes more often keeps the first ones).
    private(set) var codecChanges: [(codec: AudioCodec, position: Int64)] = []
    static let maxCodecChanges = 16
    /// Statistics per stream, as tshark keys one (SSRC and path; the type says why).
    private(set) var statistics = LegStreamStatistics()
    /// The SSRCs of the leg, in order of appearance, each once.
    var ssrcs: [UInt32] { statistics.ssrcs }
    private(set) var latePackets = 0
    /// Decoded samples filled in for lost packets, and their duration.
    private(set) var concealedSamples = 0
    private(set) var concealedSeconds = 0.0
    private var restarts = 0
    private var dtmf = DTMFCollector()
    /// Where each event's timestamp lies on the timeline, by (SSRC, timestamp).
    private var eventPositions: [(ssrc: UInt32, timestamp: UInt32, position: Int64, clockRate: Int)] = []

    init(outputRate: Int, maxLag: Double, correction: DriftCorrection = .resample, capacity: Int = 64) {
        self.outputRate = outputRate
        self.maxLag = maxLag
        self.correction = correction
        buffer = JitterBuffer(capacity: capacity, maxPayload: Leg.maxPayload)
        // Decoded samples of the largest payload (2 per byte for G.722), plus room for insertion in silence.
        pcm = [Int16](repeating: 0, count: Leg.maxPayload * 2 + Leg.maxPayload / 4)
    }

    /// Re-anchors to capture time: timestamp jumps and sequence restarts.
    var timestampJumps: Int { (timeline?.jumps ?? 0) + restarts }
    var packets: Int { statistics.packets }
    /// Lost as tshark counts it: expected from the sequence span minus received (duplicates included).
    var lost: Int { statistics.lost }
    var duplicates: Int { statistics.duplicates }
    var maxJitter: Double { statistics.maxJitter }
    /// The drift corrected on the current stream (0.001 = the sender's clock runs 0.1 % fast);
    /// 0 when none was significant.
    var drift: Double { timeline?.drift ?? 0 }
    /// How far behind their arrival the leg's latest packets are placed, in timeline samples
    /// (a queue under congestion); the recording is final only up to that much before capture time.
    var lag: Int64 { max(0, timeline?.lag ?? 0) }

    /// The DTMF digits of the leg: symbol, timeline position of the event's start, duration in seconds.
    var digits: [(symbol: String, position: Int64, duration: Double)] {
        dtmf.digits.map { digit in
            let placed = eventPositions.first { $0.ssrc == digit.ssrc && $0.timestamp == digit.timestamp }
            return (digit.symbol, placed?.position ?? 0, Double(digit.duration) / Double(placed?.clockRate ?? 8000))
        }
    }

    // MARK: Arrival

    /// Takes one packet of this leg.
    /// - Parameters:
    ///   - arrival: capture time in timeline samples since the call's time zero.
    ///   - kind: what the payload type means.
    ///   - place: writes played audio (a packet far ahead can force older ones out).
    mutating func receive(
        _ header: RTPHeader, payload: UnsafeRawBufferPointer, at time: MediaTime, arrival: Int64, kind: PayloadKind, path: Int = 0,
        place: Placement
    ) throws {
        if header.ssrc != currentSSRC {
            // A new source on the same leg: same channel, re-anchored.
            if currentSSRC != nil { try restart(place: place) }
            currentSSRC = header.ssrc
        }
        switch kind {
        case .audio(_, let clock): statistics.record(header, path: path, at: time, clockRate: clock)
        // As tshark counts them: an event's timestamp stays at the event's start, so it bears no jitter.
        case .telephoneEvent: statistics.record(header, path: path, at: time, clockRate: 0)
        case .comfortNoise: statistics.record(header, path: path, at: time, clockRate: 8000)
        case .unsupported(let encoding):
            statistics.record(header, path: path, at: time, clockRate: RTPPayloadType.tsharkClockRate(header.payloadType, encoding: encoding))
        }
        try enqueue(header, payload: payload, at: time, arrival: arrival, kind: kind, place: place)
    }

    /// Takes an RTCP sender report: when it describes the current source, its
    /// NTP/RTP pair goes to the timeline (the drift it shows, free of jitter).
    mutating func senderReport(_ report: RTCPSenderReport) {
        guard report.ssrc == currentSSRC, timeline != nil, let timestamp = timestamps.peek(report.rtpTimestamp) else { return }
        timeline!.senderReport(ntp: report.ntp, timestamp: timestamp)
    }

    private mutating func enqueue(
        _ header: RTPHeader, payload: UnsafeRawBufferPointer, at time: MediaTime, arrival: Int64, kind: PayloadKind,
        place: Placement
    ) throws {
        let sequence = sequences.extend(header.sequence)
        let timestamp = timestamps.extend(header.timestamp)
        let window = Int64(buffer.capacity)
        let base = nextSequence ?? lowestSeen
        if let base, abs(sequence - base) > window * 8 {
            // The sender restarted its sequence numbers: play out what is held and start over.
            try restart(place: place)
            return try enqueue(header, payload: payload, at: time, arrival: arrival, kind: kind, place: place)
        }
        if nextSequence == nil, let lowest = lowestSeen, let highest = highestSeen, sequence < lowest, highest - sequence >= window {
            // Older than everything held by more than the window: too late to place.
            latePackets += 1
            return
        }
        if let next = nextSequence, sequence < next {
            // Played past already: a late copy of a concealed packet, or a duplicate (counted by the statistics).
            let age = next - 1 - sequence
            if age >= 64 || playedBits & (1 << UInt64(age)) == 0 { latePackets += 1 }
            return
        }
        if let base, sequence - base >= window {
            // Make room: whatever is a full window older than this packet is played now.
            if nextSequence == nil { nextSequence = base }
            try playout(until: Int64.min, forcingBelow: sequence - window + 1, place: place)
        }
        if lowestSeen == nil || sequence < lowestSeen! { lowestSeen = sequence }
        if highestSeen == nil || sequence > highestSeen! { highestSeen = sequence }

        var position = arrival
        switch kind {
        case .audio(let codec, let clockRate):
            position = placeAudio(
                codec: codec, clockRate: clockRate, sequence: sequence, timestamp: timestamp, payloadBytes: payload.count,
                arrival: arrival, marker: header.marker)
        case .telephoneEvent(let clockRate):
            if let event = TelephoneEvent(payload) {
                dtmf.receive(event, timestamp: header.timestamp, ssrc: header.ssrc, at: time)
                if eventPositions.count < DTMFCollector.maxDigits,
                   !eventPositions.contains(where: { $0.ssrc == header.ssrc && $0.timestamp == header.timestamp }) {
                    let at = timeline?.position(of: timestamp) ?? arrival
                    eventPositions.append((header.ssrc, header.timestamp, at, clockRate))
                }
            }
        case .comfortNoise, .unsupported:
            break
        }
        // Every packet takes its place in sequence, so events and comfort noise are not mistaken for loss.
        _ = buffer.insert(
            sequence: sequence, timestamp: timestamp, header: header, payload: payload, arrival: time, position: position,
            epoch: timeline?.epoch ?? 0, due: arrival)
    }

    /// Places an audio packet on the timeline, learning the timestamp step on the way.
    private mutating func placeAudio(
        codec: AudioCodec, clockRate: Int, sequence: Int64, timestamp: Int64, payloadBytes: Int, arrival: Int64, marker: Bool
    ) -> Int64 {
        let samples = payloadBytes * codec.samplesPerByte
        let declared = max(1, 2 * clockRate / codec.sampleRate)
        if timeline == nil {
            timeline = RTPTimeline(sampleRate: outputRate, decodedRate: codec.sampleRate, unitsPerTwoSamples: declared, maxLag: maxLag)
        } else if timeline!.decodedRate != codec.sampleRate {
            // A codec change (re-INVITE): the new codec's step, re-anchored here.
            timeline!.change(decodedRate: codec.sampleRate, unitsPerTwoSamples: declared, timestamp: timestamp, arrival: arrival)
            stepCandidate = nil
        }
        learnStep(codec: codec, sequence: sequence, timestamp: timestamp, samples: samples, arrival: arrival)
        previousArrival = (sequence, timestamp, samples, codec)
        return timeline!.place(timestamp: timestamp, arrival: arrival, marker: marker)
    }

    /// Learns how many timestamp units a decoded sample takes from consecutive
    /// packets: G.722 declares 8 kHz for 16 kHz audio and some phones tick at
    /// 16 kHz regardless. Three packets in a row must agree before it changes.
    private mutating func learnStep(codec: AudioCodec, sequence: Int64, timestamp: Int64, samples: Int, arrival: Int64) {
        guard let previous = previousArrival, previous.sequence + 1 == sequence, previous.codec == codec,
              previous.samples > 0, samples > 0
        else { return }
        let delta = timestamp - previous.timestamp
        let units = delta > 0 && (2 * delta) % Int64(previous.samples) == 0 ? Int(2 * delta / Int64(previous.samples)) : 0
        guard units == 1 || units == 2 || units == 4, units != timeline!.unitsPerTwoSamples else {
            stepCandidate = nil
            return
        }
        let votes = stepCandidate?.units == units ? stepCandidate!.votes + 1 : 1
        stepCandidate = (units, votes)
        guard votes >= 3 else { return }
        stepCandidate = nil
        // Packets still waiting are placed from the new step when they play (same epoch).
        timeline!.change(decodedRate: codec.sampleRate, unitsPerTwoSamples: units, timestamp: timestamp, arrival: arrival)
    }

    /// Plays out what is held and forgets the sequence and timestamp history.
    private mutating func restart(place: Placement) throws {
        try drain(place: place)
        sequences.reset()
        timestamps.reset()
        if timeline != nil {
            timeline!.reset()
            restarts += 1
        }
        nextSequence = nil
        lowestSeen = nil
        highestSeen = nil
        previousArrival = nil
        stepCandidate = nil
        lastEnd = nil
        playedBits = 0
    }

    // MARK: Playout

    /// Plays every packet whose position is before `deadline`.
    mutating func playout(until deadline: Int64, place: Placement) throws {
        try playout(until: deadline, forcingBelow: Int64.min, place: place)
    }

    /// Plays everything held (the call ended, or the stream restarted).
    mutating func drain(place: Placement) throws {
        try playout(until: Int64.max, forcingBelow: Int64.min, place: place)
        dtmf.flush()
    }

    /// Plays packets in sequence while their position is before `deadline`,
    /// and in any case every packet below sequence `limit` (to make room).
    private mutating func playout(until deadline: Int64, forcingBelow limit: Int64, place: Placement) throws {
        if nextSequence == nil {
            guard let lowest = lowestSeen, buffer.count > 0 else { return }
            nextSequence = lowest
        }
        while let next = nextSequence, buffer.count > 0 {
            if let entry = buffer.entry(next) {
                guard entry.due < deadline || next < limit else { break }
                if let timeline, entry.epoch == timeline.epoch { self.timeline!.settle() }
                try play(entry, at: exactPosition(of: entry), place: place)
                buffer.remove(next)
                markPlayed(received: true)
                nextSequence = next + 1
            } else {
                guard let following = buffer.next(from: next) else {
                    // Nothing held within a window: what is held lies beyond a longer gap; skip to it.
                    guard deadline == Int64.max || limit != Int64.min else { break }
                    skipGap()
                    continue
                }
                let successor = buffer.entry(following)!
                // The gap is final once the packet after it is due (or must make room).
                guard successor.due < deadline || following < limit else { break }
                try conceal(lostPackets: Int(following - next), before: successor, place: place)
                for _ in next..<following { markPlayed(received: false) }
                nextSequence = following
            }
        }
        if limit != Int64.min, let next = nextSequence, next < limit {
            // Loss longer than the window: those packets are gone, and the next audio starts afresh.
            for _ in 0..<min(64, limit - next) { markPlayed(received: false) }
            nextSequence = limit
            lastEnd = nil
        }
    }

    /// Moves past a gap longer than the window to the oldest packet held.
    private mutating func skipGap() {
        nextSequence = buffer.oldest()
        lastEnd = nil
    }

    /// Where a held packet's audio goes: from the timeline's latest mapping
    /// (envelope and drift as known now) when it was placed in the current
    /// epoch, else where it was placed on arrival.
    private func exactPosition(of entry: JitterBuffer.Entry) -> Double {
        guard let timeline, entry.epoch == timeline.epoch, case .audio? = kinds[Int(entry.payloadType)] else { return Double(entry.position) }
        return timeline.exactPosition(of: entry.timestamp)
    }

    private mutating func markPlayed(received: Bool) {
        playedBits = playedBits << 1 | (received ? 1 : 0)
    }

    /// Decodes `entry` and writes it at or near `ideal`, its `exactPosition(of:)`.
    private mutating func play(_ entry: JitterBuffer.Entry, at ideal: Double, place: Placement) throws {
        guard case .audio(let codec, _)? = kinds[Int(entry.payloadType)], entry.length > 0 else {
            // Events, comfort noise, payloads not decoded: silence follows, and the next audio starts afresh.
            lastEnd = nil
            return
        }
        if decoder?.codec != codec {
            decoder = PayloadDecoder(codec: codec)
            self.codec = codec
            lastEnd = nil
            if codecChanges.last?.codec != codec && codecChanges.count < Leg.maxCodecChanges {
                codecChanges.append((codec, Int64(ideal.rounded())))
            }
        }
        let room = pcm.count - Leg.maxPayload / 4
        let count = pcm.withUnsafeMutableBufferPointer { out in
            buffer.withPayload(entry.sequence) { payload in
                decoder!.decode(payload, into: UnsafeMutableBufferPointer(rebasing: out[0..<room]))
            } ?? 0
        }
        guard count > 0 else { return }
        var n = count
        var stretch = 0.0
        let drift = timeline?.drift ?? 0
        if let c = cursor, let end = lastEnd, end == entry.timestamp {
            // Continuous audio: the next sample follows the last, wherever the timestamps put the packet.
            // Only a drifting leg (or one left off its place by a drift estimate that changed) is moved,
            // gradually, towards where it belongs.
            let error = c - ideal
            if abs(error) > Leg.catchUpLimit * Double(outputRate) {
                cursor = ideal
            } else if drift != 0 || abs(error) >= 1 {
                switch correction {
                case .resample:
                    let steer = max(-Leg.maxSteer, min(Leg.maxSteer, error / (Leg.catchUpTime * Double(outputRate))))
                    stretch = drift + steer
                case .silence:
                    n = adjustInSilence(count: n, by: error)
                }
            }
        } else if let c = cursor, ideal < c, c - ideal <= Leg.resyncThreshold * Double(outputRate) {
            // Starting again just behind the cursor (overlapping timestamps, rounding): carry on from the cursor.
        } else {
            // A new talkspurt, a codec or SSRC change: start where the timestamp says.
            cursor = ideal
        }
        pcm.withUnsafeMutableBufferPointer { concealer.received(UnsafeMutableBufferPointer(rebasing: $0[0..<n])) }
        let rate = codec.sampleRate
        let at = Int64(cursor!.rounded())
        _ = try pcm.withUnsafeBufferPointer { try place(at, UnsafeBufferPointer(rebasing: $0[0..<n]), rate, stretch) }
        cursor! += timelineSamples(n) / (1 + stretch)
        lastStretch = stretch
        lastUnitsPerTwoSamples = timeline?.unitsPerTwoSamples ?? 2
        lastEnd = entry.timestamp + Int64(count * lastUnitsPerTwoSamples / 2)
        lastPacketSamples = count
    }

    /// Timeline samples (at the recording's rate) taken by `count` decoded samples.
    private func timelineSamples(_ count: Int) -> Double {
        Double(count) * Double(outputRate) / Double(decoder?.codec.sampleRate ?? outputRate)
    }

    /// Drift taken out in silence only (`DriftCorrection.silence`): when the
    /// packet in `pcm` is silent, removes or repeats up to an eighth of it at
    /// its quietest point, towards `error` (cursor minus where the packet
    /// belongs, in timeline samples); speech is never touched.
    private mutating func adjustInSilence(count: Int, by error: Double) -> Int {
        let perSample = timelineSamples(1)
        let wanted = Int((abs(error) / perSample).rounded(.down))
        guard wanted > 0 else { return count }
        return pcm.withUnsafeMutableBufferPointer { p in
            // SAFETY: count + count / 8 <= pcm.count: room for an eighth of the largest payload is kept.
            var quietest = 0
            for i in 0..<count {
                let v = abs(Int(p[i]))
                if v > Leg.silenceLevel { return count }
                if v < abs(Int(p[quietest])) { quietest = i }
            }
            let k = min(wanted, count / 8)
            if error < 0 {
                // Behind where it belongs: repeat the quietest sample k times.
                var i = count - 1
                while i >= quietest {
                    p[i + k] = p[i]
                    i -= 1
                }
                return count + k
            }
            // Ahead: drop k samples from the quietest point on.
            let from = min(quietest, count - k)
            for i in from..<(count - k) { p[i] = p[i + k] }
            return count - k
        }
    }

    /// Fills the time of `lostPackets` lost packets before `successor` with concealment.
    private mutating func conceal(lostPackets: Int, before successor: JitterBuffer.Entry, place: Placement) throws {
        guard let c = cursor, lastEnd != nil, lastPacketSamples > 0 else { return }
        guard let rate = decoder?.codec.sampleRate else { return }
        // The gap in decoded samples: the lost packets' length, at most up to the next packet.
        let gap = Int64(max(0, exactPosition(of: successor) - c)) * Int64(rate) / Int64(outputRate)
        var remaining = Int(min(Int64(lostPackets * lastPacketSamples), gap))
        while remaining > 0 {
            let chunk = min(remaining, pcm.count - Leg.maxPayload / 4)
            pcm.withUnsafeMutableBufferPointer { concealer.conceal(UnsafeMutableBufferPointer(rebasing: $0[0..<chunk])) }
            let at = Int64(cursor!.rounded())
            let stretch = lastStretch
            _ = try pcm.withUnsafeBufferPointer { try place(at, UnsafeBufferPointer(rebasing: $0[0..<chunk]), rate, stretch) }
            cursor! += timelineSamples(chunk) / (1 + stretch)
            lastEnd! += Int64(chunk * lastUnitsPerTwoSamples / 2)
            concealedSamples += chunk
            concealedSeconds += Double(chunk) / Double(rate)
            remaining -= chunk
        }
    }
}
