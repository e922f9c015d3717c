import CallrecCore
import CallrecTestSupport
import Capture
import SIP
import Testing

@Suite struct TCPReassemblerTests {
    let a = Endpoint(address: IPAddress("10.0.0.1")!, port: 40_000)
    let b = Endpoint(address: IPAddress("10.0.0.2")!, port: 5060)
    let t0 = MediaTime(seconds: 1_000, microseconds: 0)

    /// Feeds `segments` (sequence, bytes, flags) and returns what a consumer
    /// taking whole lines ("...\n") received, plus the diagnostics.
    func run(
        _ segments: [(UInt32, String, UInt8)], reassembler: inout TCPReassembler, times: [Double]? = nil
    ) -> [String] {
        var lines: [String] = []
        for (k, (sequence, text, flags)) in segments.enumerated() {
            let payload = Array(text.utf8)
            let time = t0.advanced(byNanoseconds: Int64((times?[k] ?? Double(k) * 0.01) * 1e9))
            payload.withUnsafeBytes { raw in
                let d = Datagram(transport: .tcp, source: a, destination: b, payload: raw, tcpSequence: sequence, tcpFlags: flags)
                reassembler.process(d, at: time, follow: true) { bytes in
                    guard let lf = bytes.firstIndex(of: 0x0A) else { return 0 }
                    lines.append(String(decoding: bytes[..<lf], as: UTF8.self))
                    return lf + 1
                }
            }
        }
        return lines
    }

    @Test func inOrderSegmentsSplitAnywhere() {
        var r = TCPReassembler(diagnostics: Diagnostics())
        let lines = run([(100, "one\ntw", 0x18), (106, "o\nthr", 0x18), (111, "ee\n", 0x18)], reassembler: &r)
        #expect(lines == ["one", "two", "three"])
    }

    @Test func retransmissionsAndOverlapsAreDeliveredOnce() {
        let diagnostics = Diagnostics()
        var r = TCPReassembler(diagnostics: diagnostics)
        // "abc\n" at 1, repeated; then "c\nde\n" overlapping by two bytes.
        let lines = run([(1, "ab", 0x18), (1, "ab", 0x18), (3, "c\n", 0x18), (4, "\nde\n", 0x18)], reassembler: &r)
        #expect(lines == ["abc", "de"])
        #expect(diagnostics[.tcpRetransmitted] == 1)
    }

    @Test func outOfOrderSegmentsWaitForTheHole() {
        var r = TCPReassembler(diagnostics: Diagnostics())
        let lines = run([(10, "first ", 0x18), (22, "third\n", 0x18), (16, "second", 0x18)], reassembler: &r)
        #expect(lines == ["first secondthird"])
    }

    @Test func sequenceNumbersWrapAround() {
        var r = TCPReassembler(diagnostics: Diagnostics())
        // 4294967292 + 4 bytes wraps to 0.
        let lines = run([(4_294_967_292, "wrap", 0x18), (0, "ped\n", 0x18)], reassembler: &r)
        #expect(lines == ["wrapped"])
    }

    @Test func aHoleThatStaysOpenIsSkipped() {
        let diagnostics = Diagnostics()
        var r = TCPReassembler(gapTimeout: 1, diagnostics: diagnostics)
        // Bytes 6..<20 never arrive: the cut line is dropped, the stream goes on after the hole.
        let lines = run(
            [(0, "head\nha", 0x18), (20, "after\n", 0x18), (26, "more\n", 0x18)], reassembler: &r, times: [0, 0.1, 2.0])
        #expect(lines == ["head", "after", "more"])
        #expect(diagnostics[.tcpGaps] == 1)
    }

    @Test func finForgetsTheConnectionAndUnfollowedFlowsCostNothing() {
        var r = TCPReassembler(diagnostics: Diagnostics())
        _ = run([(0, "bye\n", 0x19)], reassembler: &r)
        #expect(r.count == 0)
        let payload = Array("x\n".utf8)
        payload.withUnsafeBytes { raw in
            let d = Datagram(transport: .tcp, source: a, destination: b, payload: raw, tcpSequence: 0)
            r.process(d, at: t0, follow: false) { _ in Issue.record("delivered an unfollowed flow"); return 0 }
        }
        #expect(r.count == 0)
    }

    @Test func flowLimitIsEnforcedAndCounted() {
        let diagnostics = Diagnostics()
        var r = TCPReassembler(maxFlows: 3, diagnostics: diagnostics)
        let payload = Array("x".utf8)
        for port in 1...10 {
            payload.withUnsafeBytes { raw in
                let d = Datagram(
                    transport: .tcp, source: Endpoint(address: a.address, port: UInt16(port)), destination: b, payload: raw,
                    tcpSequence: 0)
                r.process(d, at: t0, follow: true) { _ in 0 }
            }
        }
        #expect(r.count == 3)
        #expect(diagnostics[.tcpFlowsOverLimit] == 7)
    }

    @Test func bufferedBytesAreBounded() {
        let diagnostics = Diagnostics()
        var r = TCPReassembler(maxBufferedBytes: 1000, diagnostics: diagnostics)
        // A consumer that never finds a boundary: the buffer is dropped, not grown.
        let chunk = String(repeating: "x", count: 400)
        let lines = run((0..<10).map { (UInt32($0 * 400), chunk, UInt8(0x18)) }, reassembler: &r)
        #expect(lines.isEmpty)
        #expect(diagnostics[.tcpGaps] >= 3)
    }

    /// A SIP stream (a 10 MB header, or a million short headers, then a good
    /// message) through the reassembler and the SIP framer, as the pipeline
    /// does it: memory stays within the stream buffer, the oversized message
    /// is skipped and counted, and the next one is framed.
    /// Named, so the test log says which (not 10 MB of the header itself).
    enum OversizedHeaders: String, CaseIterable, CustomTestStringConvertible {
        case oneHugeHeader = "a 10 MB header"
        case aMillionShortHeaders = "a million short headers"
        var testDescription: String { rawValue }
        var text: String {
            switch self {
            case .oneHugeHeader: "X-Huge: " + String(repeating: "h", count: 10_000_000) + "\r\n"
            case .aMillionShortHeaders: String(repeating: "X-A: 1\r\n", count: 1_000_000)
            }
        }
    }

    @Test(arguments: OversizedHeaders.allCases)
    func anOversizedHeaderBlockIsSkippedWithinTheBuffer(oversized: OversizedHeaders) {
        let headers = oversized.text
        let diagnostics = Diagnostics()
        var r = TCPReassembler(diagnostics: diagnostics)
        let good = "BYE sip:b@h SIP/2.0\r\nCall-ID: 1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        let stream = Array(("INVITE sip:b@h SIP/2.0\r\nCall-ID: 1\r\n" + headers + "CSeq: 1 INVITE\r\n\r\n" + good).utf8)
        var framed: [Int] = []
        var skipped = 0
        var keepAlives = 0
        var peak = 0
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + 1460)
            stream[offset..<end].withUnsafeBytes { raw in
                let d = Datagram(transport: .tcp, source: a, destination: b, payload: raw, tcpSequence: UInt32(offset), tcpFlags: 0x18)
                r.process(d, at: t0, follow: offset == 0) { bytes in
                    switch SIPFrame.next(in: bytes) {
                    case .incomplete: return 0
                    case .keepAlive(let count):
                        keepAlives += count
                        return count
                    case .skip(let count):
                        skipped += count
                        return count
                    case .message(let length):
                        framed.append(length)
                        return length
                    }
                }
            }
            peak = max(peak, r.heldBytes)
            offset = end
        }
        #expect(framed == [good.utf8.count])
        #expect(skipped + keepAlives == stream.count - good.utf8.count)
        #expect(skipped >= headers.utf8.count)
        // Within a header block's limit and two segments, never the message's size.
        #expect(peak <= 2 * (SIPFrame.maxHeaderBytes + 2 * 1460))
    }
}
