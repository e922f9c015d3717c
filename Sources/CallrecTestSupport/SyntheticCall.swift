import CallrecCore
import Codecs
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
/// signalling at all. IPv6 comes from giving IPv6 endpoints.
public struct SyntheticCall {
    public var callID = "a84b4c76e66710@pc33.example.com"
    public var callerNumber = "+4681234567"
    public var calleeNumber = "+4687654321"
    public var callerSignalling = Endpoint(address: IPAddress("192.0.2.10")!, port: 5060)
    public var calleeSignalling = Endpoint(address: IPAddress("198.51.100.20")!, port: 5060)
    public var callerMedia = Endpoint(address: IPAddress("192.0.2.10")!, port: 40_000)
    public var calleeMedia = Endpoint(address: IPAddress("198.51.100.20")!, port: 50_000)
    public var codec: AudioCodec = .pcmu
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
    /// Whether the call ends with a BYE in the capture.
    public var bye = true
    /// Header lines (each ending in CRLF) added to the initial INVITE, for hostile input.
    public var inviteExtraHeaders = ""
    /// The SDP offers and answers video too (H.264, each party's media port + 2) and both parties send it, 25 frames a second.
    public var video = false
    /// Every SIP message is captured this many seconds late (SIP and RTP mirrored from different links).
    public var signallingDelay = 0.0
    /// The capture starts this many seconds after the INVITE: earlier packets are not in it (a mirror started mid-call).
    public var captureFrom: Double? = nil

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
        /// The audio each party spoke, at the codec's rate, starting at its first RTP packet.
        public var callerAudio: [Int16]
        public var calleeAudio: [Int16]
        /// Capture time of each leg's first RTP packet.
        public var callerFirstPacket: MediaTime
        public var calleeFirstPacket: MediaTime
        /// RTP packets per leg (before a hold, a rejection or a cancel removes some).
        public var packetsPerLeg: Int
        /// RTP packets each leg actually sent.
        public var callerPackets: Int
        public var calleePackets: Int
    }

    /// Whether the call is answered.
    var answered: Bool { !cancelled && finalStatus < 300 }

    public func build() -> Output {
        let rate = codec.sampleRate
        let spurts = SpeechSynth.conversation(duration: duration, seed: seed)
        let callerAudio = SpeechSynth(sampleRate: rate, voice: callerVoice).render(duration: duration, spurts: spurts.caller, seed: seed &+ 11)
        let calleeAudio = SpeechSynth(sampleRate: rate, voice: calleeVoice).render(duration: duration, spurts: spurts.callee, seed: seed &+ 23)
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

        let samplesPerPacket = rate * ptime / 1000
        let packets = Int(duration * Double(rate)) / samplesPerPacket
        let pt: UInt8 = codec == .pcmu ? 0 : 8
        var sent = [0, 0]
        var scratch = [UInt8](repeating: 0, count: 2048)
        for (party, audio, firstSend) in [(Party.caller, callerAudio, mediaStart), (.callee, calleeAudio, calleeStart)] {
            let protection = srtp && srtpKeys == .inSDP
                ? SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: SIPTemplates.srtpKey(party), sending: true) : nil
            let ssrc = UInt32(truncatingIfNeeded: rng.next())
            var sequence = UInt16(truncatingIfNeeded: rng.next())
            var timestamp = UInt32(truncatingIfNeeded: rng.next())
            for k in 0..<packets {
                let pcm = audio[(k * samplesPerPacket)..<((k + 1) * samplesPerPacket)]
                var payload = pcm.map { codec == .pcmu ? G711.ulawCompress($0) : G711.alawCompress($0) }
                let send = firstSend + Double(k * ptime) / 1000
                let arrival = send + (k == 0 ? 0 : rng.uniform(0...networkJitter))
                defer {
                    sequence &+= 1
                    timestamp &+= UInt32(samplesPerPacket)
                }
                guard let (from, to) = route(party, sending: send, mediaStart: mediaStart) else { continue }
                if srtp && srtpKeys != .inSDP {
                    // Noise of the payload's length, then an 80-bit tag nothing authenticates.
                    payload = (0..<(payload.count + 10)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
                var packet = PacketBuilder.rtp(payloadType: pt, sequence: sequence, timestamp: timestamp, ssrc: ssrc, marker: k == 0, payload: payload)
                if let protection {
                    let length = scratch.withUnsafeMutableBytes { buffer -> Int? in
                        packet.withUnsafeBytes { buffer.copyMemory(from: $0) }
                        return protection.protect(buffer, count: packet.count)
                    }
                    packet = Array(scratch.prefix(length!))
                }
                records.append((at(arrival), PacketBuilder.ethernetUDP(from: from, to: to, payload: packet)))
                sent[party == .caller ? 0 : 1] += 1
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
            let end = max(mediaStart, calleeStart - calleeDelay) + calleeDelay + duration + 0.05
            signalling.send(messages.bye, from: .caller, at: end, into: &records, at: at)
            signalling.send(messages.byeOK, from: .callee, at: end + 0.003, into: &records, at: at)
        }

        var writer = PcapWriter()
        let first = captureFrom.map(at) ?? start
        for (time, frame) in records.sorted(by: { $0.0 < $1.0 }) where time >= first { writer.append(frame, at: time) }
        let used = packets * samplesPerPacket
        return Output(
            pcap: writer.bytes, callerAudio: Array(callerAudio.prefix(used)), calleeAudio: Array(calleeAudio.prefix(used)),
            callerFirstPacket: at(mediaStart), calleeFirstPacket: at(calleeStart), packetsPerLeg: packets,
            callerPackets: sent[0], calleePackets: sent[1])
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
            records.append((clock(time), PacketBuilder.ethernetUDP(from: from, to: to, payload: bytes)))
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
    func sdp(_ media: Endpoint, session: UInt64, version: UInt64? = nil, direction: String = "sendrecv", hold2543: Bool = false) -> String {
        let pt = call.codec == .pcmu ? 0 : 8
        let name = call.codec.rawValue
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
            m=audio \(media.port) \(profile) \(pt) 101\r
            \(crypto)a=rtpmap:\(pt) \(name)/8000\r
            a=rtpmap:101 telephone-event/8000\r
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
        out.append((t, .caller, message(invite, cseq: "\(cseq) INVITE", toTag: false, body: offer)))
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
