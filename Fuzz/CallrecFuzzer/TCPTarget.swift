import CallrecCore
import Capture
import SIP

/// The `tcp` target: the TCP stream reassembler, with the SIP framer on top
/// as the pipeline uses it, or with a consumer that takes every byte so that
/// what comes out can be checked against what went in.
///
/// Input (`FuzzRecords`): header byte 0 picks the mode (bit 0: take every
/// byte and check it, else frame SIP; bit 1: small limits, so that the
/// buffer, pending and flow limits are reached with small inputs), header
/// bytes 1-4 the first sequence number (so the 2^32 wrap is reached). Each
/// record is one segment: control byte bits 0-1 which of four connection
/// directions, bit 2 FIN, bit 3 RST, bit 4 sweep afterwards, bits 5-7 how far
/// capture time moves on (1 ms to 400 s, past the gap and idle timeouts);
/// then a signed 16-bit offset of its sequence number from where the
/// direction's previous segment ended (0 = in order, negative = a
/// retransmission, positive = a hole), then its payload.
enum TCPTarget {
    static let endpoints = [
        (Endpoint(address: IPAddress("192.0.2.1")!, port: 40_000), Endpoint(address: IPAddress("198.51.100.2")!, port: 5060)),
        (Endpoint(address: IPAddress("198.51.100.2")!, port: 5060), Endpoint(address: IPAddress("192.0.2.1")!, port: 40_000)),
        (Endpoint(address: IPAddress("192.0.2.1")!, port: 40_002), Endpoint(address: IPAddress("198.51.100.2")!, port: 5060)),
        (Endpoint(address: IPAddress("2001:db8::1")!, port: 5061), Endpoint(address: IPAddress("2001:db8::2")!, port: 5061)),
    ]
    static let steps: [Int64] = [1_000_000, 50_000_000, 500_000_000, 1_500_000_000, 2_500_000_000, 10_000_000_000, 60_000_000_000, 400_000_000_000]

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let input = FuzzRecords(bytes)
        let takeAll = input.option(0) & 1 != 0
        let small = input.option(0) & 2 != 0
        let diagnostics = Diagnostics()
        var reassembler = small
            ? TCPReassembler(maxFlows: 2, maxBufferedBytes: 2048, maxPendingSegments: 4, diagnostics: diagnostics)
            : TCPReassembler(maxFlows: 3, diagnostics: diagnostics)
        let base = UInt32(input.option(1)) << 24 | UInt32(input.option(2)) << 16 | UInt32(input.option(3)) << 8 | UInt32(input.option(4))
        var cursors = [UInt32](repeating: base, count: 4)
        // Directions whose every segment so far came in order: what they deliver is exactly what was sent.
        var inOrder = [Bool](repeating: true, count: 4)
        var time = MediaTime(seconds: 1_700_000_000, microseconds: 0)
        for (control, body) in input.records {
            time = time.advanced(byNanoseconds: steps[Int(control >> 5)])
            let flow = Int(control & 3)
            let delta = Int16(bitPattern: body.fuzzU16(at: 0))
            let payload = body.fuzzRest(from: 2)
            let sequence = cursors[flow] &+ UInt32(bitPattern: Int32(delta))
            cursors[flow] = sequence &+ UInt32(truncatingIfNeeded: payload.count)
            if delta != 0 { inOrder[flow] = false }
            let flags: UInt8 = 0x18 | (control & 4 != 0 ? 0x01 : 0) | (control & 8 != 0 ? 0x04 : 0)
            let (source, destination) = endpoints[flow]
            let segment = Datagram(transport: .tcp, source: source, destination: destination, payload: payload, tcpSequence: sequence, tcpFlags: flags)
            var calls = 0
            if takeAll {
                let exact = inOrder[flow]
                reassembler.process(segment, at: time, follow: true) { bytes in
                    calls += 1
                    precondition(!bytes.isEmpty, "the consumer is never handed nothing")
                    if exact {
                        precondition(calls == 1 && bytes.elementsEqual(payload), "in-order bytes come out as they went in, once")
                    }
                    return bytes.count
                }
            } else {
                reassembler.process(segment, at: time, follow: SIPMessage.looksLikeSIP(payload)) { bytes in
                    calls += 1
                    precondition(!bytes.isEmpty, "the consumer is never handed nothing")
                    return frame(bytes)
                }
            }
            if control & 0x10 != 0 {
                reassembler.sweep(at: time) { _, bytes in
                    precondition(!bytes.isEmpty, "the consumer is never handed nothing")
                    return takeAll ? bytes.count : frame(bytes)
                }
            }
            precondition(reassembler.count <= reassembler.maxFlows, "at most maxFlows directions are followed")
            let perFlow = 3 * (reassembler.maxBufferedBytes + 65_536)
            precondition(reassembler.heldBytes <= reassembler.count * perFlow, "memory stays within the buffer limits")
        }
    }

    /// The pipeline's consumer: one frame of SIP at the front of `bytes`; returns the bytes it used.
    static func frame(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch SIPFrame.next(in: bytes) {
        case .incomplete:
            return 0
        case .keepAlive(let count), .skip(let count):
            precondition(count > 0 && count <= bytes.count, "the framer skips inside the stream")
            return count
        case .message(let length):
            precondition(length > 0 && length <= bytes.count, "a framed message lies inside the stream")
            if let (message, used) = SIPMessage.parse(UnsafeRawBufferPointer(rebasing: bytes[..<length])) {
                precondition(used <= length && message.body.count <= length, "the parser stays inside the frame")
            }
            return length
        }
    }
}
