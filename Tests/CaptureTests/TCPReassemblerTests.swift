import CallrecCore
import CallrecTestSupport
import Capture
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
}
