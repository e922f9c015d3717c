import CallMedia
import CallrecCore
import RTP
import SIP

/// Finding streams that no signalling explains: the flows that look like
/// RTP and no call claims, each followed (its packets held) until it
/// confirms a stream (`RTPStreamCandidate.confirmation` packets in
/// sequence) or shows it is not one. Bounded by `maxCandidates` flows, a
/// flow silent for `candidateTimeout` seconds forgotten; what a flow held
/// without becoming a stream is counted `rtpUnmatched`. Owned by the
/// router's thread, like `CaptureProcessor`.
struct UnsignalledStreams {
    /// Flows that look like RTP followed at most before they confirm a stream.
    static let maxCandidates = 1024
    /// A candidate flow silent this long is forgotten, in seconds.
    static let candidateTimeout = 5.0

    private var candidates: [RTPStreamCandidate.Key: RTPStreamCandidate] = [:]
    private let diagnostics: Diagnostics

    init(diagnostics: Diagnostics) {
        self.diagnostics = diagnostics
    }

    /// Flows followed now.
    var count: Int { candidates.count }

    /// Follows one RTP packet of a flow no call claims. Returns the flow's
    /// candidate, taken out of the table, once this packet confirms it.
    mutating func follow(
        _ header: RTPHeader, bytes: UnsafeRawBufferPointer, _ key: RTPStreamCandidate.Key, at time: MediaTime, packet: Int
    ) -> RTPStreamCandidate? {
        // Out of the table while it changes, so its held packets are not copied.
        if var candidate = candidates.removeValue(forKey: key) {
            if candidate.extend(header, bytes: bytes, at: time) {
                if candidate.isConfirmed { return candidate }
                candidates[key] = candidate
                return nil
            }
            // The run broke: what it held was not a stream.
            diagnostics.count(.rtpUnmatched, by: candidate.held.count)
        }
        guard candidates.count < Self.maxCandidates else {
            diagnostics.count(.rtpStreamsOverLimit)
            diagnostics.count(.rtpUnmatched)
            return nil
        }
        if let candidate = RTPStreamCandidate(header, bytes: bytes, at: time, packet: packet) {
            candidates[key] = candidate
        } else {
            diagnostics.count(.rtpUnmatched)
        }
        return nil
    }

    /// Takes the flow at `key` out of the table, if it is followed.
    mutating func take(_ key: RTPStreamCandidate.Key) -> RTPStreamCandidate? {
        candidates.removeValue(forKey: key)
    }

    /// Forgets the flows silent past `candidateTimeout` at `time`.
    mutating func sweep(at time: MediaTime) {
        guard !candidates.isEmpty else { return }
        let stalled = candidates.filter { time.seconds(since: $0.value.lastArrival) > Self.candidateTimeout }
        for (key, candidate) in stalled {
            candidates.removeValue(forKey: key)
            diagnostics.count(.rtpUnmatched, by: candidate.held.count)
        }
    }

    /// Forgets every flow (the capture ended), counting what they held as unmatched.
    mutating func finish() {
        for candidate in candidates.values { diagnostics.count(.rtpUnmatched, by: candidate.held.count) }
        candidates.removeAll()
    }

    /// Forgets every flow (the run failed).
    mutating func removeAll() {
        candidates.removeAll()
    }
}

// MARK: - Calls without signalling

extension CaptureProcessor {
    /// A call without signalling that a SIP dialog claims within this many
    /// seconds of its start is dropped: its packets arrived before the SDP
    /// that explains them. An older one is committed and the dialog goes on.
    static let supersedeGrace = 2.0
    /// A call without signalling that has been silent this long (both legs)
    /// and then hears a new SSRC has ended: the ports carry the next call.
    static let unsignalledRestartGap = 5.0

    /// Follows a flow no call claims, until it confirms an RTP stream (a call
    /// without signalling) or shows it is not one.
    func follow(
        _ payload: UnsafeRawBufferPointer, header: RTPHeader?, from source: Endpoint, to destination: Endpoint, at time: MediaTime
    ) throws {
        guard let header else {
            diagnostics.count(.rtpUnmatched)
            return
        }
        let key = RTPStreamCandidate.Key(source: source, destination: destination)
        if let confirmed = streams.follow(header, bytes: payload, key, at: time, packet: packetNumber) {
            try confirm(confirmed, key, at: time)
        }
    }

    /// Makes a confirmed stream part of a call.
    ///
    /// - A stream whose SSRC is a leg of a call in flight, at a nearby
    ///   sequence number, is that leg seen at another hop (a gateway or relay
    ///   that keeps the SSRC): its endpoints join that call, where it counts
    ///   as a second path.
    /// - Otherwise it starts a call without signalling, together with the
    ///   stream that mirrors it (source and destination swapped) if that one
    ///   is still a candidate. Channel 0 ("caller") is the stream whose first
    ///   packet was captured first; the mirror, now or later, is channel 1.
    func confirm(_ candidate: RTPStreamCandidate, _ key: RTPStreamCandidate.Key, at time: MediaTime) throws {
        if let known = legsBySSRC[candidate.ssrc], let call = calls[known.call],
           let sequence = call.legs[known.side.rawValue].sequence(of: candidate.ssrc),
           let last = candidate.held.last?.bytes, last.count >= 4 {
            // Within 500 packets either way, modulo 2^16.
            let distance = Int16(bitPattern: (UInt16(last[2]) << 8 | UInt16(last[3])) &- sequence)
            if abs(Int(distance)) < 500 {
                try claim(key.source, for: call, side: known.side, at: time)
                try claim(key.destination, for: call, side: known.side.opposite, at: time)
                try replay([(candidate, key, known.side)], to: call)
                return
            }
        }
        let mirrorKey = RTPStreamCandidate.Key(source: key.destination, destination: key.source)
        let mirror = streams.take(mirrorKey)
        let mirrorFirst = mirror.map { $0.held[0].time < candidate.held[0].time } ?? false
        let (first, firstKey) = mirrorFirst ? (mirror!, mirrorKey) : (candidate, key)
        let start = first.held[0].time
        let name = "rtp:\(firstKey.source)-\(firstKey.destination)/\(RTPHeader.format(ssrc: first.ssrc))"
        let description = CallDescription(callID: name, invitedAt: start, callerSignalling: firstKey.source)
        guard let call = startCall(description, signalled: false, at: start) else {
            diagnostics.count(.rtpUnmatched, by: candidate.held.count + (mirror?.held.count ?? 0))
            return
        }
        call.encrypted = candidate.looksEncrypted || mirror?.looksEncrypted == true
        call.firstPacket = min(candidate.firstPacket, mirror?.firstPacket ?? candidate.firstPacket)
        try claim(firstKey.source, for: call, side: .caller, at: time)
        try claim(firstKey.destination, for: call, side: .callee, at: time)
        var streams = [(candidate, key, mirrorFirst ? CallSide.callee : .caller)]
        if let mirror { streams.append((mirror, mirrorKey, mirrorFirst ? .caller : .callee)) }
        try replay(streams, to: call)
    }

    /// Delivers the packets candidates held, in capture order.
    private func replay(_ streams: [(RTPStreamCandidate, RTPStreamCandidate.Key, CallSide)], to call: RoutedCall) throws {
        var packets: [(time: MediaTime, bytes: [UInt8], header: RTPHeader, sender: CallSide, key: RTPStreamCandidate.Key)] = []
        for (candidate, key, sender) in streams {
            for held in candidate.held { packets.append((held.time, held.bytes, held.header, sender, key)) }
        }
        for packet in packets.sorted(by: { $0.time < $1.time }) {
            try packet.bytes.withUnsafeBytes { bytes in
                try deliver(
                    bytes, header: packet.header, to: call, from: packet.sender, source: packet.key.source,
                    destination: packet.key.destination, at: packet.time)
            }
        }
    }

    /// Whether a packet for a call without signalling is the start of the
    /// next call on the same ports: a new SSRC after `unsignalledRestartGap`
    /// seconds in which neither leg sent anything.
    func startsAnotherCall(_ header: RTPHeader, on call: RoutedCall, from sender: CallSide, at time: MediaTime) -> Bool {
        guard time.seconds(since: call.lastActivity) >= CaptureProcessor.unsignalledRestartGap else { return false }
        return !call.legs[sender.rawValue].ssrcs.contains(header.ssrc)
    }

    /// A call without signalling whose endpoint a SIP dialog claims: dropped
    /// when it is younger than `supersedeGrace`, else committed as it is.
    func supersede(_ call: RoutedCall, at time: MediaTime) throws {
        if time.seconds(since: call.createdAt) < CaptureProcessor.supersedeGrace {
            forget(call)
            try executor.discard(call.session)
        } else {
            try end(key: call.key, reason: .superseded, at: time)
        }
    }
}
