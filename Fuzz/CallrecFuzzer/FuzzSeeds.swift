import CallSynthesis
import CallrecCore
import Capture
import RTP
import SIP

#if canImport(Glibc)
import Glibc
#endif

/// Seeds for each target, made from captures (the real ones in
/// ../shared/data/captures) and from generated calls (CallSynthesis: every
/// dialog shape, SIP over TCP, fragments, SRTP, RFC 4733 events,
/// impairments). `make fuzz-seed` writes them to a temporary folder and lets
/// libFuzzer merge into the committed corpus only those that add coverage.
enum FuzzSeeds {
    /// Writes the seeds of `target` to `folder`; returns how many.
    static func write(_ target: FuzzTarget, to folder: String, captures: [String]) -> Int {
        mkdir(folder, 0o755)  // its parent must exist
        var seeds: [(String, [UInt8])] = []
        for path in captures {
            guard let bytes = FuzzFiles.contents(of: path) else { continue }
            let name = String(path.split(separator: "/").last ?? "capture").replacingDots()
            seeds += make(target, from: bytes, name: name)
        }
        for (name, call) in generatedCalls {
            seeds += make(target, from: call.build().pcap, name: "generated-" + name)
        }
        if target == .fragment { seeds += fragmentOrders() }
        var written = 0
        for (name, bytes) in seeds where !bytes.isEmpty {
            if FuzzFiles.write(Array(bytes.prefix(target.maxLength)), to: folder + "/seed-" + name) { written += 1 }
        }
        return written
    }

    /// Calls of every shape, short (half a second of media) so that seeds stay small.
    static var generatedCalls: [(String, SyntheticCall)] {
        func call(_ seed: UInt64, _ change: (inout SyntheticCall) -> Void) -> SyntheticCall {
            var c = SyntheticCall(seed: seed, duration: 0.5)
            change(&c)
            return c
        }
        let v6 = (IPAddress("2001:db8::10")!, IPAddress("2001:db8::20")!)
        return [
            ("udp", call(1) { _ in }),
            ("tcp", call(2) { $0.transport = .tcp(segmentSize: 300) }),
            ("challenge-late-offer", call(3) { $0.challenge = true; $0.lateOffer = true }),
            ("early-media-rejected", call(4) { $0.earlyMedia = true; $0.finalStatus = 486 }),
            ("cancelled", call(5) { $0.cancelled = true }),
            ("move-hold", call(6) {
                $0.duration = 2
                $0.move = SyntheticCall.MediaMove(party: .callee, at: 0.4, to: Endpoint(address: IPAddress("198.51.100.30")!, port: 52_000))
                $0.hold = SyntheticCall.Hold(from: 1.0, to: 1.4, rfc2543: true)
            }),
            ("srtp", call(7) { $0.srtp = true }),
            ("ipv6-g722", call(8) {
                $0.codec = .g722
                $0.callerSignalling = Endpoint(address: v6.0, port: 5060)
                $0.calleeSignalling = Endpoint(address: v6.1, port: 5060)
                $0.callerMedia = Endpoint(address: v6.0, port: 40_000)
                $0.calleeMedia = Endpoint(address: v6.1, port: 50_000)
            }),
            ("video", call(9) { $0.video = true }),
            ("fragmented-hostile", call(10) {
                $0.signallingMTU = 576
                $0.inviteExtraHeaders = "User-Agent: a\u{0}b\r\nX-Padding: " + String(repeating: "p", count: 2000) + "\r\n"
            }),
            ("impaired-dtmf", call(11) {
                $0.duration = 1.5
                $0.callerImpairments.events = [(digit: 5, at: 0.2, duration: 0.16), (digit: 11, at: 0.8, duration: 0.1)]
                $0.callerImpairments.firstSequence = 65_500
                $0.callerImpairments.firstTimestamp = 0xFFFF_F000
                $0.callerImpairments.reorderRate = 0.1
                $0.callerImpairments.duplicateRate = 0.05
                $0.callerImpairments.lossRate = 0.05
                $0.calleeImpairments.ssrcChangeAfter = 0.5
                $0.calleeImpairments.silenceSuppression = true
            }),
        ]
    }

    /// The seeds of `target` made from one capture.
    static func make(_ target: FuzzTarget, from capture: [UInt8], name: String) -> [(String, [UInt8])] {
        switch target {
        case .capture: [(name, Array(capture.prefix(target.maxLength)))]
        case .sip: split(sipRecords(capture), header: [0], name: name, limit: target.maxLength)
        case .rtp: split(rtpRecords(capture), header: [], name: name, limit: target.maxLength, most: 3)
        case .tcp: tcpSeeds(capture, name: name)
        case .fragment: split(fragmentRecords(capture), header: [], name: name, limit: target.maxLength)
        }
    }

    /// Cuts records into inputs of at most `limit` bytes (at most `most` of them).
    static func split(_ records: [(control: UInt8, body: [UInt8])], header: [UInt8], name: String, limit: Int, most: Int = 8) -> [(String, [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        var batch: [(control: UInt8, body: [UInt8])] = []
        var size = header.count
        for record in records where record.body.count + 5 + header.count <= limit {
            if size + record.body.count + 5 > limit {
                seeds.append(("\(name)-\(seeds.count)", FuzzRecords.encode(header: header, batch)))
                if seeds.count == most { return seeds }
                batch = []
                size = header.count
            }
            batch.append(record)
            size += record.body.count + 5
        }
        if !batch.isEmpty { seeds.append(("\(name)-\(seeds.count)", FuzzRecords.encode(header: header, batch))) }
        return seeds
    }

    /// Every frame of a capture with its time and link type.
    static func frames(_ capture: [UInt8]) -> [(time: MediaTime, bytes: [UInt8], linkType: LinkType)] {
        guard let reader = try? CaptureFileReader(bytes: capture, diagnostics: Diagnostics()) else { return [] }
        var out: [(MediaTime, [UInt8], LinkType)] = []
        while let packet = try? reader.next() { out.append((packet.timestamp, Array(packet.bytes), packet.linkType)) }
        return out
    }

    /// Every UDP or TCP payload of a capture (fragments reassembled), in order.
    static func datagrams(_ capture: [UInt8]) -> [(time: MediaTime, transport: Datagram.Transport, source: Endpoint, destination: Endpoint, sequence: UInt32, flags: UInt8, payload: [UInt8])] {
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var out: [(MediaTime, Datagram.Transport, Endpoint, Endpoint, UInt32, UInt8, [UInt8])] = []
        for frame in frames(capture) {
            frame.bytes.withUnsafeBytes { raw in
                let packet = RawPacket(timestamp: frame.time, bytes: raw, originalLength: raw.count, linkType: frame.linkType, number: out.count + 1)
                if let d = slicer.slice(packet) {
                    out.append((frame.time, d.transport, d.source, d.destination, d.tcpSequence, d.tcpFlags, Array(d.payload)))
                }
            }
        }
        return out
    }

    /// Steps of capture time, as the control byte codes them: the code whose step is nearest.
    static func code(_ seconds: Double, steps: [Double]) -> UInt8 {
        UInt8(steps.indices.min { abs(steps[$0] - seconds) < abs(steps[$1] - seconds) } ?? 0)
    }

    static func sipRecords(_ capture: [UInt8]) -> [(control: UInt8, body: [UInt8])] {
        var records: [(control: UInt8, body: [UInt8])] = []
        var first: Endpoint? = nil
        var sipFlows: Set<String> = []
        var last: MediaTime? = nil
        for d in datagrams(capture) {
            let looks = d.payload.withUnsafeBytes { SIPMessage.looksLikeSIP($0) }
            let flow = "\(d.source)>\(d.destination)"
            if d.transport == .tcp && looks { sipFlows.insert(flow) }
            guard d.transport == .udp ? looks : sipFlows.contains(flow) && !d.payload.isEmpty else { continue }
            if first == nil { first = d.source }
            let step = last.map { min(15, Int(d.time.seconds(since: $0) / 0.25)) } ?? 0
            last = d.time
            let control = UInt8(step) << 4 | (d.transport == .tcp ? 2 : 0) | (d.source == first ? 0 : 1)
            records.append((control, d.payload))
        }
        return records
    }

    static func rtpRecords(_ capture: [UInt8]) -> [(control: UInt8, body: [UInt8])] {
        var records: [(control: UInt8, body: [UInt8])] = []
        var perSSRC: [UInt32: Int] = [:]
        var last: MediaTime? = nil
        for d in datagrams(capture) where d.transport == .udp {
            let header = d.payload.withUnsafeBytes { SIPMessage.looksLikeSIP($0) ? nil : RTPHeader($0) }
            guard let header, perSSRC[header.ssrc, default: 0] < 40 else { continue }
            perSSRC[header.ssrc, default: 0] += 1
            let step = last.map { min(7, Int(d.time.seconds(since: $0) / 0.01 + 0.5)) } ?? 0
            last = d.time
            // Every fifth packet also goes through SRTP and back.
            let control = UInt8(step) | (records.count % 5 == 4 ? 0x10 : 0)
            records.append((control, d.payload))
        }
        return records
    }

    /// TCP seeds: each connection direction rebased to start at the header's
    /// sequence number, framed as SIP and taken whole with small limits; and
    /// once more with neighbouring segments swapped (holes, retransmissions).
    static func tcpSeeds(_ capture: [UInt8], name: String) -> [(String, [UInt8])] {
        var segments: [(flow: Int, time: MediaTime, sequence: UInt32, flags: UInt8, payload: [UInt8])] = []
        var flows: [String] = []
        var origins: [UInt32] = []
        for d in datagrams(capture) where d.transport == .tcp {
            let key = "\(d.source)>\(d.destination)"
            if !flows.contains(key) {
                guard flows.count < 4 else { continue }
                flows.append(key)
                origins.append(d.sequence)
            }
            let flow = flows.firstIndex(of: key)!
            segments.append((flow, d.time, d.sequence &- origins[flow], d.flags, d.payload))
        }
        guard !segments.isEmpty else { return [] }
        let steps = TCPTarget.steps.map { Double($0) / 1e9 }
        func records(_ order: [Int]) -> [(control: UInt8, body: [UInt8])] {
            var cursors = [UInt32](repeating: 0, count: 4)
            var last = segments[0].time
            var out: [(control: UInt8, body: [UInt8])] = []
            for k in order {
                let s = segments[k]
                let delta = Int64(Int32(bitPattern: s.sequence &- cursors[s.flow]))
                guard delta >= Int64(Int16.min) && delta <= Int64(Int16.max) else { continue }
                cursors[s.flow] = s.sequence &+ UInt32(s.payload.count)
                let control = code(s.time.seconds(since: last), steps: steps) << 5 | (s.flags & 0x01 != 0 ? 4 : 0) | (s.flags & 0x04 != 0 ? 8 : 0) | UInt8(s.flow)
                last = s.time
                let d = UInt16(bitPattern: Int16(delta))
                out.append((control, [UInt8(d >> 8), UInt8(d & 0xFF)] + s.payload))
            }
            return out
        }
        let inOrder = Array(segments.indices)
        var swapped = inOrder
        for k in stride(from: 1, to: swapped.count, by: 3) { swapped.swapAt(k - 1, k) }
        // Header: mode, then the first sequence number (just short of the 2^32 wrap in one of them).
        let limit = FuzzTarget.tcp.maxLength
        return split(records(inOrder), header: [0, 0, 0, 0, 0], name: name + "-framed", limit: limit, most: 2)
            + split(records(inOrder), header: [3, 0xFF, 0xFF, 0xF0, 0x00], name: name + "-whole-small", limit: limit, most: 2)
            + split(records(swapped), header: [0, 0x80, 0, 0, 0], name: name + "-swapped", limit: limit, most: 2)
    }

    /// The IP fragments of a capture as `fragment` records (up to four sources).
    static func fragmentRecords(_ capture: [UInt8]) -> [(control: UInt8, body: [UInt8])] {
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        var records: [(control: UInt8, body: [UInt8])] = []
        var sources: [IPAddress] = []
        var last: MediaTime? = nil
        for frame in frames(capture) {
            let found: (network: Int, etherType: UInt16)? = frame.bytes.withUnsafeBytes { slicer.linkLayer($0, frame.linkType) }
            guard let found, let fragment = ipFragment(Array(frame.bytes[found.network...])) else { continue }
            if !sources.contains(fragment.source) {
                guard sources.count < 4 else { continue }
                sources.append(fragment.source)
            }
            let step = last.map { code($0 == frame.time ? 0 : frame.time.seconds(since: $0), steps: FragmentTarget.steps.map { Double($0) / 1e9 }) } ?? 0
            last = frame.time
            let control = step << 6 | fragment.control | UInt8(sources.firstIndex(of: fragment.source)!) << 2
            records.append((control, [fragment.identification, UInt8((fragment.offset / 8) >> 8), UInt8((fragment.offset / 8) & 0xFF)] + fragment.data))
        }
        return records
    }

    /// An IPv4 or IPv6 fragment's fields, or nil when `ip` is not a fragment.
    static func ipFragment(_ ip: [UInt8]) -> (source: IPAddress, identification: UInt8, offset: Int, control: UInt8, data: [UInt8])? {
        guard let version = ip.first.map({ $0 >> 4 }) else { return nil }
        if version == 4, ip.count >= 20 {
            let headerLength = Int(ip[0] & 0x0F) * 4
            let field = Int(ip[6]) << 8 | Int(ip[7])
            let total = Int(ip[2]) << 8 | Int(ip[3])
            guard field & 0x3FFF != 0, headerLength >= 20, total <= ip.count, total >= headerLength else { return nil }
            let source = IPAddress(ipv4: UInt32(ip[12]) << 24 | UInt32(ip[13]) << 16 | UInt32(ip[14]) << 8 | UInt32(ip[15]))
            let control: UInt8 = (field & 0x2000 != 0 ? 2 : 0) | (ip[9] == 6 ? 0x10 : 0) | (headerLength > 20 ? 0x20 : 0)
            return (source, ip[5], (field & 0x1FFF) * 8, control, Array(ip[headerLength..<total]))
        }
        guard version == 6, ip.count >= 48 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for k in 0..<8 {
            high = high << 8 | UInt64(ip[8 + k])
            low = low << 8 | UInt64(ip[16 + k])
        }
        var next = ip[6]
        var offset = 40
        var hopByHop = false
        if next == 0, ip.count >= offset + 8 {
            hopByHop = true
            next = ip[offset]
            offset += (Int(ip[offset + 1]) + 1) * 8
        }
        guard next == 44, ip.count >= offset + 8 else { return nil }
        let field = Int(ip[offset + 2]) << 8 | Int(ip[offset + 3])
        let control: UInt8 = 1 | (field & 1 != 0 ? 2 : 0) | (ip[offset] == 6 ? 0x10 : 0) | (hopByHop ? 0x20 : 0)
        return (IPAddress(high: high, low: low), ip[offset + 7], (field >> 3) * 8, control, Array(ip[(offset + 8)...]))
    }

    /// Fragments of generated INVITEs in the orders and overlaps that reassembly must survive.
    static func fragmentOrders() -> [(String, [UInt8])] {
        let a = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
        let b = Endpoint(address: IPAddress("198.51.100.2")!, port: 5060)
        let a6 = Endpoint(address: IPAddress("2001:db8::1")!, port: 5060)
        let b6 = Endpoint(address: IPAddress("2001:db8::64")!, port: 5060)
        let invite = Array(("INVITE sip:bob@b SIP/2.0\r\nCall-ID: frag@a\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@a>;tag=1\r\nTo: <sip:bob@b>\r\n"
            + "Content-Length: 0\r\nX-Padding: " + String(repeating: "x", count: 700) + "\r\n\r\n").utf8)
        func records(_ fragments: [[UInt8]], steps: [UInt8] = []) -> [(control: UInt8, body: [UInt8])] {
            fragments.enumerated().compactMap { k, ip in
                guard let f = ipFragment(ip) else { return nil }
                let step = k < steps.count ? steps[k] : 0
                return (step << 6 | f.control, [f.identification, UInt8((f.offset / 8) >> 8), UInt8((f.offset / 8) & 0xFF)] + f.data)
            }
        }
        let v4 = PacketBuilder.ipv4Fragments(from: a, to: b, payload: invite, identification: 7, fragmentSize: 128)
        let other = PacketBuilder.ipv4Fragments(from: a, to: b, payload: Array(invite.reversed()), identification: 8, fragmentSize: 256)
        let v6 = PacketBuilder.ipv6Fragments(from: a6, to: b6, payload: invite, identification: 9, fragmentSize: 200, hopByHop: true)
        var interleaved: [[UInt8]] = []
        for k in 0..<max(v4.count, other.count) {
            if k < v4.count { interleaved.append(v4[k]) }
            if k < other.count { interleaved.append(other[k]) }
        }
        let overlapping = v4 + [v4[1], v4[2]]
        return [
            ("order-in-order", FuzzRecords.encode(header: [], records(v4))),
            ("order-reversed", FuzzRecords.encode(header: [], records(v4.reversed()))),
            ("order-interleaved", FuzzRecords.encode(header: [], records(interleaved))),
            ("order-repeated", FuzzRecords.encode(header: [], records(overlapping))),
            ("order-timed-out", FuzzRecords.encode(header: [], records(v4, steps: [0, 1, 3, 0, 2]))),
            ("order-ipv6", FuzzRecords.encode(header: [], records(v6.reversed()))),
        ]
    }
}

extension String {
    /// The name with dots made dashes (seed file names).
    func replacingDots() -> String { String(map { $0 == "." ? "-" : $0 }) }
}
