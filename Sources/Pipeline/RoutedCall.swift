import CallMedia
import CallrecCore
import Catalog
import RTP
import SIP

/// What the router knows about one call in flight, beside its `CallSession`:
/// the media endpoints it claimed, which source currently feeds each leg,
/// the traffic seen per leg (also for legs that are never decoded: SRTP, an
/// unsupported codec), and the times that decide when it has gone idle.
final class RoutedCall {
    /// Endpoints claimed at most per call (audio and its other streams); a
    /// call that moves its media more often forgets its oldest endpoints.
    static let maxEndpoints = 16
    /// SSRCs remembered per leg for the report.
    static let maxSSRCs = 8

    /// What one leg (the audio one party sends) looked like on the wire.
    struct LegTraffic {
        /// RTP packets routed to the leg (SRTP included).
        var packets = 0
        /// SRTP packets among them (never decoded).
        var encryptedPackets = 0
        /// SSRCs in order of appearance, at most `maxSSRCs`, and the latest sequence number of each.
        var ssrcs: [UInt32] = []
        var sequences: [UInt16] = []
        /// Payload types seen (iterated in ascending order).
        var payloadTypes = PayloadTypeSet()
        /// Statistics of the SRTP packets never decrypted (their header is in clear), per stream as a decoded leg keeps its own.
        var encryptedStatistics = LegStreamStatistics()
        /// Which sources send the leg, and which of them is recorded how.
        var sources = LegSources()
        /// Ciphertext found on the leg although the SDP says plain RTP (CiphertextGuard).
        var ciphertext = LegCiphertext()

        /// The (source, destination) pairs the leg's packets took, numbered in order of
        /// appearance (at most `maxPaths`; beyond, the last number is shared).
        private var paths: [(source: Endpoint, destination: Endpoint)] = []
        static let maxPaths = 8

        /// The number of the path from `source` to `destination`: the leg's statistics are
        /// kept per SSRC and path, as tshark keys a stream (the same SSRC sent to a new port
        /// after a re-INVITE is a second stream, and the gap between them is not loss).
        mutating func path(from source: Endpoint, to destination: Endpoint) -> Int {
            if let last = paths.last, last.source == source, last.destination == destination { return paths.count - 1 }
            if let k = paths.firstIndex(where: { $0.source == source && $0.destination == destination }) { return k }
            guard paths.count < Self.maxPaths else { return Self.maxPaths - 1 }
            paths.append((source, destination))
            return paths.count - 1
        }

        /// Counts one packet. Returns true when its SSRC is new to the leg.
        mutating func record(_ header: RTPHeader) -> Bool {
            packets += 1
            payloadTypes.insert(header.payloadType)
            if let k = ssrcs.firstIndex(of: header.ssrc) {
                sequences[k] = header.sequence
                return false
            }
            if ssrcs.count == RoutedCall.maxSSRCs {
                ssrcs.removeFirst()
                sequences.removeFirst()
            }
            ssrcs.append(header.ssrc)
            sequences.append(header.sequence)
            return true
        }

        /// Packets of the leg's extra stream (a second source kept beside the own one), and its SSRCs.
        var extraPackets = 0
        var extraSSRCs: [UInt32] = []

        /// Counts one packet of the extra stream. Returns true when its SSRC is new to the leg.
        mutating func recordExtra(_ header: RTPHeader) -> Bool {
            extraPackets += 1
            payloadTypes.insert(header.payloadType)
            guard !extraSSRCs.contains(header.ssrc), !ssrcs.contains(header.ssrc) else { return false }
            if extraSSRCs.count == RoutedCall.maxSSRCs { extraSSRCs.removeFirst() }
            extraSSRCs.append(header.ssrc)
            return true
        }

        /// The latest sequence number of `ssrc` on this leg, if the leg carries it.
        func sequence(of ssrc: UInt32) -> UInt16? {
            ssrcs.firstIndex(of: ssrc).map { sequences[$0] }
        }

        mutating func recordEncrypted(_ header: RTPHeader, path: Int, at time: MediaTime, clockRate: Int) {
            encryptedPackets += 1
            encryptedStatistics.record(header, path: path, at: time, clockRate: clockRate)
        }
    }

    /// The SRTP sessions that may decrypt one leg: one per SDES key its
    /// sender announced (a re-offer may bring new ones), tried in turn until
    /// one authenticates a packet; that one is tried first from then on.
    final class LegDecryption {
        /// Sessions at most per leg.
        static let maxSessions = 4
        let keys: [SDESCrypto]
        private(set) var sessions: [SRTPSession]

        init(keys: [SDESCrypto], keeping previous: LegDecryption?) {
            self.keys = keys
            sessions = keys.compactMap { SRTPSession(suite: $0.suite, keySalt: $0.keySalt) }
            // Packets still in flight under the old key.
            if let old = previous?.sessions.first { sessions.append(old) }
            if sessions.count > LegDecryption.maxSessions { sessions.removeLast(sessions.count - LegDecryption.maxSessions) }
        }

        /// Decrypts the first `count` bytes of `buffer` (a copy of `packet`) in place.
        /// Returns the plain RTP length, or nil when no session authenticates it.
        func decrypt(_ packet: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
            guard packet.count <= buffer.count else { return nil }
            for k in sessions.indices {
                // A failed attempt may have touched the copy: start each from the packet.
                buffer.copyMemory(from: packet)
                if let length = sessions[k].unprotect(buffer, count: packet.count) {
                    if k > 0 { sessions.swapAt(0, k) }
                    return length
                }
            }
            return nil
        }
    }

    /// The SRTP decryption of each leg, indexed by the sending side; nil without keys.
    private(set) var decryption: [LegDecryption?] = [nil, nil]

    /// The router's key for the call (never reused within a capture).
    let key: Int
    let session: CallSession
    /// Endpoints this call claimed and which side receives at each, oldest first.
    private(set) var endpoints: [(endpoint: Endpoint, side: CallSide)] = []
    /// The traffic of each leg, indexed by the sending side's raw value.
    var legs = [LegTraffic(), LegTraffic()]
    /// When the call last saw one of its own packets (RTP or SIP), in capture time.
    var lastActivity: MediaTime
    /// When the call was created (first signalling, or first RTP without signalling).
    let createdAt: MediaTime
    /// The media is SRTP (from SDP, or recognised on the wire for a call without signalling).
    var encrypted = false
    /// ZRTP packets (RFC 6189) seen on the call's media ports: SRTP may follow that the SDP does not show.
    var zrtpPackets = 0
    /// What the recording rules decided when the call was identified; a skipped
    /// call's packets never reach its session (the router stops them).
    var decision = RuleDecision.unmatched

    /// The capture's numbers of the first and the latest packet that belonged to the call.
    var firstPacket: Int
    var lastPacket: Int

    init(key: Int, session: CallSession, description: CallDescription, at time: MediaTime, packet: Int) {
        self.key = key
        self.session = session
        self.description = description
        self.lastActivity = time
        self.createdAt = time
        firstPacket = packet
        lastPacket = packet
    }

    /// Notes one of the call's own packets (RTP or SIP): when, and its number in the capture.
    func saw(at time: MediaTime, packet: Int) {
        lastActivity = time
        lastPacket = max(lastPacket, packet)
    }

    /// The call as signalling describes it now (the router's copy; the
    /// session gets each change through its executor, in packet order).
    var description: CallDescription

    /// Whether either party's current SDP puts the media on hold (kept by `update`).
    var onHold = false
    /// Whether the INVITE was answered (kept by `update`).
    var answered = false

    /// Takes what the router keeps from a new or changed description.
    func update(from description: CallDescription) {
        onHold = CallSide.allCases.contains { description.media(of: $0)?.media.isHold == true }
        answered = description.answeredAt != nil
        encrypted = CallSide.allCases.contains { description.media(of: $0)?.media.isSecure == true }
        for side in CallSide.allCases {
            // A party encrypts what it sends with the key of its own SDP.
            let keys = description.media(of: side)?.media.crypto ?? []
            if keys.isEmpty || decryption[side.rawValue]?.keys == keys { continue }
            decryption[side.rawValue] = LegDecryption(keys: keys, keeping: decryption[side.rawValue])
        }
    }

    /// Adds `endpoint` to the call's claims. Returns the endpoint forgotten to
    /// make room, if any.
    func claim(_ endpoint: Endpoint, side: CallSide) -> Endpoint? {
        if let k = endpoints.firstIndex(where: { $0.endpoint == endpoint }) {
            endpoints[k].side = side
            return nil
        }
        endpoints.append((endpoint, side))
        if endpoints.count > RoutedCall.maxEndpoints { return endpoints.removeFirst().endpoint }
        return nil
    }

    /// Sources of streams not recorded (not the call's audio) that a note named, at most `maxEndpoints`.
    private var notedStreams: [Endpoint] = []

    /// Whether a skipped stream from `source` is yet to be noted: true once per source.
    func noteSkippedStream(from source: Endpoint) -> Bool {
        guard notedStreams.count < RoutedCall.maxEndpoints, !notedStreams.contains(source) else { return false }
        notedStreams.append(source)
        return true
    }

    /// Forgets which source feeds each leg (the media moved: the next source to send is taken).
    func resetSources() {
        for k in legs.indices { legs[k].sources.reset() }
    }

    /// What becomes of a packet (`header`; `payload` is its RTP payload) of
    /// `side`'s leg from `source`: the leg's own stream, its extra stream, a
    /// relay copy merged away, or a third stream dropped (`LegSources`).
    func admit(
        _ source: Endpoint, _ header: RTPHeader, payload: UnsafeRawBufferPointer, for side: CallSide, at time: MediaTime,
        note: (String) -> Void
    ) -> LegSources.Admission {
        legs[side.rawValue].sources.admit(source, header, payload: payload, at: time, note: note)
    }
}
