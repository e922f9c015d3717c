import CallrecCore
import RTP
import SIP

/// The RTP side of `Inspector`: which endpoints SDP announced, which UDP is
/// RTP, and one `RTPStreamStatistics` per stream (source, destination, SSRC).
///
/// A struct driven through one mutating call per packet, so the per-packet
/// path makes one exclusive access to the inspector's state and allocates
/// nothing once a stream exists. At most `maxStreams` streams and
/// `maxEndpoints` announced endpoints are kept; more are counted and dropped.
struct RTPStreamTable {
    /// What an SDP body said about one media endpoint.
    struct AnnouncedMedia {
        var callID: String?
        var media: MediaDescription
    }

    /// One stream's identity: tshark's (source, destination, SSRC).
    struct StreamKey: Hashable {
        var source: Endpoint
        var destination: Endpoint
        var ssrc: UInt32

        /// Every field, packed: two machine words when both addresses are IPv4
        /// (the common case: a third of the hashing work of field-by-field),
        /// else a marker and five words. Both packings are one-to-one, so no
        /// crafted set of keys collides more than chance allows under the seeded hash.
        func hash(into hasher: inout Hasher) {
            let portsAndSSRC = UInt64(source.port) << 48 | UInt64(destination.port) << 32 | UInt64(ssrc)
            if source.address.isIPv4 && destination.address.isIPv4 {
                hasher.combine(UInt64(source.address.ipv4Value) << 32 | UInt64(destination.address.ipv4Value))
                hasher.combine(portsAndSSRC)
            } else {
                hasher.combine(UInt8(6))
                hasher.combine(source.address.high)
                hasher.combine(source.address.low)
                hasher.combine(destination.address.high)
                hasher.combine(destination.address.low)
                hasher.combine(portsAndSSRC)
            }
        }
    }

    /// One stream's state.
    struct Stream {
        var key: StreamKey
        var statistics = RTPStreamStatistics()
        var firstPayloadType: UInt8
        var media: AnnouncedMedia?
        var foundBy: StreamReport.Discovery
        /// The clock rate of `clockPayloadType`, kept so the SDP is not searched per packet.
        var clockPayloadType: UInt8 = 0xFF
        var clockRate = 0
    }

    let maxStreams: Int
    let maxEndpoints: Int
    /// Whether UDP that no SDP named is tried as RTP.
    let heuristic: Bool
    /// The capture time of the latest packet the inspector took (kept here so
    /// the per-packet path makes one access to the inspector's state).
    var lastTime: MediaTime? = nil
    private var announced: [Endpoint: AnnouncedMedia] = [:]
    private(set) var streams: [Stream] = []
    private var index: [StreamKey: Int] = [:]

    /// UDP services above port 1024 that tshark decodes by their port before any heuristic:
    /// OpenVPN, L2TP, RADIUS, SSDP, STUN, WS-Discovery, IPsec NAT traversal, mDNS, LLMNR.
    static let servicePorts: Set<UInt16> = [1194, 1701, 1812, 1813, 1900, 3478, 3479, 3702, 4500, 5353, 5355]

    init(maxStreams: Int, maxEndpoints: Int, heuristic: Bool) {
        self.maxStreams = maxStreams
        self.maxEndpoints = maxEndpoints
        self.heuristic = heuristic
    }

    /// Remembers every media endpoint an SDP body names, as tshark sets up an RTP conversation for each.
    mutating func announce(_ sdp: SessionDescription, callID: String?) {
        for media in sdp.media where media.port != 0 {
            guard let address = media.connection ?? sdp.connection else { continue }
            let endpoint = Endpoint(address: address, port: media.port)
            if announced[endpoint] == nil && announced.count >= maxEndpoints { continue }
            announced[endpoint] = AnnouncedMedia(callID: callID, media: media)
        }
    }

    /// Takes one UDP payload that is not SIP: a packet of a known stream, the
    /// first of a new one (to or from an announced endpoint, or passing the
    /// heuristic), or not RTP.
    mutating func receive(
        _ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime,
        diagnostics: Diagnostics
    ) {
        lastTime = time
        // RFC 5761: with the marker bit, payload types 64-95 are RTCP packet types 192-223.
        guard let header = RTPHeader(payload), !(header.marker && (64...95).contains(header.payloadType)) else {
            if !announced.isEmpty && (announced[destination] != nil || announced[source] != nil) {
                diagnostics.count(.rtpMalformed)
            }
            return
        }
        let key = StreamKey(source: source, destination: destination, ssrc: header.ssrc)
        let k: Int
        if let known = index[key] {
            k = known
        } else {
            let media = announced[destination] ?? announced[source]
            if media == nil {
                // tshark 4.0's heuristic takes any port (a reverse-direction stream to an odd port
                // too), after the dissectors registered for a port have declined the packet; callrec
                // keeps out the well-known services below 1024 and the ones above that tshark decodes
                // by port (LLMNR on 5355 would otherwise read as RTP).
                guard heuristic, source.port >= 1024, destination.port >= 1024,
                      !Self.servicePorts.contains(source.port), !Self.servicePorts.contains(destination.port)
                else { return }
            }
            guard streams.count < maxStreams else {
                diagnostics.count(.rtpStreamsDroppedOverLimit)
                return
            }
            k = streams.count
            index[key] = k
            streams.append(Stream(key: key, firstPayloadType: header.payloadType, media: media, foundBy: media == nil ? .heuristic : .sdp))
        }
        diagnostics.count(.rtpPackets)
        if streams[k].clockPayloadType != header.payloadType {
            let format = streams[k].media?.media.format(for: header.payloadType)
            streams[k].clockPayloadType = header.payloadType
            streams[k].clockRate = RTPPayloadType.tsharkClockRate(
                header.payloadType, encoding: format?.encoding, declaredRate: format?.clockRate ?? 0)
        }
        streams[k].statistics.record(
            sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: streams[k].clockRate,
            marker: header.marker, payloadType: header.payloadType)
    }
}
