import CallrecCore
import Codecs

/// A site's traffic as a PBX mirror port sees it: many SIP calls at once,
/// each with a distinct Call-ID, parties and media ports, RTP both ways every
/// `ptime` ms, calls ending (BYE) and new ones starting all the time.
/// Written as a pcap stream in capture order, a chunk at a time, so an hour
/// of 200 calls (tens of gigabytes) never sits in memory.
///
/// `concurrentCalls` lines each carry one call after another: a call lasts a
/// random length in `callLength`, then the line rests for a random pause in
/// `pause` before its next call. Every call ends with a BYE no later than
/// `duration`. The audio is speech-like (`SpeechSynth`), a few clips per
/// voice looped from a random offset, coded with `codec`.
public struct TrafficGenerator {
    /// Calls in progress at once (lines).
    public var concurrentCalls = 200
    /// Seconds of traffic.
    public var duration = 60.0
    /// Seconds a call lasts (media), uniformly distributed.
    public var callLength: ClosedRange<Double> = 20...40
    /// Seconds a line rests between two calls.
    public var pause: ClosedRange<Double> = 0.2...1.0
    /// Capture time of the first packet.
    public var start = MediaTime(seconds: 1_795_000_000, microseconds: 0)
    public var seed: UInt64 = 1
    /// Packetisation in milliseconds.
    public var ptime = 20
    /// The codec both parties send (PCMU or PCMA).
    public var codec: AudioCodec = .pcmu

    /// What was generated.
    public struct Summary: Sendable, Equatable {
        /// Calls (each with a BYE).
        public var calls = 0
        /// Packets and bytes of the capture.
        public var packets = 0
        public var bytes = 0
        /// Seconds of media summed over the calls (both legs of a call count once).
        public var callSeconds = 0.0
        /// The most calls that were in progress at once.
        public var peakConcurrent = 0
    }

    public init() {}

    /// A generator of `concurrentCalls` calls at once for `duration` seconds.
    public init(concurrentCalls: Int, duration: Double, seed: UInt64 = 1) {
        self.concurrentCalls = concurrentCalls
        self.duration = duration
        self.seed = seed
    }

    /// Generates the capture and hands it to `write` in chunks of about
    /// `chunkBytes` bytes (the first chunk starts with the pcap file header).
    /// Memory is the chunk and the calls in progress, whatever the duration.
    public func generate(chunkBytes: Int = 1 << 20, _ write: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Summary {
        try generate(chunkBytes: chunkBytes, chunkSeconds: .infinity) { chunk, _ in try write(chunk) }
    }

    /// The same, each chunk handed over with the capture time of its last
    /// packet (seconds from `start`), and cut after at most `chunkSeconds` of
    /// capture time: a feeder that writes each chunk once the wall clock has
    /// reached that time plays the traffic at its own pace (`soak --pace`).
    public func generate(
        chunkBytes: Int = 1 << 20, chunkSeconds: Double, _ write: (UnsafeRawBufferPointer, Double) throws -> Void
    ) rethrows -> Summary {
        var summary = Summary()
        var buffer = PcapWriter().bytes  // the file header
        buffer.reserveCapacity(chunkBytes + 4096)
        let clips = Clips(codec: codec, seed: seed)
        var rng = SeededRandom(seed: seed &+ 7)
        var lines: [Line] = (0..<concurrentCalls).map { k in
            // Lines start over the first second, so the first calls do not all end together.
            Line(index: k, nextStart: Double(k) / Double(max(1, concurrentCalls)))
        }
        var calls: [Call?] = Array(repeating: nil, count: concurrentCalls)
        var heap = EventHeap()
        var chunkStart = 0.0
        var lastTime = 0.0
        var callNumber = 0
        var inProgress = 0
        for k in lines.indices { heap.push(time: lines[k].nextStart, line: k) }
        let samplesPerPacket = 8000 * ptime / 1000
        while let (time, k) = heap.pop() {
            if calls[k] == nil {
                // The line starts its next call, if one still fits.
                let length = rng.uniform(callLength)
                let ringing = rng.uniform(0.5...2.0)
                guard time + ringing + length + 0.1 <= duration else { continue }
                callNumber += 1
                calls[k] = Call(
                    number: callNumber, line: k, start: time, ringing: ringing, length: length, ptime: ptime, codec: codec,
                    clipCount: clips.count, rng: &rng)
                summary.calls += 1
                summary.callSeconds += length
                inProgress += 1
                summary.peakConcurrent = max(summary.peakConcurrent, inProgress)
            }
            var call = calls[k]!
            if !buffer.isEmpty, time - chunkStart >= chunkSeconds {
                summary.bytes += buffer.count
                try buffer.withUnsafeBytes { try write($0, lastTime) }
                buffer.removeAll(keepingCapacity: true)
                chunkStart = time
            }
            lastTime = time
            let at = start.advanced(byNanoseconds: Int64((time * 1e9).rounded()))
            switch call.next(samplesPerPacket: samplesPerPacket) {
            case .sip(let frame):
                Self.append(frame, at: at, to: &buffer)
            case .rtp(let leg, let header):
                let clip = clips.payload(
                    voice: leg, clip: call.clip[leg], packet: call.clipOffset[leg] + header.sequenceIndex, bytes: samplesPerPacket)
                Self.appendRTP(call.route(leg), header: header, payload: clip, at: at, to: &buffer)
            }
            summary.packets += 1
            if let next = call.nextTime {
                calls[k] = call
                heap.push(time: next, line: k)
            } else {
                calls[k] = nil
                inProgress -= 1
                lines[k].nextStart = time + rng.uniform(pause)
                heap.push(time: lines[k].nextStart, line: k)
            }
            if buffer.count >= chunkBytes {
                summary.bytes += buffer.count
                try buffer.withUnsafeBytes { try write($0, lastTime) }
                buffer.removeAll(keepingCapacity: true)
                chunkStart = time
            }
        }
        summary.bytes += buffer.count
        try buffer.withUnsafeBytes { try write($0, lastTime) }
        return summary
    }

    /// Appends one pcap record holding `frame`.
    static func append(_ frame: [UInt8], at time: MediaTime, to buffer: inout [UInt8]) {
        appendRecordHeader(length: frame.count, at: time, to: &buffer)
        buffer += frame
    }

    static func appendRecordHeader(length: Int, at time: MediaTime, to buffer: inout [UInt8]) {
        buffer.appendLE32(UInt32(time.nanoseconds / 1_000_000_000))
        buffer.appendLE32(UInt32(time.nanoseconds % 1_000_000_000 / 1000))
        buffer.appendLE32(UInt32(length))
        buffer.appendLE32(UInt32(length))
    }

    /// Appends an Ethernet/IPv4/UDP/RTP record without building the packet
    /// separately (the generator's hot path).
    static func appendRTP(
        _ route: (from: Endpoint, to: Endpoint), header: RTPFields, payload: ArraySlice<UInt8>, at time: MediaTime,
        to buffer: inout [UInt8]
    ) {
        let udpLength = 8 + 12 + payload.count
        appendRecordHeader(length: 14 + 20 + udpLength, at: time, to: &buffer)
        buffer += [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]
        let ipStart = buffer.count
        buffer += [0x45, 0x00]
        buffer.appendBE16(UInt16(20 + udpLength))
        buffer += [0, 0, 0x40, 0x00, 64, 17, 0, 0]
        buffer.appendBE32(route.from.address.ipv4Value)
        buffer.appendBE32(route.to.address.ipv4Value)
        var sum: UInt32 = 0
        for i in stride(from: ipStart, to: ipStart + 20, by: 2) { sum += UInt32(buffer[i]) << 8 | UInt32(buffer[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        buffer[ipStart + 10] = UInt8(~sum >> 8 & 0xFF)
        buffer[ipStart + 11] = UInt8(~sum & 0xFF)
        buffer.appendBE16(route.from.port)
        buffer.appendBE16(route.to.port)
        buffer.appendBE16(UInt16(udpLength))
        buffer.appendBE16(0)
        buffer += [0x80, (header.marker ? 0x80 : 0) | header.payloadType]
        buffer.appendBE16(header.sequence)
        buffer.appendBE32(header.timestamp)
        buffer.appendBE32(header.ssrc)
        buffer.append(contentsOf: payload)
    }

    /// The RTP header fields of one generated packet.
    struct RTPFields {
        var payloadType: UInt8
        var marker: Bool
        var sequence: UInt16
        var timestamp: UInt32
        var ssrc: UInt32
        /// The packet's number within its leg (0, 1, ...).
        var sequenceIndex: Int
    }

    /// One line: where its next call starts.
    struct Line {
        var index: Int
        var nextStart: Double
    }

    /// A few seconds of coded speech per voice, looped by the calls.
    struct Clips {
        static let seconds = 10.0
        /// [voice][clip]: coded bytes.
        let coded: [[[UInt8]]]
        let count = 4

        init(codec: AudioCodec, seed: UInt64) {
            coded = [SpeechSynth.Voice.low, .high].enumerated().map { v, voice in
                (0..<4).map { c in
                    let spurts = SpeechSynth.conversation(duration: Clips.seconds, seed: seed &+ UInt64(10 * c + v))
                    let pcm = SpeechSynth(sampleRate: 8000, voice: voice)
                        .render(duration: Clips.seconds, spurts: v == 0 ? spurts.caller : spurts.callee, seed: seed &+ UInt64(c))
                    return pcm.map(codec == .pcma ? G711.alawCompress : G711.ulawCompress)
                }
            }
        }

        /// The `bytes` bytes of packet `packet` of a clip, looping.
        func payload(voice: Int, clip: Int, packet: Int, bytes: Int) -> ArraySlice<UInt8> {
            let data = coded[voice][clip]
            let offset = (packet % (data.count / bytes)) * bytes
            return data[offset..<(offset + bytes)]
        }
    }

    /// A min-heap of (time, line): which line has the next packet.
    struct EventHeap {
        private var items: [(time: Double, line: Int)] = []

        mutating func push(time: Double, line: Int) {
            items.append((time, line))
            var i = items.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if Self.less(items[parent], items[i]) { break }
                items.swapAt(parent, i)
                i = parent
            }
        }

        mutating func pop() -> (Double, Int)? {
            guard !items.isEmpty else { return nil }
            let top = items[0]
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var i = 0
                while true {
                    let (l, r) = (2 * i + 1, 2 * i + 2)
                    var smallest = i
                    if l < items.count && Self.less(items[l], items[smallest]) { smallest = l }
                    if r < items.count && Self.less(items[r], items[smallest]) { smallest = r }
                    if smallest == i { break }
                    items.swapAt(i, smallest)
                    i = smallest
                }
            }
            return (top.time, top.line)
        }

        /// Earlier first; ties by line, so the order is the same on every run.
        static func less(_ a: (time: Double, line: Int), _ b: (time: Double, line: Int)) -> Bool {
            a.time < b.time || (a.time == b.time && a.line < b.line)
        }
    }

    /// One call in progress: its SIP messages and its two legs' packets, in time order.
    struct Call {
        enum Event {
            case sip([UInt8])
            /// A packet of leg 0 (caller to callee) or 1.
            case rtp(Int, RTPFields)
        }

        let callerMedia: Endpoint
        let calleeMedia: Endpoint
        /// Which clip each party speaks, and from which packet of it.
        let clip: [Int]
        let clipOffset: [Int]
        private var signalling: [(time: Double, frame: [UInt8])]
        private var signalled = 0
        private let packetsPerLeg: Int
        private var sent = [0, 0]
        private var legTime: [Double]
        private let legStart: [Double]
        private let ssrc: [UInt32]
        private let firstSequence: [UInt16]
        private let firstTimestamp: [UInt32]
        private let payloadType: UInt8
        private let period: Double
        private var jitter: SeededRandom

        init(
            number: Int, line: Int, start: Double, ringing: Double, length: Double, ptime: Int, codec: AudioCodec,
            clipCount: Int, rng: inout SeededRandom
        ) {
            var call = SyntheticCall()
            call.callID = "gen-\(number)-\(line)@traffic.example.com"
            call.callerNumber = "+4681\(100_000 + line)"
            call.calleeNumber = "+4631\(1_000_000 + number)"
            // 10.1.a.b calls 10.2.a.b, a.b from the line number.
            let host = UInt32(line / 250 % 256) << 8 | UInt32(line % 250 + 1)
            call.callerSignalling = Endpoint(address: IPAddress(ipv4: 0x0A01_0000 | host), port: 5060)
            call.calleeSignalling = Endpoint(address: IPAddress(ipv4: 0x0A02_0000 | host), port: 5060)
            // Each call on fresh ports, as a phone or gateway picks them.
            let port = UInt16(16_384 + 2 * (number % 8000))
            call.callerMedia = Endpoint(address: call.callerSignalling.address, port: port)
            call.calleeMedia = Endpoint(address: call.calleeSignalling.address, port: port &+ 20_000)
            call.codec = codec
            call.ptime = ptime
            callerMedia = call.callerMedia
            calleeMedia = call.calleeMedia
            let templates = SIPTemplates(call: call)
            let mediaStart = start + ringing + 0.04
            let end = mediaStart + length + 0.05
            let script: [(Double, SyntheticCall.Party, String)] = [
                (start, .caller, templates.invite),
                (start + 0.004, .callee, templates.response(100, "Trying", sdp: false)),
                (start + 0.030, .callee, templates.response(180, "Ringing", sdp: false)),
                (start + ringing, .callee, templates.response(200, "OK", sdp: true)),
                (start + ringing + 0.005, .caller, templates.ack),
                (end, .caller, templates.bye),
                (end + 0.003, .callee, templates.byeOK),
            ]
            signalling = script.map { time, party, text in
                let (from, to) = party == .caller
                    ? (call.callerSignalling, call.calleeSignalling) : (call.calleeSignalling, call.callerSignalling)
                return (time, PacketBuilder.ethernetUDP(from: from, to: to, payload: Array(text.utf8)))
            }
            period = Double(ptime) / 1000
            packetsPerLeg = Int(length / period)
            legStart = [mediaStart, mediaStart + 0.010]
            legTime = legStart
            ssrc = [UInt32(truncatingIfNeeded: rng.next()), UInt32(truncatingIfNeeded: rng.next())]
            firstSequence = [UInt16(truncatingIfNeeded: rng.next()), UInt16(truncatingIfNeeded: rng.next())]
            firstTimestamp = [UInt32(truncatingIfNeeded: rng.next()), UInt32(truncatingIfNeeded: rng.next())]
            clip = [Int(rng.next() % UInt64(clipCount)), Int(rng.next() % UInt64(clipCount))]
            clipOffset = [Int(rng.next() % 500), Int(rng.next() % 500)]
            payloadType = codec.staticPayloadType
            jitter = SeededRandom(seed: rng.next())
        }

        /// Where a packet of `leg` goes from and to.
        func route(_ leg: Int) -> (from: Endpoint, to: Endpoint) {
            leg == 0 ? (callerMedia, calleeMedia) : (calleeMedia, callerMedia)
        }

        /// When the next packet leaves; nil when the call is over.
        var nextTime: Double? {
            var next = signalled < signalling.count ? signalling[signalled].time : Double.infinity
            for leg in 0..<2 where sent[leg] < packetsPerLeg { next = min(next, legTime[leg]) }
            return next.isFinite ? next : nil
        }

        /// The next packet (the one at `nextTime`).
        mutating func next(samplesPerPacket: Int) -> Event {
            let sipTime = signalled < signalling.count ? signalling[signalled].time : Double.infinity
            var leg = -1
            var best = sipTime
            for l in 0..<2 where sent[l] < packetsPerLeg && legTime[l] < best {
                best = legTime[l]
                leg = l
            }
            guard leg >= 0 else {
                signalled += 1
                return .sip(signalling[signalled - 1].frame)
            }
            let k = sent[leg]
            sent[leg] += 1
            // The next packet leaves one period later, with up to 2 ms of network jitter.
            legTime[leg] = legStart[leg] + Double(k + 1) * period + jitter.uniform(0...0.002)
            return .rtp(
                leg,
                RTPFields(
                    payloadType: payloadType, marker: k == 0, sequence: firstSequence[leg] &+ UInt16(truncatingIfNeeded: k),
                    timestamp: firstTimestamp[leg] &+ UInt32(truncatingIfNeeded: k * samplesPerPacket), ssrc: ssrc[leg],
                    sequenceIndex: k))
        }
    }
}
