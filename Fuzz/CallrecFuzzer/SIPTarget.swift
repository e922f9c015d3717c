import CallrecCore
import SIP

/// The `sip` target: the SIP message parser, SDP, the SIP-over-TCP framer and
/// the dialog tracker, fed a sequence of messages as a capture would.
///
/// Input (`FuzzRecords`): each record is one UDP datagram or one piece of a
/// TCP stream. Control byte: bit 0 the direction (A to B, or back), bit 1
/// TCP (the body is appended to that direction's stream and framed with
/// `SIPFrame`), bits 2-3 which of four A endpoints, bits 4-7 how far capture
/// time moves on (in 250 ms steps). Header byte 0 sets the local parties
/// (none, a prefix, a domain), so direction is decided too.
enum SIPTarget {
    /// A stream buffer holds at most this much, as the TCP reassembler's does.
    static let maxStreamBytes = 131_072

    static let a = [
        Endpoint(address: IPAddress("192.0.2.1")!, port: 5060), Endpoint(address: IPAddress("192.0.2.1")!, port: 5062),
        Endpoint(address: IPAddress("2001:db8::1")!, port: 5060), Endpoint(address: IPAddress("192.0.2.3")!, port: 5060),
    ]
    static let b = Endpoint(address: IPAddress("198.51.100.2")!, port: 5060)

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let input = FuzzRecords(bytes)
        let diagnostics = Diagnostics()
        let local: LocalParties = switch input.option(0) % 3 {
        case 1: LocalParties(numbers: ["+4681234567"], prefixes: ["+46812"])
        case 2: LocalParties(domains: ["example.com"])
        default: LocalParties()
        }
        // A small call limit, so that the limit is reached.
        var tracker = CallTracker(maxCalls: 4, localParties: local, diagnostics: diagnostics)
        var streams: [[UInt8]] = [[], []]
        var time = MediaTime(seconds: 1_700_000_000, microseconds: 0)
        for (control, body) in input.records {
            time = time.advanced(byNanoseconds: Int64(control >> 4) * 250_000_000)
            let toB = control & 1 == 0
            let here = a[Int(control >> 2) & 3]
            let (source, destination) = toB ? (here, b) : (b, here)
            if control & 2 == 0 {
                datagram(body, from: source, to: destination, at: time, tracker: &tracker)
                continue
            }
            // TCP: append to the direction's stream, then frame what is there as the pipeline does.
            let k = toB ? 0 : 1
            if streams[k].count + body.count > maxStreamBytes { streams[k].removeAll(keepingCapacity: true) }
            streams[k] += body
            var used = 0
            streams[k].withUnsafeBytes { all in
                while used < all.count {
                    let rest = UnsafeRawBufferPointer(rebasing: all[used...])
                    switch SIPFrame.next(in: rest) {
                    case .incomplete:
                        return
                    case .keepAlive(let count), .skip(let count):
                        precondition(count > 0 && count <= rest.count, "the framer skips inside the stream")
                        used += count
                    case .message(let length):
                        precondition(length > 0 && length <= rest.count, "a framed message lies inside the stream")
                        let message = UnsafeRawBufferPointer(rebasing: rest[..<length])
                        precondition(SIPMessage.looksLikeSIP(message), "the framer frames only what looks like SIP")
                        if let (parsed, parsedLength) = parse(message) {
                            precondition(parsedLength == length || parsed.bodyIsIncomplete || parsed.header("content-length") == nil,
                                         "the parser reads the message the framer framed")
                            process(parsed, from: source, to: destination, at: time, tracker: &tracker)
                        }
                        used += length
                    }
                }
            }
            streams[k].removeFirst(used)
        }
        tracker.finishAll(at: time) { event in check(event) }
        precondition(tracker.count == 0, "finishAll ends every call")
    }

    /// One UDP datagram: the flood check, then the parse, as the pipeline does it.
    static func datagram(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime, tracker: inout CallTracker) {
        guard SIPMessage.looksLikeSIP(payload) else { return }
        if let id = SIPFrame.callID(in: payload) {
            precondition(id.count <= payload.count, "the Call-ID lies inside the datagram")
            _ = tracker.refuses(callID: String(decoding: id, as: UTF8.self))
        }
        guard let (message, _) = parse(payload) else { return }
        process(message, from: source, to: destination, at: time, tracker: &tracker)
    }

    /// Parses one message and checks what the parser promises about it.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> (SIPMessage, Int)? {
        guard let (message, length) = SIPMessage.parse(bytes) else { return nil }
        precondition(length > 0 && length <= bytes.count, "a message lies inside its bytes")
        precondition(message.body.count <= bytes.count, "the body lies inside the bytes")
        precondition(message.headers.count <= SIPMessage.maxHeaders + 6, "at most maxHeaders headers, and the first of each one callrec reads")
        for (name, value) in message.headers {
            precondition(!name.isEmpty, "a header has a name")
            precondition(value.utf8.count <= SIPMessage.maxValueLength, "no kept value is longer than maxValueLength")
            precondition(!value.utf8.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }, "no kept value holds a control character")
        }
        // The readers of the headers callrec uses.
        _ = message.cseq
        _ = message.fromTag
        if let from = message.from { precondition(!from.uri.isEmpty, "an address has a URI") }
        _ = message.to?.party
        if message.hasSDP, let sdp = SessionDescription(message.body) { check(sdp) }
        return (message, length)
    }

    static func process(_ message: SIPMessage, from source: Endpoint, to destination: Endpoint, at time: MediaTime, tracker: inout CallTracker) {
        tracker.process(message, from: source, to: destination, at: time) { event in check(event) }
        precondition(tracker.count <= tracker.maxCalls, "the tracker holds at most maxCalls calls")
    }

    static func check(_ sdp: SessionDescription) {
        precondition(sdp.media.count <= SessionDescription.maxMedia, "at most maxMedia m= lines")
        for m in sdp.media {
            precondition(m.payloadTypes.count <= SessionDescription.maxFormats && m.payloadTypes.allSatisfy { $0 < 128 }, "formats are bounded RTP payload types")
            precondition(m.rtpmap.count <= SessionDescription.maxFormats, "rtpmaps are bounded")
            precondition(m.crypto.count <= 4, "at most 4 crypto lines")
            if let ptime = m.ptime { precondition((1...1000).contains(ptime), "ptime is sane") }
            for map in m.rtpmap { precondition(map.clockRate > 0 && map.clockRate <= 192_000, "clock rates are sane") }
        }
        _ = sdp.audio
    }

    static func check(_ event: CallTracker.Event) {
        let call: CallDescription
        switch event {
        case .updated(let c), .refused(let c): call = c
        case .ended(let c):
            call = c
            precondition(c.endedAt != nil && c.endReason != nil, "an ended call says when and why")
        }
        precondition(!call.callID.isEmpty && call.callID.utf8.count <= CallTracker.maxCallIDLength, "a call's Call-ID is bounded")
        precondition(call.otherMedia.count <= CallDescription.maxOtherMedia, "other media are bounded")
    }
}
