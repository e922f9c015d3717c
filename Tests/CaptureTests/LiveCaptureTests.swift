import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Synchronization
import Testing

/// A live capture on the loopback interface through libpcap (needs root or CAP_NET_RAW).
@Suite(.enabled(if: LoopbackSender.canCaptureOnLoopback, "needs permission to capture on lo"))
struct LiveCaptureTests {
    @Test func capturesWhatIsSentUntilStopped() throws {
        let port = UInt16(41_000 + getpid() % 1000 * 2)
        let diagnostics = Diagnostics()
        let source = try CaptureSource(interface: "lo", filter: "udp and dst port \(port)", diagnostics: diagnostics)
        #expect(source.format == .live)
        let stop = source.stopHandle
        let seen = Seen()
        let sender = Thread {
            let udp = LoopbackSender()
            for k in 0..<20 {
                udp.send(Array("datagram \(k)".utf8), from: port + 1, to: port)
                usleep(2000)
            }
            // Stopped from this thread once the reader has had all 20 (or after 10 s,
            // and the test fails on what is missing), not after a fixed wait.
            let deadline = Date().addingTimeInterval(10)
            while seen.count.load(ordering: .acquiring) < 20 && Date() < deadline { usleep(1000) }
            stop.stop()
        }
        sender.start()
        let slicer = PacketSlicer(diagnostics: diagnostics)
        var payloads: [String] = []
        var times: [Int64] = []
        try source.forEachPacket { packet in
            times.append(packet.timestamp.nanoseconds)
            if let d = slicer.slice(packet) { payloads.append(String(decoding: d.payload, as: UTF8.self)) }
            seen.count.add(1, ordering: .releasing)
        }
        #expect(payloads == (0..<20).map { "datagram \($0)" })
        #expect(times == times.sorted())
        #expect(source.packetsRead == 20)
        #expect(abs(Double(times.first ?? 0) / 1e9 - Date().timeIntervalSince1970) < 60)
    }

    @Test func aMissingInterfaceIsOneClearError() {
        #expect {
            try CaptureSource(interface: "callrec-no-such-if0")
        } throws: { error in
            let e = error as? CaptureError
            return e?.code == .interface && e!.description.hasPrefix("callrec-no-such-if0: cannot capture")
        }
    }

    @Test func aBadFilterOnAnInterfaceIsOneClearError() {
        #expect {
            try CaptureSource(interface: "lo", filter: "udp port banana")
        } throws: { error in
            (error as? CaptureError)?.code == .filter
        }
    }
}

/// Packets the reader has had, for the thread that stops it.
private final class Seen: Sendable {
    let count = Atomic<Int>(0)
}
