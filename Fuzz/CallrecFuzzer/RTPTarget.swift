import CallrecCore
import RTP

/// The `rtp` target: the RTP header, RFC 4733 telephone events and their
/// collector, the stream statistics, sequence and timestamp extension, the
/// jitter buffer, and SRTP (libsrtp through `SRTPSession`). RTCP is not
/// parsed anywhere in callrec yet (it is recognised and counted); its parser
/// joins this target when there is one.
///
/// Input (`FuzzRecords`): each record is one RTP packet as it arrived.
/// Control byte: bits 0-2 the time since the previous packet (10 ms steps),
/// bit 3 read the payload as telephone events whatever its type, bit 4 send
/// it through SRTP and back (protect, then unprotect: the packet must come
/// back as it was), bit 5 unprotect the bytes as they are, bits 6-7 the clock
/// rate the statistics use (tshark's for the type, 8000, 16000, none).
enum RTPTarget {
    /// One stream per SSRC, at most four (the rest share the last).
    struct Stream {
        var ssrc: UInt32
        var statistics = RTPStreamStatistics()
        var sequences = SequenceExtender()
        var timestamps = TimestampExtender()
        var buffer = JitterBuffer(capacity: 16, maxPayload: 256)
    }

    static let key = (0..<30).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }

    /// A session held for the whole run: Debian's libsrtp does its AES through
    /// NSS, which loads its token libraries when the first session is made and
    /// unloads them when the last is freed, about 8 ms each time: with every input
    /// making and freeing its own, the target ran 100 inputs a second, with this
    /// one held 550. The sessions of one input are still its own, so an input's
    /// outcome does not depend on the ones before.
    nonisolated(unsafe) static let keepCryptoLoaded = SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key)

    static func run(_ bytes: UnsafeRawBufferPointer) {
        precondition(keepCryptoLoaded != nil, "a well-formed SDES key makes a session")
        let input = FuzzRecords(bytes)
        var streams: [Stream] = []
        var events = DTMFCollector()
        let sender = SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key, sending: true)
        let receiver = SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key)
        precondition(sender != nil && receiver != nil, "a well-formed SDES key makes a session")
        var time = MediaTime(seconds: 1_700_000_000, microseconds: 0)
        var scratch = [UInt8](repeating: 0, count: 16_384 + 64)
        for (control, packet) in input.records {
            time = time.advanced(byNanoseconds: Int64(control & 7) * 10_000_000)
            if control & 0x30 != 0 && packet.count + 16 <= scratch.count {
                srtp(packet, roundTrip: control & 0x10 != 0, sender: sender!, receiver: receiver!, scratch: &scratch)
            }
            guard let header = RTPHeader(packet) else { continue }
            precondition(header.payloadOffset >= 12 && header.payloadLength >= 0, "the payload follows the fixed header")
            precondition(header.payloadOffset + header.payloadLength <= packet.count, "the payload lies inside the packet")
            precondition(header.payloadType < 128, "a payload type has 7 bits")
            let payload = UnsafeRawBufferPointer(rebasing: packet[header.payloadOffset..<(header.payloadOffset + header.payloadLength)])
            let index: Int
            if let known = streams.firstIndex(where: { $0.ssrc == header.ssrc }) {
                index = known
            } else if streams.count < 4 {
                streams.append(Stream(ssrc: header.ssrc))
                index = streams.count - 1
            } else {
                index = 3
            }
            let clockRate = [RTPPayloadType.tsharkClockRate(header.payloadType), 8000, 16_000, 0][Int(control >> 6)]
            streams[index].statistics.record(
                sequence: header.sequence, timestamp: header.timestamp, arrival: time, clockRate: clockRate,
                marker: header.marker, payloadType: header.payloadType)
            let statistics = streams[index].statistics
            precondition(statistics.packets > 0 && statistics.duplicates <= statistics.packets, "duplicates are among the packets")
            precondition(!statistics.jitterMs.isNaN && statistics.jitterMs >= 0, "jitter is a number")
            if control & 8 != 0 || header.payloadType == 101 {
                if let event = TelephoneEvent(payload) {
                    precondition(event.volume < 64, "a volume has 6 bits")
                    events.receive(event, timestamp: header.timestamp, ssrc: header.ssrc, at: time)
                    precondition(events.digits.count <= DTMFCollector.maxDigits, "digits are bounded")
                } else {
                    precondition(payload.count < 4, "a 4-byte payload is an event")
                }
            }
            buffer(header, payload, in: &streams[index], at: time)
        }
        events.flush()
        for digit in events.digits { precondition(digit.duration >= 0 && !digit.symbol.isEmpty, "a digit has a symbol") }
    }

    /// Stores the packet in its stream's jitter buffer and plays out the oldest
    /// while more than half are held, as a leg does; checks what comes back.
    static func buffer(_ header: RTPHeader, _ payload: UnsafeRawBufferPointer, in stream: inout Stream, at time: MediaTime) {
        let sequence = stream.sequences.extend(header.sequence)
        let timestamp = stream.timestamps.extend(header.timestamp)
        precondition(sequence > 0 && timestamp > 0, "extended counters stay positive")
        let outcome = stream.buffer.insert(
            sequence: sequence, timestamp: timestamp, header: header, payload: payload, arrival: time, position: timestamp)
        switch outcome {
        case .stored:
            let entry = stream.buffer.entry(sequence)
            precondition(entry?.length == payload.count && entry?.timestamp == timestamp, "a stored packet is found again")
            let same = stream.buffer.withPayload(sequence) { $0.elementsEqual(payload) }
            precondition(same == true, "a stored payload comes back unchanged")
        case .duplicate:
            precondition(stream.buffer.entry(sequence) != nil, "a duplicate is of a packet held")
        case .oversized:
            precondition(payload.count > stream.buffer.maxPayload, "only a payload over the slot is refused")
        }
        precondition(stream.buffer.count >= 0 && stream.buffer.count <= stream.buffer.capacity, "the buffer holds at most its capacity")
        while stream.buffer.count > stream.buffer.capacity / 2, let oldest = stream.buffer.oldest() {
            precondition(stream.buffer.next(from: oldest) == oldest, "the oldest is the next from itself")
            stream.buffer.remove(oldest)
        }
    }

    /// SRTP: a round trip must give the packet back; bytes as they are must never crash libsrtp or overrun the buffer.
    static func srtp(_ packet: UnsafeRawBufferPointer, roundTrip: Bool, sender: SRTPSession, receiver: SRTPSession, scratch: inout [UInt8]) {
        scratch.withUnsafeMutableBytes { buffer in
            buffer.copyMemory(from: packet)
            var count = packet.count
            if roundTrip {
                guard let protected = sender.protect(buffer, count: count) else { return }
                precondition(protected >= count && protected <= count + 16, "protect adds at most a tag")
                count = protected
            }
            guard let plain = receiver.unprotect(buffer, count: count) else { return }
            precondition(plain >= 12 && plain <= count, "unprotect removes the tag")
            if roundTrip {
                precondition(plain == packet.count && UnsafeRawBufferPointer(rebasing: buffer[..<plain]).elementsEqual(packet),
                             "SRTP gives back the packet it protected")
            }
        }
    }
}
