import CallMedia
import CallrecCore
import RTP

/// Which of the sources sending one leg's audio (the RTP one party sends)
/// is recorded, and how.
///
/// A leg is normally fed by one source: its *own* stream. A second source
/// sending the same leg at the same time is one of two things:
///
/// - a **relay copy**: the same packets seen at another hop (a gateway or
///   media relay forwarding the stream, captured on both sides): same SSRC,
///   same sequence numbers, same payload. Only such a copy is merged away
///   (counted `rtp_second_path`): its packets are checked against the own
///   stream's, and a copy that turns out to differ is kept from then on;
/// - a **second stream**: anything else (another SSRC, or other content),
///   such as a B2BUA or phone that sends from another port than it receives
///   on while the first source keeps sending. It is kept as the leg's
///   *extra* stream: decoded on its own and mixed into the leg's channel,
///   so neither its audio nor its DTMF digits are lost, and named in the
///   call index. A leg keeps at most one extra stream at a time; a third
///   source while both send is dropped, counted (`rtp_streams_dropped`) and
///   always reported in a note and in the index.
///
/// A source takes over as the own stream when it continues the own stream
/// (same SSRC, next sequence number: the stream moved to another port) or
/// once the own source has been silent for three of its packet intervals (a
/// new stream after a re-INVITE or a transfer).
///
/// Memory is bounded: `maxOtherSources` other sources per leg, each with a
/// fixed ring of recent packets; the rings exist only once a second source
/// has appeared, so a plain call pays nothing but one comparison per packet.
struct LegSources {
    /// Other sources remembered per leg; a new one replaces the longest silent.
    static let maxOtherSources = 4
    /// An extra stream silent this long (seconds) frees its slot for another.
    static let extraPatience = 1.0

    /// What becomes of one packet.
    enum Admission: Equatable {
        /// The leg's own stream.
        case own
        /// The leg's extra stream (kept, mixed into the leg's channel).
        case extra
        /// A copy of a packet of the own stream seen at another hop: merged away.
        case relayCopy
        /// A third stream while the own and the extra both send: dropped (and reported).
        case dropped
    }

    /// What was decided about a source other than the own one.
    enum Role: Equatable {
        /// Its packets so far matched the own stream's (or could not be checked yet).
        case copy
        /// A stream of its own: the extra stream, or dropped while another extra sends.
        case distinct
    }

    /// The latest packets of a stream: (SSRC, sequence number, payload hash), a fixed ring.
    struct RecentPackets {
        static let capacity = 32
        private var ssrcs = [UInt32](repeating: 0, count: RecentPackets.capacity)
        private var sequences = [UInt16](repeating: 0, count: RecentPackets.capacity)
        private var hashes = [UInt64](repeating: 0, count: RecentPackets.capacity)
        private var used = [Bool](repeating: false, count: RecentPackets.capacity)
        private var next = 0

        mutating func insert(ssrc: UInt32, sequence: UInt16, hash: UInt64) {
            ssrcs[next] = ssrc
            sequences[next] = sequence
            hashes[next] = hash
            used[next] = true
            next = (next + 1) % RecentPackets.capacity
        }

        /// The payload hash of (`ssrc`, `sequence`) if it is among the latest packets.
        func hash(ssrc: UInt32, sequence: UInt16) -> UInt64? {
            for k in 0..<RecentPackets.capacity where used[k] && ssrcs[k] == ssrc && sequences[k] == sequence { return hashes[k] }
            return nil
        }

        /// Removes (`ssrc`, `sequence`) and returns its hash, if held.
        mutating func take(ssrc: UInt32, sequence: UInt16) -> UInt64? {
            for k in 0..<RecentPackets.capacity where used[k] && ssrcs[k] == ssrc && sequences[k] == sequence {
                used[k] = false
                return hashes[k]
            }
            return nil
        }
    }

    /// A source other than the own one.
    struct Other {
        var endpoint: Endpoint
        var role: Role
        var ssrc: UInt32
        var firstSeen: MediaTime
        var lastSeen: MediaTime
        /// Packets of this source merged away as copies, kept as the extra stream, or dropped.
        var copies = 0
        var kept = 0
        var dropped = 0
        /// A copy's packets not yet matched against the own stream's (they arrived first).
        var unverified = RecentPackets()
    }

    /// The endpoint the own stream comes from now, and when it last sent.
    private(set) var source: Endpoint?
    private(set) var sourceLastSeen: MediaTime?
    /// The own source's latest interval between packets, in seconds.
    private var sourceInterval = 0.02
    /// The SSRC and sequence number of the own source's latest packet.
    private var sourceSSRC: UInt32 = 0
    private var sourceSequence: UInt16 = 0
    /// The own stream's latest packets, kept once another source appeared.
    private var recent: RecentPackets? = nil
    /// Every other source seen (at most `maxOtherSources`).
    private(set) var others: [Other] = []
    /// The other source kept as the extra stream, if any.
    private(set) var extraSource: Endpoint? = nil
    /// Packets merged away as relay copies.
    private(set) var relayCopies = 0
    /// Sources whose packets were dropped (third streams), for the report; never shrinks below what was noted.
    private(set) var droppedSources: [Other] = []

    /// Forgets which source feeds the leg (the media moved: the next source to send is taken).
    mutating func reset() {
        source = nil
        sourceLastSeen = nil
    }

    /// Decides what becomes of a packet (`header`, whose payload is
    /// `payload`) from `endpoint` captured at `time`. `note` is told once per
    /// source of a stream kept as extra or dropped, or of a copy that turns out to differ.
    mutating func admit(
        _ endpoint: Endpoint, _ header: RTPHeader, payload: UnsafeRawBufferPointer, at time: MediaTime,
        note: (String) -> Void
    ) -> Admission {
        if let current = source, current != endpoint, let last = sourceLastSeen {
            if let k = others.firstIndex(where: { $0.endpoint == endpoint }) {
                others[k].lastSeen = time
                if others[k].role == .distinct && extraSource == endpoint {
                    others[k].kept += 1
                    return .extra
                }
            }
            // seq 65535 -> 0 is a step of 1.
            let step = header.sequence &- sourceSequence
            let continues = header.ssrc == sourceSSRC && step >= 1 && step <= 3
            let silence = time.seconds(since: last)
            let patience = min(max(3 * sourceInterval, 0.05), 0.5)
            let known = others.firstIndex(where: { $0.endpoint == endpoint })
            let distinct = known.map { others[$0].role == .distinct } ?? false
            if !distinct && (continues || silence >= patience) {
                // The stream moved, or the own source went quiet: this one takes over.
                // The old source is remembered as a possible copy (the two hops of a relay).
                if let known { others.remove(at: known) }
                if silence < patience { remember(current, ssrc: sourceSSRC, role: .copy, at: time) }
                return takeOver(endpoint, header, payload: payload, at: time)
            }
            return admitOther(endpoint, header, payload: payload, at: time, note: note)
        }
        return takeOver(endpoint, header, payload: payload, at: time)
    }

    /// Accepts a packet of the own stream (now from `endpoint`).
    private mutating func takeOver(_ endpoint: Endpoint, _ header: RTPHeader, payload: UnsafeRawBufferPointer, at time: MediaTime)
        -> Admission
    {
        if source == endpoint, let last = sourceLastSeen {
            let interval = time.seconds(since: last)
            if interval > 0 && interval < 1 { sourceInterval = interval }
        } else {
            sourceInterval = 0.02
        }
        source = endpoint
        sourceLastSeen = time
        sourceSSRC = header.ssrc
        sourceSequence = header.sequence
        guard !others.isEmpty else { return .own }
        let hash = StableHash.fnv1a64(payload)
        if recent == nil { recent = RecentPackets() }
        recent!.insert(ssrc: header.ssrc, sequence: header.sequence, hash: hash)
        // Copies that arrived before this packet are checked now.
        for k in others.indices where others[k].role == .copy {
            if let copy = others[k].unverified.take(ssrc: header.ssrc, sequence: header.sequence), copy != hash {
                others[k].role = .distinct
            }
        }
        return .own
    }

    /// A packet from a source other than the own one, which keeps sending.
    private mutating func admitOther(
        _ endpoint: Endpoint, _ header: RTPHeader, payload: UnsafeRawBufferPointer, at time: MediaTime, note: (String) -> Void
    ) -> Admission {
        let k = others.firstIndex(where: { $0.endpoint == endpoint }) ?? remember(endpoint, ssrc: header.ssrc, role: .copy, at: time)
        guard let k else { return drop(endpoint, header, at: time, note: note) }
        others[k].ssrc = header.ssrc
        if others[k].role == .copy {
            // A relay copy has the own stream's SSRC, sequence numbers and payload.
            let hash = StableHash.fnv1a64(payload)
            let distance = Int16(bitPattern: header.sequence &- sourceSequence)
            if header.ssrc != sourceSSRC || abs(Int(distance)) > RecentPackets.capacity {
                others[k].role = .distinct
            } else if let own = recent?.hash(ssrc: header.ssrc, sequence: header.sequence) {
                if own != hash { others[k].role = .distinct }
            } else {
                // Arrived before the own stream's packet: checked when that one comes.
                others[k].unverified.insert(ssrc: header.ssrc, sequence: header.sequence, hash: hash)
            }
            if others[k].role == .copy {
                others[k].copies += 1
                relayCopies += 1
                return .relayCopy
            }
            if others[k].copies > 0 {
                note("a stream from \(endpoint) (SSRC \(RTPHeader.format(ssrc: header.ssrc))) matched the leg's packets and then differed: kept from here")
            }
        }
        // A stream of its own: the extra stream, unless another extra is still sending.
        if let extra = extraSource, extra != endpoint,
           let e = others.firstIndex(where: { $0.endpoint == extra }),
           time.seconds(since: others[e].lastSeen) < LegSources.extraPatience {
            return drop(endpoint, header, at: time, note: note)
        }
        if extraSource != endpoint {
            extraSource = endpoint
            note("a second stream from \(endpoint) (SSRC \(RTPHeader.format(ssrc: header.ssrc))) sends this leg beside \(source.map { "\($0)" } ?? "the first"): kept and mixed into the leg's channel")
        }
        others[k].kept += 1
        return .extra
    }

    /// Counts a packet of a stream that could not be kept.
    private mutating func drop(_ endpoint: Endpoint, _ header: RTPHeader, at time: MediaTime, note: (String) -> Void) -> Admission {
        if let k = droppedSources.firstIndex(where: { $0.endpoint == endpoint && $0.ssrc == header.ssrc }) {
            droppedSources[k].dropped += 1
            droppedSources[k].lastSeen = time
        } else if droppedSources.count < LegSources.maxOtherSources {
            var other = Other(endpoint: endpoint, role: .distinct, ssrc: header.ssrc, firstSeen: time, lastSeen: time)
            other.dropped = 1
            droppedSources.append(other)
            note("a third stream from \(endpoint) (SSRC \(RTPHeader.format(ssrc: header.ssrc))) sends this leg while two others do: its packets are dropped")
        }
        return .dropped
    }

    /// Adds `endpoint` to the other sources, replacing the longest silent
    /// one when the table is full. Returns its index, or nil when every
    /// remembered source is still sending.
    @discardableResult
    private mutating func remember(_ endpoint: Endpoint, ssrc: UInt32, role: Role, at time: MediaTime) -> Int? {
        if let k = others.firstIndex(where: { $0.endpoint == endpoint }) { return k }
        let other = Other(endpoint: endpoint, role: role, ssrc: ssrc, firstSeen: time, lastSeen: time)
        if others.count < LegSources.maxOtherSources {
            others.append(other)
            return others.count - 1
        }
        guard let k = others.indices.min(by: { others[$0].lastSeen < others[$1].lastSeen }),
              time.seconds(since: others[k].lastSeen) >= LegSources.extraPatience, others[k].endpoint != extraSource
        else { return nil }
        others[k] = other
        return k
    }

    /// What the index says of the leg's sources.
    var facts: LegSourceFacts {
        var facts = LegSourceFacts()
        facts.extraSource = extraSource.map { "\($0)" }
        facts.dropped = droppedSources.map { ("\($0.endpoint)", $0.ssrc, $0.dropped) }
        facts.relayCopies = relayCopies
        return facts
    }
}
