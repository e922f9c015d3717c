import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Inspection
import Testing

/// `callrec inspect` against tshark: the shared real captures (tshark 4.0's
/// counts in tshark-reference.txt) and generated streams (tshark run here).
@Suite struct InspectorTests {
    static func inspect(_ file: String) -> (InspectReport, Diagnostics) {
        let diagnostics = Diagnostics()
        return (Inspector.inspect(.file(FixturePaths.shared("captures/" + file)), diagnostics: diagnostics), diagnostics)
    }

    /// Checks `ours` equals tshark's `reference` stream for stream: packets and
    /// lost exactly, delta and jitter as tshark prints them (to the microsecond).
    static func expectSame(_ ours: [StreamReport], _ reference: [TsharkReference.Stream], _ context: String) {
        #expect(ours.count == reference.count, "\(context): \(ours.count) streams, tshark \(reference.count)")
        for r in reference {
            let match = ours.first {
                $0.source == Endpoint(address: IPAddress(r.source)!, port: r.sourcePort)
                    && $0.destination == Endpoint(address: IPAddress(r.destination)!, port: r.destinationPort)
                    && "0x" + String($0.ssrc, radix: 16, uppercase: true).leftPadded(8) == r.ssrc
            }
            guard let s = match else {
                Issue.record("\(context): no stream \(r)")
                continue
            }
            #expect(s.packets == r.packets, "\(context) \(r.ssrc) packets")
            #expect(s.lost == r.lost, "\(context) \(r.ssrc) lost")
            #expect(abs(s.maxDeltaMs - r.maxDeltaMs) <= 0.0015, "\(context) \(r.ssrc) max delta \(s.maxDeltaMs) vs \(r.maxDeltaMs)")
            #expect(abs(s.meanJitterMs - r.meanJitterMs) <= 0.0015, "\(context) \(r.ssrc) mean jitter \(s.meanJitterMs) vs \(r.meanJitterMs)")
            #expect(abs(s.maxJitterMs - r.maxJitterMs) <= 0.0015, "\(context) \(r.ssrc) max jitter \(s.maxJitterMs) vs \(r.maxJitterMs)")
        }
    }

    /// One test per shared capture. Captures with SIP are compared on the
    /// streams their SDP announced (tshark's default); RTP-only captures on
    /// every stream (tshark with rtp.heuristic_rtp, or decode-as).
    @Test(arguments: TsharkReference.files)
    func streamsAreTsharks(file: String) throws {
        let reference = try #require(TsharkReference.load()?.capture(file))
        let (report, _) = Self.inspect(file)
        #expect(report.error == nil)
        #expect(report.packets == reference.packets)
        let compared = reference.mode.contains("SDP") ? report.streams.filter { $0.foundBy == .sdp } : report.streams
        Self.expectSame(compared, reference.streams, file)
    }

    @Test(.enabled(if: FixturePaths.hasSharedData))
    func heuristicStreamsBesideSDPAreTsharksHeuristicOnes() {
        // The B2BUA's other leg, which no SDP in the capture names (the 6-packet
        // stream that MGCP's SDP announced is tshark's default set). tshark 4.0.17:
        // tshark -n -q -r heplify__rtp_rtcp_sip_ipv4_udp.pcap -o rtp.heuristic_rtp:TRUE -z rtp,streams
        let (report, _) = Self.inspect("heplify__rtp_rtcp_sip_ipv4_udp.pcap")
        let heuristic = report.streams.filter { $0.foundBy == .heuristic }
        let line = { (s: String) in TsharkReference.stream(s)! }
        Self.expectSame(heuristic, [
            line("8.528769     34.908251    200.57.7.199  4800    200.57.7.196 40378 0x58F33DEA            g711A   891     0 (0.0%)          19.590          20.500         379.912           0.001           0.030           0.078"),
            line("8.479859     32.603727    200.57.7.196 40378    200.57.7.199  4800 0xD2BD4E3E            g711A   548     0 (0.0%)           0.135          44.102        5843.747           0.452           2.548           7.400"),
        ], "heuristic")
    }

    /// tshark 4.0's RTP heuristic takes a stream to an odd port: the reverse direction of a
    /// stream to an even port (A:4000 -> B:4001 beside B:4001 -> A:4000), and one with no
    /// reverse at all. tshark 4.0.17 (`-o rtp.heuristic_rtp:TRUE -z rtp,streams`) on this
    /// capture lists all three: 100, 50 and 50 packets, none lost, jitter 0.
    @Test func heuristicStreamsToAnOddPortAreListed() throws {
        let a = Endpoint(address: IPAddress("10.0.0.1")!, port: 4000)
        let b = Endpoint(address: IPAddress("10.0.0.2")!, port: 4001)
        let c = Endpoint(address: IPAddress("10.0.0.3")!, port: 6000)
        let d = Endpoint(address: IPAddress("10.0.0.2")!, port: 6001)
        var packets: [(ms: Int, frame: [UInt8])] = []
        func stream(_ from: Endpoint, _ to: Endpoint, ssrc: UInt32, count: Int, startMs: Int) {
            for i in 0..<count {
                let rtp = PacketBuilder.rtp(
                    payloadType: 0, sequence: UInt16(100 + i), timestamp: UInt32(160 * i), ssrc: ssrc,
                    payload: [UInt8](repeating: 0xFF, count: 160))
                packets.append((startMs + 20 * i, PacketBuilder.ethernetUDP(from: from, to: to, payload: rtp)))
            }
        }
        stream(a, b, ssrc: 0x1111_1111, count: 100, startMs: 0)
        stream(b, a, ssrc: 0x2222_2222, count: 50, startMs: 1000)
        stream(c, d, ssrc: 0x3333_3333, count: 50, startMs: 0)
        var writer = PcapWriter()
        for packet in packets.sorted(by: { $0.ms < $1.ms }) {
            writer.append(packet.frame, at: MediaTime(nanoseconds: Int64(1_000_000_000_000) + Int64(packet.ms) * 1_000_000))
        }
        let path = try TemporaryFile.write(writer.bytes, name: "odd-ports.pcap")
        let report = Inspector.inspect(.file(path), diagnostics: Diagnostics())
        let found = report.streams.map { "\($0.source) -> \($0.destination) \($0.packets) \($0.lost) \($0.maxJitterMs)" }.sorted()
        #expect(found == [
            "10.0.0.1:4000 -> 10.0.0.2:4001 100 0 0.0",
            "10.0.0.2:4001 -> 10.0.0.1:4000 50 0 0.0",
            "10.0.0.3:6000 -> 10.0.0.2:6001 50 0 0.0",
        ])
        if TsharkReference.tsharkInstalled, let reference = TsharkReference.run(on: path) {
            Self.expectSame(report.streams, reference, "odd ports")
        }
    }

    @Test(.enabled(if: TsharkReference.tsharkInstalled))
    func generatedStreamsAreTsharks() throws {
        let path = try TemporaryFile.write(RTPStreamScenarios.capture(), name: "scenarios.pcap")
        let reference = try #require(TsharkReference.run(on: path))
        let report = Inspector.inspect(.file(path), diagnostics: Diagnostics())
        #expect(report.streams.count == RTPStreamScenarios.all().count)
        Self.expectSame(report.streams, reference, "scenarios")
    }

    @Test(.enabled(if: FixturePaths.hasSharedData))
    func rtpQuotedInICMPDoesNotCount() {
        // 1743 RTP-looking packets, 6 of them copies inside ICMP port-unreachable errors.
        let (report, diagnostics) = Self.inspect("mediastreamer2__audio-80-75-0c60.pcapng")
        #expect(diagnostics[.icmpMessages] == 6)
        #expect(report.streams.map(\.packets) == [1737])
        #expect(report.streams.first?.duplicates == 0)
        #expect(report.streams.first?.lost == 240)
    }

    @Test(.enabled(if: FixturePaths.hasSharedData))
    func callsFromReassembledFragmentsAndTCP() throws {
        // IPv6 over Linux SLL, the INVITEs' SDP in IPv6 fragments.
        let (ipv6, d6) = Self.inspect("sngrep__ipv6frag.pcap")
        #expect(d6[.ipFragmentsReassembled] == 2)
        let call = try #require(ipv6.calls.first)
        #expect(ipv6.calls.count == 1)
        #expect(call.callID == "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521")
        #expect(call.caller == "sipp")
        #expect(call.callee == "mcr")
        #expect(call.endReason == "bye")
        #expect(call.codecs.first == "AMR-WB")
        #expect(ipv6.streams.isEmpty)

        // An INVITE in two IPv4 fragments (the SRTP call).
        let (srtp, d4) = Self.inspect("voipshark__SIP-SRTP-Normal_Call_two_parties.pcap")
        #expect(d4[.ipFragmentsReassembled] == 1)
        #expect(d4[.sipMessages] == 48)
        #expect(srtp.calls.count == 2)
        #expect(srtp.streams.allSatisfy { $0.srtp })

        // SIP over TCP.
        let (tcp, _) = Self.inspect("heplify__sip_ipv4_tcp.pcap")
        #expect(tcp.calls.map(\.callID) == ["158936656982201062716@10.33.6.100"])
        #expect(tcp.calls.first?.codecs == ["PCMA"])
        #expect(tcp.streams.allSatisfy { $0.callID == "158936656982201062716@10.33.6.100" })

        // Only the first fragment of the INVITE was captured: nothing to reassemble, and it is counted.
        // The dialog is known from its 180 on (the INVITE not seen): its parties, answer and BYE.
        let (cut, dc) = Self.inspect("pkts__fragmented_udp_sip.pcap")
        #expect(dc[.ipFragments] == 1)
        #expect(dc[.ipFragmentsDropped] == 1)
        #expect(dc[.sipDialogsJoined] == 1)
        // Only the 200 to the BYE, after the call ended (as for any call).
        #expect(dc[.sipNotForACall] == 1)
        #expect(cut.calls.map(\.callID) == ["1-21520@10.192.243.79"])
        let joined = try #require(cut.calls.first)
        #expect(!joined.inviteSeen && joined.openedBy == "180")
        #expect(joined.caller == "sipp" && joined.callee == "service")
        #expect(joined.answered != nil && joined.endReason == "bye")
        #expect(joined.codecs == ["PCMU"])
        #expect(joined.calleeMedia?.description == "10.108.158.224:6000" && joined.callerMedia == nil)
    }

    @Test func garbageAtTheEndKeepsWhatCameBefore() throws {
        var call = SyntheticCall()
        call.duration = 1
        let path = try TemporaryFile.write(call.build().pcap + [0x0A, 0x0D, 0x0D, 0x0A])
        let report = Inspector.inspect(.file(path), diagnostics: Diagnostics())
        #expect(report.error == nil)
        #expect(report.calls.count == 1)
        #expect(report.streams.map(\.packets) == [50, 50])
        #expect(report.counters["capture_records_truncated"] == 1)
    }

    @Test func aReadErrorKeepsWhatCameBefore() throws {
        let (path, call, sectionAt) = try BrokenCapture.callThenUnknownSection()
        let report = Inspector.inspect(.file(path), diagnostics: Diagnostics())
        #expect(report.error?.contains("pcapng section version 3.0 is not supported (at byte \(sectionAt), after packet 107)") == true)
        #expect(report.calls.map(\.callID) == [call.callID])
        #expect(report.streams.map(\.packets) == [50, 50])
    }

    @Test func aCaptureThatCannotBeOpenedReportsOnlyTheError() {
        let report = Inspector.inspect(.file("/nonexistent/x.pcap"), diagnostics: Diagnostics())
        #expect(report.error == "/nonexistent/x.pcap: no such file")
        #expect(report.format == nil)
    }

    @Test func theStreamTableIsBounded() throws {
        let bytes = RTPStreamScenarios.capture()
        let path = try TemporaryFile.write(bytes)
        let diagnostics = Diagnostics()
        let report = Inspector.inspect(.file(path), options: Inspector.Options(maxStreams: 5), diagnostics: diagnostics)
        #expect(report.streams.count == 5)
        #expect(diagnostics[.rtpStreamsDroppedOverLimit] > 0)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
