import CallrecCore
import Codecs
import Foundation

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
    /// What the network and the sender do to each leg's packets.
    public var callerImpairments = LegImpairments()
    public var calleeImpairments = LegImpairments()

    public init() {}

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
        /// RTP packets per leg, as the sender numbered them (before loss and duplication).
        public var packetsPerLeg: Int
        /// What the impairments did to each leg: [caller, callee].
        public var legReports: [LegReport]
        /// When each party spoke (talk spurts, seconds from its first RTP packet): [caller, callee].
        public var spurts: [[(Double, Double)]]
    }

    /// What happened to one leg's packets on the way.
    public struct LegReport: Sendable {
        /// Audio packets the sender numbered (suppressed silence not included).
        public var sent = 0
        /// Packets dropped by the network.
        public var dropped = 0
        /// Extra copies delivered.
        public var duplicated = 0
        /// Packets delivered after a later one.
        public var reordered = 0
        /// Packets not sent because the speaker was silent.
        public var suppressed = 0
        /// RFC 4733 packets sent (all copies of every event).
        public var eventPackets = 0
        /// Packets captured on this leg (what a capture tool counts).
        public var captured = 0
        /// The SSRCs used, in order.
        public var ssrcs: [UInt32] = []
    }

    public func build() -> Output {
        let rate = codec.sampleRate
        let spurts = SpeechSynth.conversation(duration: duration, seed: seed)
        var callerAudio = SpeechSynth(sampleRate: rate, voice: callerVoice).render(duration: duration, spurts: spurts.caller, seed: seed &+ 11)
        var calleeAudio = SpeechSynth(sampleRate: rate, voice: calleeVoice).render(duration: duration, spurts: spurts.callee, seed: seed &+ 23)
        callerImpairments.addBackground(to: &callerAudio, rate: rate, seed: seed &+ 31)
        calleeImpairments.addBackground(to: &calleeAudio, rate: rate, seed: seed &+ 37)
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

        let samplesPerPacket = rate * ptime / 1000
        let packets = Int(duration * Double(rate)) / samplesPerPacket
        let mediaStart = ringing + 0.040
        var reports: [LegReport] = []
        for (leg, audio, from, to, delay) in [
            (0, callerAudio, callerMedia, calleeMedia, 0.0), (1, calleeAudio, calleeMedia, callerMedia, calleeDelay),
        ] {
            let impairments = leg == 0 ? callerImpairments : calleeImpairments
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
            let unitsPerPacket = UInt32(samplesPerPacket * impairments.timestampUnitsPerSample)
            // Real-time length of one packet: a sender whose clock runs fast sends them faster.
            let period = Double(ptime) / 1000 / (1 + impairments.clockDrift)
            for k in 0..<packets {
                let send = mediaStart + delay + Double(k) * period
                let jitter = k == 0 ? 0 : rng.uniform(0...networkJitter)
                if let change = impairments.ssrcChangeAfter, !changedSSRC, Double(k) * period >= change {
                    // The phone restarts its stream: new SSRC, sequence and timestamp.
                    changedSSRC = true
                    ssrc = UInt32(truncatingIfNeeded: net.next())
                    sequence = UInt16(truncatingIfNeeded: net.next())
                    timestamp = UInt32(truncatingIfNeeded: net.next())
                    report.ssrcs.append(ssrc)
                }
                let pcm = audio[(k * samplesPerPacket)..<((k + 1) * samplesPerPacket)]
                let silent = pcm.allSatisfy { $0 == 0 }
                let event = impairments.events.first { Double(k) * period >= $0.at && Double(k) * period < $0.at + $0.duration + 0.06 }
                if impairments.silenceSuppression && silent && event == nil {
                    // VAD: nothing is sent; the timestamp runs on, the sequence number does not.
                    report.suppressed += 1
                    talking = false
                    timestamp &+= unitsPerPacket
                    continue
                }
                var payload: [UInt8]
                var payloadType: UInt8 = codec == .pcmu ? 0 : 8
                var marker = k == 0 || (impairments.silenceSuppression && !talking)
                var eventTimestamp = timestamp
                if let event {
                    // RFC 4733: the event's timestamp is its start; its duration grows; the end is sent three times.
                    let start = Int((event.at / period).rounded(.up))
                    eventTimestamp = timestamp &- UInt32((k - start) * Int(unitsPerPacket))
                    let elapsed = min(Double(k - start + 1) * Double(ptime) / 1000, event.duration)
                    let ended = Double(k) * period >= event.at + event.duration
                    let units = UInt16(clamping: Int(elapsed * 8000) * impairments.timestampUnitsPerSample)
                    payload = [event.digit, (ended ? 0x80 : 0) | 10, UInt8(units >> 8), UInt8(units & 0xFF)]
                    payloadType = 101
                    marker = k == start
                    if ended && Double(k - 1) * period >= event.at + event.duration { timestamp &+= unitsPerPacket; continue }
                    report.eventPackets += ended ? 3 : 1
                } else {
                    payload = pcm.map { codec == .pcmu ? G711.ulawCompress($0) : G711.alawCompress($0) }
                    report.sent += 1
                }
                talking = true
                var arrival = send + jitter + (impairments.jitter.map { net.uniform(0...$0) } ?? 0)
                let copies = payloadType == 101 && payload[1] & 0x80 != 0 ? 3 : 1
                for copy in 0..<copies {
                    let packet = PacketBuilder.rtp(
                        payloadType: payloadType, sequence: sequence, timestamp: payloadType == 101 ? eventTimestamp : timestamp,
                        ssrc: ssrc, marker: marker && copy == 0, payload: payload)
                    sequence &+= 1
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
                timestamp &+= unitsPerPacket
            }
            reports.append(report)
        }
        let end = mediaStart + calleeDelay + duration + 0.05
        sip(messages.bye, from: callerSignalling, to: calleeSignalling, end)
        sip(messages.byeOK, from: calleeSignalling, to: callerSignalling, end + 0.003)

        var writer = PcapWriter()
        for (time, frame) in records.sorted(by: { $0.0 < $1.0 }) { writer.append(frame, at: time) }
        let used = packets * samplesPerPacket
        return Output(
            pcap: writer.bytes, callerAudio: Array(callerAudio.prefix(used)), calleeAudio: Array(calleeAudio.prefix(used)),
            callerFirstPacket: at(mediaStart), calleeFirstPacket: at(mediaStart + calleeDelay), packetsPerLeg: packets,
            legReports: reports, spurts: [spurts.caller, spurts.callee])
    }
}

/// The SIP messages of a `SyntheticCall`, as a UA would write them.
struct SIPTemplates {
    let call: SyntheticCall

    var caller: String { "sip:\(call.callerNumber)@\(call.callerSignalling.address)" }
    var callee: String { "sip:\(call.calleeNumber)@\(call.calleeSignalling.address)" }

    func sdp(_ media: Endpoint, session: UInt64) -> String {
        let pt = call.codec == .pcmu ? 0 : 8
        let name = call.codec.rawValue
        return """
            v=0\r
            o=- \(session) \(session) IN IP4 \(media.address)\r
            s=-\r
            c=IN IP4 \(media.address)\r
            t=0 0\r
            m=audio \(media.port) RTP/AVP \(pt) 101\r
            a=rtpmap:\(pt) \(name)/8000\r
            a=rtpmap:101 telephone-event/8000\r
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
    /// The first sequence number and timestamp (to force a wrap).
    public var firstSequence: UInt16? = nil
    public var firstTimestamp: UInt32? = nil
    /// Seconds into the leg at which the phone restarts with a new SSRC.
    public var ssrcChangeAfter: Double? = nil
    /// Send nothing while the speaker is silent (VAD), marker bit on resume.
    public var silenceSuppression = false
    /// How much faster the sender's clock runs than real time (0.001 = 0.1 %).
    public var clockDrift = 0.0
    /// RTP timestamp units per audio sample (2: a 16 kHz clock for 8 kHz audio).
    public var timestampUnitsPerSample = 1
    /// RFC 4733 events to send instead of audio: digit code, start and duration in seconds.
    public var events: [(digit: UInt8, at: Double, duration: Double)] = []
    /// White line noise under the speech, in dB full scale (nil: none).
    public var noise: Double? = nil
    /// Mains hum (50 Hz with harmonics to 450 Hz) under the speech, in dB full scale (nil: none).
    public var hum: Double? = nil

    public init() {}

    /// Mixes the configured line noise and hum into `audio`.
    func addBackground(to audio: inout [Int16], rate: Int, seed: UInt64) {
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
