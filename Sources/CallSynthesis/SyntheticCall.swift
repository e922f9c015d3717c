import CallrecCore
import Codecs
import Foundation
import RTP

/// A SIP call with RTP in both directions, generated from speech-like audio:
/// INVITE with SDP offer, 100, 180, 200 with SDP answer, ACK, RTP both ways,
/// BYE and its 200. Returns the capture bytes and each leg's source audio,
/// so tests can check the recording against what was said.
///
/// The scenario properties (all off by default, which gives the plain call
/// above byte for byte) vary the call the way real ones vary: SIP over TCP,
/// a 401 challenge, late offer, early media, a rejected or cancelled call, a
/// re-INVITE that moves one party's media, a hold, SRTP, no BYE, no
/// signalling at all. IPv6 comes from giving IPv6 endpoints. The
/// impairments (`callerImpairments`, `calleeImpairments`) add what networks
/// and phones do to RTP: jitter, loss, reordering, duplicates, wraps, SSRC
/// changes, silence suppression, clock drift, RFC 4733 events.
public struct SyntheticCall {
    public var callID = "a84b4c76e66710@pc33.example.com"
    public var callerNumber = "+4681234567"
    public var calleeNumber = "+4687654321"
    public var callerSignalling = Endpoint(address: IPAddress("192.0.2.10")!, port: 5060)
    public var calleeSignalling = Endpoint(address: IPAddress("198.51.100.20")!, port: 5060)
    public var callerMedia = Endpoint(address: IPAddress("192.0.2.10")!, port: 40_000)
    public var calleeMedia = Endpoint(address: IPAddress("198.51.100.20")!, port: 50_000)
    /// The codec the caller sends (PCMU, PCMA or G.722).
    public var codec: AudioCodec = .pcmu
    /// The codec the callee sends; nil: the same as the caller. Both SDPs
    /// offer both codecs, so a call can carry a G.711 leg and a G.722 leg.
    public var calleeCodec: AudioCodec? = nil
    /// Packetisation in milliseconds.
    public var ptime = 20
    /// Seconds of media in each direction.
    public var duration = 6.0
    /// Capture time of the INVITE.
    public var start = MediaTime(seconds: 1_795_000_000, microseconds: 0)
    /// Seconds from INVITE to 200 OK.
    public var ringing = 1.0
    /// The callee's first RTP packet leaves this long after the caller's.
    public var calleeDelay = 0.010
    /// Largest random network jitter added to each packet's capture time, in seconds.
    public var networkJitter = 0.002
    public var seed: UInt64 = 1
    public var callerVoice = SpeechSynth.Voice.low
    public var calleeVoice = SpeechSynth.Voice.high
    /// What the network and the sender do to each leg's packets.
    public var callerImpairments = LegImpairments()
    public var calleeImpairments = LegImpairments()
    /// Audio each party says instead of the generated speech, at its codec's
    /// rate (for measuring with real or synthesized speech); the call lasts
    /// `duration` or until the shorter of the two ends.
    public var callerSpeech: [Int16]? = nil
    public var calleeSpeech: [Int16]? = nil

    // MARK: Scenario

    /// A party of the call.
    public enum Party: Sendable, Equatable {
        case caller, callee
    }

    /// How SIP travels.
    public enum Transport: Sendable, Equatable {
        case udp
        /// One TCP connection from the caller's signalling endpoint to the
        /// callee's; each write is cut into segments of at most `segmentSize`
        /// bytes, and the 100 and 180 go out in one write (two messages in one segment).
        case tcp(segmentSize: Int)
    }

    /// A re-INVITE from `party`, `at` seconds after the caller's first RTP
    /// packet, that moves its media to `to`: from then on it sends from `to`
    /// and the other party sends to `to`.
    public struct MediaMove: Sendable {
        public var party: Party
        public var at: Double
        public var to: Endpoint
        public init(party: Party, at: Double, to: Endpoint) {
            self.party = party
            self.at = at
            self.to = to
        }
    }

    /// The caller holds the call from `from` to `to` seconds after its first
    /// RTP packet: a re-INVITE with `a=sendonly` (or `c=0.0.0.0` with
    /// `rfc2543`), answered `a=recvonly`; nobody sends RTP until a second
    /// re-INVITE with `a=sendrecv` resumes the call.
    public struct Hold: Sendable {
        public var from: Double
        public var to: Double
        public var rfc2543: Bool
        public init(from: Double, to: Double, rfc2543: Bool = false) {
            self.from = from
            self.to = to
            self.rfc2543 = rfc2543
        }
    }

    /// How SIP is carried.
    public var transport = Transport.udp
    /// Whether the SIP is in the capture at all (false: RTP only).
    public var signalled = true
    /// The first INVITE has no credentials: a 401 and its ACK, then the INVITE again (CSeq + 1).
    public var challenge = false
    /// The INVITE carries no SDP: the 200 makes the offer and the ACK answers.
    public var lateOffer = false
    /// The callee answers 183 with SDP instead of 180 and starts its RTP
    /// right away, before the answer (its audio runs from 0.05 s).
    public var earlyMedia = false
    /// The final answer to the INVITE: 200, or 3xx-6xx to reject the call
    /// (the callee's early media, if any, stops there; nobody else sends).
    public var finalStatus = 200
    /// The caller cancels the INVITE instead of the final answer (487 follows).
    public var cancelled = false
    public var move: MediaMove? = nil
    public var hold: Hold? = nil
    /// A re-INVITE from the caller, `at` seconds after its first RTP packet,
    /// that moves both legs from `codec` to `to` (answered with `to` alone);
    /// both legs send `to` from then on. `offeredAtStart`: the caller's first
    /// offer lists `to` beside `codec` and the answer `codec` alone (what a
    /// phone that could do more offers); else neither first SDP names `to`.
    public struct CodecChange: Sendable {
        public var at: Double
        public var to: AudioCodec
        public var offeredAtStart: Bool
        public init(at: Double, to: AudioCodec, offeredAtStart: Bool = true) {
            self.at = at
            self.to = to
            self.offeredAtStart = offeredAtStart
        }
    }
    public var codecChange: CodecChange? = nil
    /// Every audio codec offered and sent under this dynamic payload type instead of its
    /// static one (as some phones number them): with a `codecChange` whose `to` is not
    /// offered at the start, the re-INVITE gives the same payload type a new codec.
    public var audioPayloadType: UInt8? = nil
    /// SRTP: RTP/SAVP with a=crypto (AES_CM_128_HMAC_SHA1_80), each party's
    /// packets encrypted with the key in its own SDP.
    public var srtp = false
    /// Where the SRTP keys are, with `srtp`.
    public enum SRTPKeys: Sendable {
        /// Each party's key in its own SDP (SDES), and the packets encrypted with it.
        case inSDP
        /// No a=crypto: the keys were exchanged elsewhere (DTLS-SRTP); packets are noise with an 80-bit tag.
        case absent
        /// SDES keys that authenticate nothing: packets are noise with an 80-bit tag.
        case wrong
    }
    public var srtpKeys = SRTPKeys.inSDP
    /// ZRTP (RFC 6189) while the SDP says plain RTP/AVP: this many seconds
    /// after the caller's first RTP packet both parties run the handshake on
    /// their media ports (version-0 packets with the `ZRTP` cookie), and
    /// from `SyntheticZRTP.handshakeLength` later every RTP packet (RFC 4733
    /// events too) is SRTP with a 32-bit tag, keyed by nothing the capture
    /// shows. The audio before it is in clear. nil: no ZRTP.
    public var zrtpAt: Double? = nil
    /// Whether the call ends with a BYE in the capture.
    public var bye = true
    /// Header lines (each ending in CRLF) added to the initial INVITE, for hostile input.
    public var inviteExtraHeaders = ""
    /// The largest IP packet the signalling path carries: a SIP datagram over UDP
    /// that does not fit is sent as IPv4 fragments of at most this size (nil: never fragmented).
    public var signallingMTU: Int? = nil
    /// The SDP offers and answers video too (H.264, each party's media port + 2) and both parties send it, 25 frames a second.
    public var video = false
    /// Every SIP message is captured this many seconds late (SIP and RTP mirrored from different links).
    public var signallingDelay = 0.0
    /// The capture starts this many seconds after the INVITE: earlier packets are not in it (a mirror started mid-call).
    public var captureFrom: Double? = nil
    /// The initial INVITE (the one answered) is not in the capture, as when a
    /// fragment of it was lost on the mirror port: the call shows from its 100 on.
    public var inviteLost = false

    public init() {}

    /// The plain call with its own conversation (`seed`) of `duration` seconds a leg.
    public init(seed: UInt64, duration: Double) {
        self.seed = seed
        self.duration = duration
    }

    /// What the generator produced.
    public struct Output {
        /// The classic pcap file.
        public var pcap: [UInt8]
        /// The audio each party spoke, at its codec's rate (16 kHz for G.722;
        /// with a `codecChange`, the wider codec's), starting at its first RTP packet.
        public var callerAudio: [Int16]
        public var calleeAudio: [Int16]
        /// Capture time of each leg's first RTP packet.
        public var callerFirstPacket: MediaTime
        public var calleeFirstPacket: MediaTime
        /// RTP packets per leg, as the sender numbered them (before loss and duplication).
        public var packetsPerLeg: Int
        /// What the impairments did to each leg: [caller, callee].
        public var legReports: [LegReport]
        /// RTP packets each leg actually sent (after a hold, a rejection or a cancel removed some).
        public var callerPackets: Int { legReports[0].captured }
        public var calleePackets: Int { legReports[1].captured }
        /// When each party spoke (talk spurts, seconds from its first RTP packet): [caller, callee].
        public var spurts: [[(Double, Double)]]
    }

    /// What happened to one leg's packets on the way.
    public struct LegReport: Sendable {
        /// Packets dropped by the network.
        public var dropped = 0
        /// Extra copies delivered.
        public var duplicated = 0
        /// Packets delivered after a later one.
        public var reordered = 0
        /// Packets not sent because the speaker was silent.
        public var suppressed = 0
        /// Packets captured on this leg (what a capture tool counts).
        public var captured = 0
        /// The SSRCs used, in order.
        public var ssrcs: [UInt32] = []
    }

    /// The codec each leg sends: caller, callee.
    var legCodecs: (caller: AudioCodec, callee: AudioCodec) { (codec, calleeCodec ?? codec) }

    /// The rate each party's audio is rendered at: its codec's, or the wider
    /// of the two with a codec change (the narrower codec's packets take every other sample pair's mean).
    func audioRate(_ legCodec: AudioCodec) -> Int {
        max(legCodec.sampleRate, codecChange?.to.sampleRate ?? 0)
    }

    /// Whether the call is answered.
    var answered: Bool { !cancelled && finalStatus < 300 }

    public func build() -> Output {
        let codecs = legCodecs
        let spurts = SpeechSynth.conversation(duration: duration, seed: seed)
        let rates = (caller: audioRate(codecs.caller), callee: audioRate(codecs.callee))
        var callerAudio = callerSpeech ?? SpeechSynth(sampleRate: rates.caller, voice: callerVoice)
            .render(duration: duration, spurts: spurts.caller, seed: seed &+ 11)
        var calleeAudio = calleeSpeech ?? SpeechSynth(sampleRate: rates.callee, voice: calleeVoice)
            .render(duration: duration, spurts: spurts.callee, seed: seed &+ 23)
        callerImpairments.addBackground(to: &callerAudio, rate: rates.caller, seed: seed &+ 31)
        calleeImpairments.addBackground(to: &calleeAudio, rate: rates.callee, seed: seed &+ 37)
        let duration = min(
            duration, Double(callerAudio.count) / Double(rates.caller),
            Double(calleeAudio.count) / Double(rates.callee))
        var rng = SeededRandom(seed: seed &+ 99)
        var records: [(MediaTime, [UInt8])] = []
        func at(_ seconds: Double) -> MediaTime { start.advanced(byNanoseconds: Int64(seconds * 1e9)) }
        var signalling = SignallingWriter(call: self)
        let mediaStart = ringing + 0.040
        let calleeStart = earlyMedia ? 0.05 : mediaStart + calleeDelay
        let messages = SIPTemplates(call: self)
        if signalled {
            for (time, from, text) in messages.dialog(mediaStart: mediaStart) {
                signalling.send(text, from: from, at: time, into: &records, at: at)
            }
        }

        let packets = Int(duration * 1000) / ptime
        var reports: [LegReport] = []
        var scratch = [UInt8](repeating: 0, count: 4096)
        for (party, firstCodec, audio, firstSend) in [
            (Party.caller, codecs.caller, callerAudio, mediaStart), (.callee, codecs.callee, calleeAudio, calleeStart),
        ] {
            let leg = party == .caller ? 0 : 1
            let impairments = party == .caller ? callerImpairments : calleeImpairments
            let rate = audioRate(firstCodec)
            let samplesPerPacket = rate * ptime / 1000
            var legCodec = firstCodec
            // G.722's RTP clock runs at 8000 although it codes 16 kHz (RFC 3551);
            // a sender may tick faster than its codec declares (timestampScale).
            let unitsPerPacket = UInt32(legCodec.clockRate * ptime / 1000 * impairments.timestampScale)
            var audioPayloadType = self.audioPayloadType ?? legCodec.staticPayloadType
            var g722 = G722Encoder()
            let protection = srtp && srtpKeys == .inSDP
                ? SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: SIPTemplates.srtpKey(party), sending: true) : nil
            let zrtpProtection = zrtpAt != nil ? SyntheticZRTP.session(for: party, seed: seed) : nil
            var ssrc = UInt32(truncatingIfNeeded: rng.next())
            var sequence = UInt16(truncatingIfNeeded: rng.next())
            var timestamp = UInt32(truncatingIfNeeded: rng.next())
            if let first = impairments.firstSequence { sequence = first }
            if let first = impairments.firstTimestamp { timestamp = first }
            var net = SeededRandom(seed: seed &+ 1000 &+ UInt64(leg))
            var report = LegReport()
            report.ssrcs.append(ssrc)
            var burstLeft = 0
            var talking = false
            var changedSSRC = false
            // Real-time length of one packet: a sender whose clock runs fast sends them faster.
            let period = Double(ptime) / 1000 / (1 + impairments.clockDrift)
            for k in 0..<packets {
                let send = firstSend + Double(k) * period
                let jitter = k == 0 ? 0 : rng.uniform(0...networkJitter)
                defer { timestamp &+= unitsPerPacket }
                if let change = impairments.ssrcChangeAfter, !changedSSRC, Double(k) * period >= change {
                    // The phone restarts its stream: new SSRC, sequence and timestamp.
                    changedSSRC = true
                    ssrc = UInt32(truncatingIfNeeded: net.next())
                    sequence = UInt16(truncatingIfNeeded: net.next())
                    timestamp = UInt32(truncatingIfNeeded: net.next())
                    report.ssrcs.append(ssrc)
                }
                // Not sent before the answer (but early media), on hold, after a rejection.
                guard let (from, to) = route(party, sending: send, mediaStart: mediaStart) else { continue }
                // A phone whose stream stops while the call goes on (0: a leg that never sends).
                if let stop = impairments.stopAfter, Double(k) * period >= stop { continue }
                if let change = codecChange, legCodec != change.to, Double(k) * period >= change.at {
                    // After the re-INVITE (same RTP clock rate for all three codecs: the timestamps run on).
                    legCodec = change.to
                    audioPayloadType = self.audioPayloadType ?? legCodec.staticPayloadType
                }
                var pcm = audio[(k * samplesPerPacket)..<((k + 1) * samplesPerPacket)]
                if legCodec.sampleRate < rate {
                    let step = rate / legCodec.sampleRate
                    pcm = ArraySlice(stride(from: pcm.startIndex, to: pcm.endIndex, by: step).map { i in
                        Int16(pcm[i..<(i + step)].reduce(0) { $0 + Int($1) } / step)
                    })
                }
                let silent = pcm.allSatisfy { $0 == 0 }
                let event = impairments.events.first { Double(k) * period >= $0.at && Double(k) * period < $0.at + $0.duration + 0.06 }
                if impairments.silenceSuppression && silent && event == nil {
                    // VAD: nothing is sent; the timestamp runs on, the sequence number does not.
                    report.suppressed += 1
                    talking = false
                    continue
                }
                var payload: [UInt8] = []
                var payloadType = audioPayloadType
                var marker = k == 0 || (impairments.silenceSuppression && !talking)
                var eventTimestamp = timestamp
                if let event {
                    // RFC 4733: the event's timestamp is its start; its duration grows; the end is sent three times.
                    let start = Int((event.at / period).rounded(.up))
                    eventTimestamp = timestamp &- UInt32((k - start) * Int(unitsPerPacket))
                    let elapsed = min(Double(k - start + 1) * Double(ptime) / 1000, event.duration)
                    let ended = Double(k) * period >= event.at + event.duration
                    let units = UInt16(clamping: Int(elapsed * Double(legCodec.clockRate)) * impairments.timestampScale)
                    payload = [event.digit, (ended ? 0x80 : 0) | 10, UInt8(units >> 8), UInt8(units & 0xFF)]
                    payloadType = 101
                    marker = k == start
                    if ended && Double(k - 1) * period >= event.at + event.duration { continue }
                } else {
                    switch legCodec {
                    case .pcmu: payload = pcm.map(G711.ulawCompress)
                    case .pcma: payload = pcm.map(G711.alawCompress)
                    case .g722: g722.encode(pcm, into: &payload)
                    }
                }
                talking = true
                if srtp && srtpKeys != .inSDP {
                    // Noise of the payload's length, then an 80-bit tag nothing authenticates.
                    payload = (0..<(payload.count + 10)).map { _ in UInt8(truncatingIfNeeded: net.next()) }
                }
                var arrival = send + jitter + (impairments.jitter.map { net.uniform(0...$0) } ?? 0)
                if let normal = impairments.normalJitter {
                    arrival += normal.clip + max(-normal.clip, min(normal.clip, normal.sigma * net.normal()))
                }
                arrival += impairments.queueGrowth * (send - firstSend)
                if let interval = impairments.senderReportInterval, k > 0,
                   Int(Double(k) * period / interval) != Int(Double(k - 1) * period / interval) {
                    // The report says which timestamp this instant (the packet's send time) carries.
                    let report = PacketBuilder.senderReport(
                        ssrc: ssrc, ntp: at(send).seconds, timestamp: timestamp, packets: UInt32(k), octets: UInt32(k * payload.count))
                    records.append((at(send + 0.001), PacketBuilder.ethernetUDP(
                        from: Endpoint(address: from.address, port: from.port + 1), to: Endpoint(address: to.address, port: to.port + 1),
                        payload: report)))
                }
                let copies = payloadType == 101 && payload[1] & 0x80 != 0 ? 3 : 1
                for copy in 0..<copies {
                    var packet = PacketBuilder.rtp(
                        payloadType: payloadType, sequence: sequence, timestamp: payloadType == 101 ? eventTimestamp : timestamp,
                        ssrc: ssrc, marker: marker && copy == 0, payload: payload)
                    sequence &+= 1
                    let encrypting = zrtpAt.map { Double(k) * period >= $0 + SyntheticZRTP.handshakeLength - (firstSend - mediaStart) } ?? false
                    if let protection = protection ?? (encrypting ? zrtpProtection : nil) {
                        let length = scratch.withUnsafeMutableBytes { buffer -> Int? in
                            packet.withUnsafeBytes { buffer.copyMemory(from: $0) }
                            return protection.protect(buffer, count: packet.count)
                        }
                        packet = Array(scratch.prefix(length!))
                    }
                    if burstLeft > 0 || (impairments.lossRate > 0 && net.unit() < impairments.lossRate) {
                        if burstLeft == 0 { burstLeft = impairments.burstLength }
                        burstLeft -= 1
                        report.dropped += 1
                        continue
                    }
                    if impairments.reorderRate > 0 && net.unit() < impairments.reorderRate {
                        // Held up behind the next packet.
                        arrival += Double(ptime) / 1000 * 1.5
                        report.reordered += 1
                    }
                    let frame = PacketBuilder.ethernetUDP(from: from, to: to, payload: packet)
                    records.append((at(arrival + Double(copy) * 0.0001), frame))
                    report.captured += 1
                    if impairments.duplicateRate > 0 && net.unit() < impairments.duplicateRate {
                        records.append((at(arrival + 0.0005), frame))
                        report.duplicated += 1
                        report.captured += 1
                    }
                }
            }
            reports.append(report)
            if let zrtpAt {
                // This party's side of the handshake, from its media port, with its SSRC.
                var zrtpSequence = UInt16(truncatingIfNeeded: net.next())
                for message in SyntheticZRTP.messages where message.party == party {
                    let send = mediaStart + zrtpAt + message.at
                    guard let (from, to) = route(party, sending: send, mediaStart: mediaStart) else { continue }
                    let packet = SyntheticZRTP.packet(
                        type: message.type, words: message.words, sequence: zrtpSequence, ssrc: report.ssrcs[0], rng: &net)
                    zrtpSequence &+= 1
                    records.append((at(send), PacketBuilder.ethernetUDP(from: from, to: to, payload: packet)))
                }
            }
        }
        if video && answered {
            // Video both ways from port + 2: one 900-byte packet per frame, for as long as the audio.
            for (from, to) in [(callerMedia, calleeMedia), (calleeMedia, callerMedia)] {
                let ssrc = UInt32(truncatingIfNeeded: rng.next())
                for k in 0..<Int(duration * 25) {
                    let packet = PacketBuilder.rtp(
                        payloadType: 96, sequence: UInt16(truncatingIfNeeded: k), timestamp: UInt32(k * 3600), ssrc: ssrc,
                        payload: [UInt8](repeating: UInt8(truncatingIfNeeded: k), count: 900))
                    records.append((at(mediaStart + Double(k) * 0.04), PacketBuilder.ethernetUDP(
                        from: Endpoint(address: from.address, port: from.port + 2), to: Endpoint(address: to.address, port: to.port + 2),
                        payload: packet)))
                }
            }
        }
        if signalled && answered && bye {
            // After the last audio (a queue under congestion delivers it late: the BYE waits for it).
            let queued = max(callerImpairments.queueGrowth, calleeImpairments.queueGrowth) * duration
            let end = max(mediaStart, calleeStart - calleeDelay) + calleeDelay + duration + 0.05 + queued
            signalling.send(messages.bye, from: .caller, at: end, into: &records, at: at)
            signalling.send(messages.byeOK, from: .callee, at: end + 0.003, into: &records, at: at)
        }

        var writer = PcapWriter()
        let first = captureFrom.map(at) ?? start
        for (time, frame) in records.sorted(by: { $0.0 < $1.0 }) where time >= first { writer.append(frame, at: time) }
        return Output(
            pcap: writer.bytes,
            callerAudio: Array(callerAudio.prefix(packets * codecs.caller.sampleRate * ptime / 1000)),
            calleeAudio: Array(calleeAudio.prefix(packets * codecs.callee.sampleRate * ptime / 1000)),
            callerFirstPacket: at(mediaStart), calleeFirstPacket: at(calleeStart), packetsPerLeg: packets,
            legReports: reports,
            spurts: [spurts.caller, spurts.callee])
    }

    /// The endpoints a packet of `party` sent at `send` goes from and to, or
    /// nil when it is not sent (before the answer, on hold, after a rejection).
    func route(_ party: Party, sending send: Double, mediaStart: Double) -> (Endpoint, Endpoint)? {
        if !answered {
            // Only early media flows, and only until the final answer.
            guard party == .callee, earlyMedia, send < ringing else { return nil }
        }
        if let hold, send >= mediaStart + hold.from, send < mediaStart + hold.to { return nil }
        var callerEnd = callerMedia
        var calleeEnd = calleeMedia
        if let move, send >= mediaStart + move.at {
            if move.party == .caller { callerEnd = move.to } else { calleeEnd = move.to }
        }
        return party == .caller ? (callerEnd, calleeEnd) : (calleeEnd, callerEnd)
    }
}

/// Writes SIP messages into capture records, over UDP or one TCP connection.
struct SignallingWriter {
    let call: SyntheticCall
    /// The next TCP sequence number from the caller's side and from the callee's.
    var sequences: [UInt32] = [1_000, 900_000]

    init(call: SyntheticCall) {
        self.call = call
    }

    mutating func send(
        _ text: String, from party: SyntheticCall.Party, at time: Double, into records: inout [(MediaTime, [UInt8])],
        at clock: (Double) -> MediaTime
    ) {
        let (from, to) = party == .caller
            ? (call.callerSignalling, call.calleeSignalling) : (call.calleeSignalling, call.callerSignalling)
        let bytes = Array(text.utf8)
        let time = time + call.signallingDelay
        switch call.transport {
        case .udp:
            if let mtu = call.signallingMTU, 28 + bytes.count > mtu, from.address.isIPv4 {
                // What the sender's IP layer does: fragments of (mtu - 20) bytes rounded down to 8.
                let identification = UInt16(truncatingIfNeeded: records.count &+ 0x4000)
                let fragments = PacketBuilder.ipv4Fragments(
                    from: from, to: to, payload: bytes, identification: identification, fragmentSize: (mtu - 20) / 8 * 8)
                for (k, fragment) in fragments.enumerated() {
                    // Fragments of one datagram leave 20 µs apart.
                    records.append((clock(time + Double(k) * 0.00002), PacketBuilder.ethernet(fragment)))
                }
            } else {
                records.append((clock(time), PacketBuilder.ethernetUDP(from: from, to: to, payload: bytes)))
            }
        case .tcp(let segmentSize):
            let k = party == .caller ? 0 : 1
            var offset = 0
            var piece = 0
            while offset < bytes.count {
                let chunk = Array(bytes[offset..<min(bytes.count, offset + segmentSize)])
                // Segments of one write leave 100 µs apart.
                let when = clock(time + Double(piece) * 0.0001)
                records.append((when, PacketBuilder.ethernetTCP(from: from, to: to, sequence: sequences[k], payload: chunk)))
                sequences[k] &+= UInt32(chunk.count)
                offset += chunk.count
                piece += 1
            }
        }
    }
}

/// The SIP messages of a `SyntheticCall`, as a UA would write them.
struct SIPTemplates {
    let call: SyntheticCall

    /// Each party's SRTP master key and salt (30 bytes), fixed so captures are deterministic.
    static func srtpKey(_ party: SyntheticCall.Party) -> [UInt8] {
        (0..<30).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ (party == .caller ? 1 : 101)) }
    }

    /// Standard base64 with padding (RFC 4648).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var k = 0
        while k < bytes.count {
            let chunk = Array(bytes[k..<min(k + 3, bytes.count)])
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << UInt32(16 - 8 * $1.offset) }
            for j in 0..<4 {
                out.append(j <= chunk.count ? alphabet[Int(value >> UInt32(18 - 6 * j) & 0x3F)] : "=")
            }
            k += 3
        }
        return out
    }

    var caller: String { "sip:\(call.callerNumber)@\(call.callerSignalling.address)" }
    var callee: String { "sip:\(call.calleeNumber)@\(call.calleeSignalling.address)" }

    /// `sendrecv`, `sendonly`, `recvonly` or `inactive`; `hold2543` puts 0.0.0.0 in c=.
    func sdp(
        _ media: Endpoint, session: UInt64, version: UInt64? = nil, direction: String = "sendrecv", hold2543: Bool = false,
        codecs listed: [AudioCodec]? = nil
    ) -> String {
        let (caller, callee) = call.legCodecs
        var codecs = listed ?? (caller == callee ? [caller] : [caller, callee])
        if listed == nil, let change = call.codecChange, change.offeredAtStart, media == call.callerMedia {
            codecs.append(change.to)
        }
        let number = { (codec: AudioCodec) in call.audioPayloadType ?? codec.staticPayloadType }
        let formats = codecs.map { String(number($0)) }.joined(separator: " ")
        let maps = codecs.map { "a=rtpmap:\(number($0)) \($0.rawValue)/\($0.clockRate)\r\n" }.joined()
        let family = media.address.isIPv4 ? "IP4" : "IP6"
        let connection = hold2543 ? "0.0.0.0" : "\(media.address)"
        let profile = call.srtp ? "RTP/SAVP" : "RTP/AVP"
        let party: SyntheticCall.Party = media == call.calleeMedia || media.port == call.move?.to.port && call.move?.party == .callee ? .callee : .caller
        let crypto = call.srtp && call.srtpKeys != .absent ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SIPTemplates.base64(SIPTemplates.srtpKey(party)))\r\n" : ""
        return """
            v=0\r
            o=- \(session) \(version ?? session) IN \(family) \(media.address)\r
            s=-\r
            c=IN \(hold2543 ? "IP4" : family) \(connection)\r
            t=0 0\r
            m=audio \(media.port) \(profile) \(formats) 101\r
            \(crypto)\(maps)a=rtpmap:101 telephone-event/8000\r
            a=fmtp:101 0-16\r
            a=ptime:\(call.ptime)\r
            a=\(direction)\r

            """ + (call.video ? "m=video \(media.port + 2) RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" : "")
    }

    /// A message of the dialog. `fromCallee` swaps From and To (a request the callee sends).
    func message(_ startLine: String, cseq: String, toTag: Bool, body: String?, fromCallee: Bool = false) -> String {
        var text = "\(startLine)\r\n"
        if startLine.hasPrefix("INVITE") && !toTag { text += call.inviteExtraHeaders }
        let via = fromCallee ? call.calleeSignalling : call.callerSignalling
        let transport: String = {
            if case .tcp = call.transport { return "TCP" }
            return "UDP"
        }()
        text += "Via: SIP/2.0/\(transport) \(via);branch=z9hG4bK776asdhds\r\n"
        text += "Max-Forwards: 70\r\n"
        let callerHeader = "\"Caller\" <\(caller)>;tag=1928301774"
        let calleeHeader = "<\(callee)>\(toTag ? ";tag=a6c85cf" : "")"
        text += "From: \(fromCallee ? calleeHeader : callerHeader)\r\n"
        text += "To: \(fromCallee ? callerHeader : calleeHeader)\r\n"
        text += "Call-ID: \(call.callID)\r\n"
        text += "CSeq: \(cseq)\r\n"
        text += "Contact: <\(fromCallee ? callee : caller)>\r\n"
        if let body {
            text += "Content-Type: application/sdp\r\n"
            text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "Content-Length: 0\r\n\r\n"
        }
        return text
    }

    var invite: String {
        message("INVITE \(callee) SIP/2.0", cseq: "314159 INVITE", toTag: false, body: sdp(call.callerMedia, session: 2890844526))
    }
    func response(_ code: Int, _ reason: String, sdp withSDP: Bool) -> String {
        message("SIP/2.0 \(code) \(reason)", cseq: "314159 INVITE", toTag: code > 100,
                body: withSDP ? sdp(call.calleeMedia, session: 2890844527) : nil)
    }
    var ack: String { message("ACK \(callee) SIP/2.0", cseq: "314159 ACK", toTag: true, body: nil) }
    var bye: String { message("BYE \(callee) SIP/2.0", cseq: "314160 BYE", toTag: true, body: nil) }
    var byeOK: String { message("SIP/2.0 200 OK", cseq: "314160 BYE", toTag: true, body: nil) }

    /// Every SIP message up to the end of the media, with its time and sender.
    func dialog(mediaStart: Double) -> [(Double, SyntheticCall.Party, String)] {
        var out: [(Double, SyntheticCall.Party, String)] = []
        let invite = "INVITE \(callee) SIP/2.0"
        var cseq = 314159
        var t = 0.0
        if call.challenge {
            out.append((0, .caller, message(invite, cseq: "\(cseq) INVITE", toTag: false, body: sdp(call.callerMedia, session: 2890844526))))
            out.append((0.002, .callee, message("SIP/2.0 401 Unauthorized", cseq: "\(cseq) INVITE", toTag: true, body: nil)))
            out.append((0.003, .caller, message("ACK \(callee) SIP/2.0", cseq: "\(cseq) ACK", toTag: true, body: nil)))
            cseq += 1
            t = 0.004
        }
        let offer = call.lateOffer ? nil : sdp(call.callerMedia, session: 2890844526)
        if !call.inviteLost {
            out.append((t, .caller, message(invite, cseq: "\(cseq) INVITE", toTag: false, body: offer)))
        }
        let trying = message("SIP/2.0 100 Trying", cseq: "\(cseq) INVITE", toTag: false, body: nil)
        let progress = call.earlyMedia
            ? message("SIP/2.0 183 Session Progress", cseq: "\(cseq) INVITE", toTag: true, body: sdp(call.calleeMedia, session: 2890844527))
            : message("SIP/2.0 180 Ringing", cseq: "\(cseq) INVITE", toTag: true, body: nil)
        if case .tcp = call.transport {
            // Two messages in one write.
            out.append((0.030, .callee, trying + progress))
        } else {
            out.append((t + 0.004, .callee, trying))
            out.append((0.030, .callee, progress))
        }
        let ringing = call.ringing
        if call.cancelled {
            out.append((ringing, .caller, message("CANCEL \(callee) SIP/2.0", cseq: "\(cseq) CANCEL", toTag: false, body: nil)))
            out.append((ringing + 0.002, .callee, message("SIP/2.0 200 OK", cseq: "\(cseq) CANCEL", toTag: true, body: nil)))
            out.append((ringing + 0.003, .callee, message("SIP/2.0 487 Request Terminated", cseq: "\(cseq) INVITE", toTag: true, body: nil)))
            out.append((ringing + 0.004, .caller, message("ACK \(callee) SIP/2.0", cseq: "\(cseq) ACK", toTag: true, body: nil)))
            return out
        }
        if call.finalStatus >= 300 {
            out.append((ringing, .callee, message("SIP/2.0 \(call.finalStatus) Busy Here", cseq: "\(cseq) INVITE", toTag: true, body: nil)))
            out.append((ringing + 0.002, .caller, message("ACK \(callee) SIP/2.0", cseq: "\(cseq) ACK", toTag: true, body: nil)))
            return out
        }
        let answer = sdp(call.calleeMedia, session: 2890844527)
        out.append((ringing, .callee, message("SIP/2.0 200 OK", cseq: "\(cseq) INVITE", toTag: true, body: answer)))
        let ackBody = call.lateOffer ? sdp(call.callerMedia, session: 2890844526) : nil
        out.append((ringing + 0.005, .caller, message("ACK \(callee) SIP/2.0", cseq: "\(cseq) ACK", toTag: true, body: ackBody)))

        var callerCSeq = cseq + 2  // cseq + 1 is the BYE
        var version: UInt64 = 2890844526
        func reinvite(at time: Double, _ offer: String, _ answerBody: String) {
            out.append((time, .caller, message(invite, cseq: "\(callerCSeq) INVITE", toTag: true, body: offer)))
            out.append((time + 0.002, .callee, message("SIP/2.0 200 OK", cseq: "\(callerCSeq) INVITE", toTag: true, body: answerBody)))
            out.append((time + 0.003, .caller, message("ACK \(callee) SIP/2.0", cseq: "\(callerCSeq) ACK", toTag: true, body: nil)))
            callerCSeq += 1
        }
        if let hold = call.hold {
            version += 1
            reinvite(
                at: mediaStart + hold.from - 0.010,
                sdp(call.callerMedia, session: 2890844526, version: version, direction: hold.rfc2543 ? "sendrecv" : "sendonly", hold2543: hold.rfc2543),
                sdp(call.calleeMedia, session: 2890844527, direction: hold.rfc2543 ? "sendrecv" : "recvonly"))
            version += 1
            reinvite(
                at: mediaStart + hold.to - 0.010, sdp(call.callerMedia, session: 2890844526, version: version),
                sdp(call.calleeMedia, session: 2890844527))
        }
        if let change = call.codecChange {
            version += 1
            reinvite(
                at: mediaStart + change.at - 0.010,
                sdp(call.callerMedia, session: 2890844526, version: version, codecs: [change.to]),
                sdp(call.calleeMedia, session: 2890844527, version: 2890844528, codecs: [change.to]))
        }
        if let move = call.move {
            let time = mediaStart + move.at - 0.010
            if move.party == .caller {
                version += 1
                reinvite(at: time, sdp(move.to, session: 2890844526, version: version), sdp(call.calleeMedia, session: 2890844527))
            } else {
                // The callee re-INVITEs: From and To swap, its own CSeq space.
                out.append((time, .callee, message("INVITE \(caller) SIP/2.0", cseq: "1 INVITE", toTag: true,
                    body: sdp(move.to, session: 2890844527, version: 2890844528), fromCallee: true)))
                out.append((time + 0.002, .caller, message("SIP/2.0 200 OK", cseq: "1 INVITE", toTag: true,
                    body: sdp(call.callerMedia, session: 2890844526), fromCallee: true)))
                out.append((time + 0.003, .callee, message("ACK \(caller) SIP/2.0", cseq: "1 ACK", toTag: true, body: nil, fromCallee: true)))
            }
        }
        return out
    }
}

/// What the network and the sending phone do to one leg's RTP.
public struct LegImpairments: Sendable {
    /// Probability that a packet starts a loss burst.
    public var lossRate = 0.0
    /// Packets lost per burst.
    public var burstLength = 1
    /// Probability that a packet is delivered twice.
    public var duplicateRate = 0.0
    /// Probability that a packet is held up behind the next one.
    public var reorderRate = 0.0
    /// Extra random delay per packet, up to this many seconds.
    public var jitter: Double? = nil
    /// Extra random delay per packet from a normal distribution of this
    /// standard deviation, clipped at ±`clip` (seconds; the delay added is
    /// `clip` plus the clipped normal, so never negative).
    public var normalJitter: NormalJitter? = nil

    /// Normal jitter: standard deviation and clipping bound, in seconds.
    public struct NormalJitter: Sendable {
        public var sigma: Double
        public var clip: Double
        public init(sigma: Double, clip: Double) {
            self.sigma = sigma
            self.clip = clip
        }
    }
    /// A queue building up on the way (congestion): each second of sending
    /// adds this many seconds of delay (0.09: 5.4 s behind after a minute).
    public var queueGrowth = 0.0
    /// RTCP sender reports every this many seconds (from the media port + 1
    /// to the other party's media port + 1), NTP from true time, RTP
    /// timestamp from the sender's clock; nil: none.
    public var senderReportInterval: Double? = nil
    /// The first sequence number and timestamp (to force a wrap).
    public var firstSequence: UInt16? = nil
    public var firstTimestamp: UInt32? = nil
    /// Seconds into the leg at which the phone restarts with a new SSRC.
    public var ssrcChangeAfter: Double? = nil
    /// Seconds into the leg after which the phone sends nothing more while
    /// the call goes on to its BYE (a leg that stops half-way; 0: a leg that
    /// never sends). nil: it sends to the end.
    public var stopAfter: Double? = nil
    /// Send nothing while the speaker is silent (VAD), marker bit on resume.
    public var silenceSuppression = false
    /// How much faster the sender's clock runs than real time (0.001 = 0.1 %).
    public var clockDrift = 0.0
    /// How much faster than its codec declares the sender's RTP clock ticks
    /// (2: 16 kHz ticks for G.711, or G.722 ticking at its audio rate).
    public var timestampScale = 1
    /// RFC 4733 events to send instead of audio: digit code, start and duration in seconds.
    public var events: [(digit: UInt8, at: Double, duration: Double)] = []
    /// White line noise under the speech, in dB full scale (nil: none).
    public var noise: Double? = nil
    /// Mains hum (50 Hz with harmonics to 450 Hz) under the speech, in dB full scale (nil: none).
    public var hum: Double? = nil

    public init() {}

    /// Mixes the configured line noise and hum into `audio`.
    public func addBackground(to audio: inout [Int16], rate: Int, seed: UInt64) {
        guard noise != nil || hum != nil else { return }
        var rng = SeededRandom(seed: seed)
        let noiseAmplitude = noise.map { pow(10, $0 / 20) * 32767 * 1.732 } ?? 0
        let humAmplitude = hum.map { pow(10, $0 / 20) * 32767 * 1.414 } ?? 0
        for i in audio.indices {
            var v = Double(audio[i])
            if noiseAmplitude > 0 { v += (rng.unit() * 2 - 1) * noiseAmplitude }
            if humAmplitude > 0 {
                let t = Double(i) / Double(rate)
                for h in stride(from: 1, through: 9, by: 2) {
                    let phase: Double = 2 * Double.pi * 50 * Double(h) * t
                    v += humAmplitude / Double(h) * sin(phase)
                }
            }
            audio[i] = Int16(max(-32767, min(32767, v.rounded())))
        }
    }
}
