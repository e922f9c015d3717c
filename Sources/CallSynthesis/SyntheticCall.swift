import CallrecCore
import Codecs

/// A SIP call with RTP in both directions, generated from speech-like audio:
/// INVITE with SDP offer, 100, 180, 200 with SDP answer, ACK, RTP both ways,
/// BYE and its 200. Returns the capture bytes and each leg's source audio,
/// so tests can check the recording against what was said.
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
    /// Audio each party says instead of the generated speech, at its codec's
    /// rate (for measuring with real or synthesized speech); the call lasts
    /// `duration` or until the shorter of the two ends.
    public var callerSpeech: [Int16]? = nil
    public var calleeSpeech: [Int16]? = nil

    public init() {}

    /// What the generator produced.
    public struct Output {
        /// The classic pcap file.
        public var pcap: [UInt8]
        /// The audio each party spoke, at its codec's rate (16 kHz for G.722),
        /// starting at its first RTP packet.
        public var callerAudio: [Int16]
        public var calleeAudio: [Int16]
        /// Capture time of each leg's first RTP packet.
        public var callerFirstPacket: MediaTime
        public var calleeFirstPacket: MediaTime
        /// RTP packets per leg.
        public var packetsPerLeg: Int
    }

    /// The codec each leg sends: caller, callee.
    var legCodecs: (caller: AudioCodec, callee: AudioCodec) { (codec, calleeCodec ?? codec) }

    public func build() -> Output {
        let codecs = legCodecs
        let spurts = SpeechSynth.conversation(duration: duration, seed: seed)
        let callerAudio = callerSpeech ?? SpeechSynth(sampleRate: codecs.caller.sampleRate, voice: callerVoice)
            .render(duration: duration, spurts: spurts.caller, seed: seed &+ 11)
        let calleeAudio = calleeSpeech ?? SpeechSynth(sampleRate: codecs.callee.sampleRate, voice: calleeVoice)
            .render(duration: duration, spurts: spurts.callee, seed: seed &+ 23)
        let duration = min(
            duration, Double(callerAudio.count) / Double(codecs.caller.sampleRate),
            Double(calleeAudio.count) / Double(codecs.callee.sampleRate))
        var rng = SeededRandom(seed: seed &+ 99)
        var records: [(MediaTime, [UInt8])] = []
        func at(_ seconds: Double) -> MediaTime { start.advanced(byNanoseconds: Int64(seconds * 1e9)) }
        func sip(_ text: String, from: Endpoint, to: Endpoint, _ time: Double) {
            records.append((at(time), PacketBuilder.ethernetUDP(from: from, to: to, payload: Array(text.utf8))))
        }
        let messages = SIPTemplates(call: self)
        sip(messages.invite, from: callerSignalling, to: calleeSignalling, 0)
        sip(messages.response(100, "Trying", sdp: false), from: calleeSignalling, to: callerSignalling, 0.004)
        sip(messages.response(180, "Ringing", sdp: false), from: calleeSignalling, to: callerSignalling, 0.030)
        sip(messages.response(200, "OK", sdp: true), from: calleeSignalling, to: callerSignalling, ringing)
        sip(messages.ack, from: callerSignalling, to: calleeSignalling, ringing + 0.005)

        let packets = Int(duration * 1000) / ptime
        let mediaStart = ringing + 0.040
        for (legCodec, audio, from, to, delay) in [
            (codecs.caller, callerAudio, callerMedia, calleeMedia, 0.0), (codecs.callee, calleeAudio, calleeMedia, callerMedia, calleeDelay),
        ] {
            let samplesPerPacket = legCodec.sampleRate * ptime / 1000
            // G.722's RTP clock runs at 8000 although it codes 16 kHz (RFC 3551).
            let ticksPerPacket = UInt32(legCodec.clockRate * ptime / 1000)
            let pt = legCodec.staticPayloadType
            var g722 = G722Encoder()
            let ssrc = UInt32(truncatingIfNeeded: rng.next())
            var sequence = UInt16(truncatingIfNeeded: rng.next())
            var timestamp = UInt32(truncatingIfNeeded: rng.next())
            for k in 0..<packets {
                let pcm = audio[(k * samplesPerPacket)..<((k + 1) * samplesPerPacket)]
                var payload: [UInt8] = []
                switch legCodec {
                case .pcmu: payload = pcm.map(G711.ulawCompress)
                case .pcma: payload = pcm.map(G711.alawCompress)
                case .g722: g722.encode(pcm, into: &payload)
                }
                let send = mediaStart + delay + Double(k * ptime) / 1000
                let arrival = send + (k == 0 ? 0 : rng.uniform(0...networkJitter))
                let packet = PacketBuilder.rtp(payloadType: pt, sequence: sequence, timestamp: timestamp, ssrc: ssrc, marker: k == 0, payload: payload)
                records.append((at(arrival), PacketBuilder.ethernetUDP(from: from, to: to, payload: packet)))
                sequence &+= 1
                timestamp &+= ticksPerPacket
            }
        }
        let end = mediaStart + calleeDelay + duration + 0.05
        sip(messages.bye, from: callerSignalling, to: calleeSignalling, end)
        sip(messages.byeOK, from: calleeSignalling, to: callerSignalling, end + 0.003)

        var writer = PcapWriter()
        for (time, frame) in records.sorted(by: { $0.0 < $1.0 }) { writer.append(frame, at: time) }
        return Output(
            pcap: writer.bytes,
            callerAudio: Array(callerAudio.prefix(packets * codecs.caller.sampleRate * ptime / 1000)),
            calleeAudio: Array(calleeAudio.prefix(packets * codecs.callee.sampleRate * ptime / 1000)),
            callerFirstPacket: at(mediaStart), calleeFirstPacket: at(mediaStart + calleeDelay), packetsPerLeg: packets)
    }
}

/// The SIP messages of a `SyntheticCall`, as a UA would write them.
struct SIPTemplates {
    let call: SyntheticCall

    var caller: String { "sip:\(call.callerNumber)@\(call.callerSignalling.address)" }
    var callee: String { "sip:\(call.calleeNumber)@\(call.calleeSignalling.address)" }

    func sdp(_ media: Endpoint, session: UInt64) -> String {
        let (caller, callee) = call.legCodecs
        let codecs = caller == callee ? [caller] : [caller, callee]
        let formats = codecs.map { String($0.staticPayloadType) }.joined(separator: " ")
        let maps = codecs.map { "a=rtpmap:\($0.staticPayloadType) \($0.rawValue)/\($0.clockRate)\r\n" }.joined()
        return """
            v=0\r
            o=- \(session) \(session) IN IP4 \(media.address)\r
            s=-\r
            c=IN IP4 \(media.address)\r
            t=0 0\r
            m=audio \(media.port) RTP/AVP \(formats) 101\r
            \(maps)a=rtpmap:101 telephone-event/8000\r
            a=fmtp:101 0-16\r
            a=ptime:\(call.ptime)\r
            a=sendrecv\r

            """
    }

    func message(_ startLine: String, cseq: String, toTag: Bool, body: String?) -> String {
        var text = "\(startLine)\r\n"
        text += "Via: SIP/2.0/UDP \(call.callerSignalling);branch=z9hG4bK776asdhds\r\n"
        text += "Max-Forwards: 70\r\n"
        text += "From: \"Caller\" <\(caller)>;tag=1928301774\r\n"
        text += "To: <\(callee)>\(toTag ? ";tag=a6c85cf" : "")\r\n"
        text += "Call-ID: \(call.callID)\r\n"
        text += "CSeq: \(cseq)\r\n"
        text += "Contact: <\(caller)>\r\n"
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
}
