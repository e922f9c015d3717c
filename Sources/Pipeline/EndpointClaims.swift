import CallrecCore
import SIP

/// Which call receives media at each endpoint: the router's table of the
/// endpoints calls claimed (from their SDP, or for a call without
/// signalling from its first stream), and of the endpoints of calls that
/// just ended, whose late packets are dropped for a moment rather than
/// taken for a new call.
///
/// An RTP packet goes to the call that claimed its destination (that party
/// receives it, so the other one sent it), preferring the call that also
/// claimed its source; failing that, to the call that claimed its source
/// (symmetric RTP behind NAT). When several calls claimed the same endpoint
/// (two dialogs of a B2BUA with direct media, or a later call on the same
/// ports), the most recent claim wins, for both directions alike.
///
/// Bounded: `maxClaimsPerEndpoint` calls per endpoint, `maxQuarantined`
/// ended endpoints. Owned by the router's thread, like `CaptureProcessor`.
struct EndpointClaims {
    /// A call's claim on a media endpoint: the call's `side` receives there.
    struct Claim {
        var call: Int
        var side: CallSide
        /// False for a stream of the call that is not recorded (video, fax): its packets are counted and dropped.
        var audio = true
        /// When the claim was made or last confirmed by signalling.
        var at: MediaTime
    }

    /// Calls that may claim one endpoint at once (a later claim pushes out the oldest).
    static let maxClaimsPerEndpoint = 4
    /// Seconds during which RTP to or from an ended call's media is dropped
    /// (the packets in flight after a BYE), not taken for a new call.
    static let endedMediaQuarantine = 2.0
    /// Ended endpoints remembered at most.
    static let maxQuarantined = 4096

    private var claims: [Endpoint: [Claim]] = [:]
    /// Endpoints of calls that just ended, and until when their RTP is dropped.
    private var quarantine: [Endpoint: MediaTime] = [:]

    /// Endpoints claimed by calls in flight.
    var count: Int { claims.count }

    /// The calls that claimed `endpoint`, oldest claim first.
    func claimants(of endpoint: Endpoint) -> [Claim] { claims[endpoint] ?? [] }

    /// Records that call `key`'s `side` receives media at `endpoint`.
    mutating func claim(_ endpoint: Endpoint, for key: Int, side: CallSide, audio: Bool, at time: MediaTime) {
        var list = claims.removeValue(forKey: endpoint) ?? []
        if let k = list.firstIndex(where: { $0.call == key }) {
            list[k].side = side
            list[k].audio = audio
            list[k].at = time
        } else {
            list.append(Claim(call: key, side: side, audio: audio, at: time))
            if list.count > Self.maxClaimsPerEndpoint { list.removeFirst() }
        }
        claims[endpoint] = list
    }

    /// Withdraws call `key`'s claim on `endpoint`.
    mutating func release(_ endpoint: Endpoint, of key: Int) {
        guard var list = claims.removeValue(forKey: endpoint) else { return }
        list.removeAll { $0.call == key }
        if !list.isEmpty { claims[endpoint] = list }
    }

    /// The call a packet from `source` to `destination` belongs to, the side
    /// that sent it, and whether it is the call's audio.
    func route(from source: Endpoint, to destination: Endpoint) -> (call: Int, sender: CallSide, audio: Bool)? {
        var best: (claim: Claim, sender: CallSide, score: Int, at: MediaTime)? = nil
        func consider(_ claim: Claim, _ sender: CallSide, _ score: Int, _ at: MediaTime) {
            if let b = best, b.score > score || (b.score == score && b.at >= at) { return }
            best = (claim, sender, score, at)
        }
        let sourceClaims = claims[source]
        if let list = claims[destination] {
            for c in list {
                // The destination's party received it; the other party sent it.
                if let s = sourceClaims?.first(where: { $0.call == c.call && $0.side == c.side.opposite }) {
                    consider(c, c.side.opposite, 3, max(c.at, s.at))
                } else {
                    consider(c, c.side.opposite, 2, c.at)
                }
            }
        }
        if best == nil, let list = sourceClaims {
            // Symmetric RTP: a party sends from the port it receives on.
            for c in list { consider(c, c.side, 1, c.at) }
        }
        guard let b = best else { return nil }
        return (b.claim.call, b.sender, b.claim.audio)
    }

    // MARK: - Ended calls' endpoints

    /// Drops `endpoints` of a call that ended at `time` for
    /// `endedMediaQuarantine` seconds, those no other call claims.
    mutating func quarantine(_ endpoints: [(endpoint: Endpoint, side: CallSide)], endedAt time: MediaTime) {
        let until = time.advanced(byNanoseconds: Int64(Self.endedMediaQuarantine * 1e9))
        for (endpoint, _) in endpoints where claims[endpoint] == nil && quarantine.count < Self.maxQuarantined {
            quarantine[endpoint] = until
        }
    }

    /// Whether a packet from `source` to `destination` at `time` is late media of an ended call.
    func isQuarantined(from source: Endpoint, to destination: Endpoint, at time: MediaTime) -> Bool {
        guard let until = quarantine[destination] ?? quarantine[source] else { return false }
        return time < until
    }

    /// Takes `endpoint` out of quarantine: a call claims it, or its old call's next stream is a new call's.
    mutating func lift(_ endpoint: Endpoint) {
        quarantine.removeValue(forKey: endpoint)
    }

    /// Forgets the quarantine that is over by `time`.
    mutating func expire(at time: MediaTime) {
        if !quarantine.isEmpty { quarantine = quarantine.filter { $0.value > time } }
    }

    /// Forgets every claim (the run failed).
    mutating func removeAll() {
        claims.removeAll()
    }
}
