import CallMedia
import CallrecCore
import CallrecTestSupport
import Capture
import Foundation
import Output
import Pipeline
import RTP
import SIP
import Testing

/// Input written to hurt: paths in Call-IDs, huge headers, NUL bytes, a
/// flood of Call-IDs. Nothing escapes the output folder, memory stays
/// bounded, the excess is counted and dropped.
@Suite struct HostileInputTests {
    @Test func aCallIDThatLooksLikeAPathNeverBecomesOne() throws {
        var call = SyntheticCall(seed: 41, duration: 1)
        call.callID = "../../etc/passwd"
        let (_, found) = try CallFinding.run(call)
        let recording = try #require(found.recordings.first)
        #expect(recording.index.callID == "../../etc/passwd")
        // Every file is under OUT/YYYY/MM/DD and named by time and hash.
        let pattern = #/^\d{4}/\d{2}/\d{2}/\d{8}T\d{6}Z-[0-9a-f]{8}\.(opus|json|peaks\.json)$/#
        #expect(!found.files.isEmpty)
        for file in found.files where !file.hasPrefix("catalog") {
            let isDirectory = (try? FileManager.default.attributesOfItem(atPath: found.output + "/" + file)[.type] as? FileAttributeType) == .typeDirectory
            if isDirectory { continue }
            #expect(file.wholeMatch(of: pattern) != nil, "\(file)")
        }
        #expect(recording.audioPath.hasPrefix(found.output + "/"))
        #expect(!recording.audioPath.contains(".."))
    }

    @Test func aHeaderOfSixtyKilobytesDoesNotHideTheCall() throws {
        var call = SyntheticCall(seed: 42, duration: 1)
        call.inviteExtraHeaders = "X-Padding: " + String(repeating: "p", count: 60_000) + "\r\n"
        let (generated, found) = try CallFinding.run(call)
        let report = try #require(found.reports.first)
        #expect(report.signalled)
        #expect(report.caller == call.callerNumber)
        #expect(report.recording?.index.channels.map(\.packets) == [generated.callerPackets, generated.calleePackets])
    }

    @Test func aHeaderBlockOverSixtyFourKilobytesOverTCPIsSkippedAndTheStreamResynchronises() throws {
        var call = SyntheticCall(seed: 43, duration: 1)
        call.transport = .tcp(segmentSize: 1400)
        call.inviteExtraHeaders = String(repeating: "X-Padding: " + String(repeating: "p", count: 1000) + "\r\n", count: 70)
        let (_, found) = try CallFinding.run(call)
        // The INVITE is lost, the 100/180/200/ACK/BYE after it are read; its media is still a call,
        // the dialog's own: the 100 opens it, the 200's SDP claims the media (issue 16).
        #expect(found.diagnostics[.sipStreamBytesSkipped] > 64 * 1024)
        #expect(found.diagnostics[.sipMessages] == 6)
        #expect(found.reports.count == 1)
        #expect(found.reports.first?.signalled == true)
        #expect(found.reports.first?.openedBy == "100")
        #expect(found.reports.first?.caller == call.callerNumber)
    }

    @Test func nulBytesAreNeverACrashAndANulInTheCallIDKeepsTheCall() throws {
        var call = SyntheticCall(seed: 44, duration: 1)
        call.callID = "nul\u{0}inside"
        var junk = PcapWriter()
        // A datagram of NULs and one of a SIP start line followed by NULs, to the SIP port.
        junk.append(PacketBuilder.ethernetUDP(from: call.callerSignalling, to: call.calleeSignalling, payload: [UInt8](repeating: 0, count: 1400)), at: call.start)
        junk.append(PacketBuilder.ethernetUDP(
            from: call.callerSignalling, to: call.calleeSignalling,
            payload: Array("OPTIONS sip:a@b SIP/2.0\r\n".utf8) + [UInt8](repeating: 0, count: 600)), at: call.start)
        let found = try CallFinding.run(PcapConcatenation.concatenate(junk.bytes, call.build().pcap))
        // The OPTIONS has no end to its header block: malformed. Every message of the call is read.
        #expect(found.diagnostics[.sipMalformed] == 1)
        #expect(found.diagnostics[.sipHeadersRepaired] == 7)
        let report = try #require(found.reports.first)
        #expect(found.reports.count == 1)
        #expect(report.signalled)
        #expect(report.callID == "nul\u{FFFD}inside")
        #expect(report.endReason == "bye")
    }

    /// Item 7 of issue 17: an INVITE of 62 kB (a 60 KiB extra header and a NUL
    /// in one header value) arrives in 43 IPv4 fragments. The call keeps its
    /// Call-ID, its parties and its orientation (channel 0 is the INVITE's sender).
    @Test(arguments: [
        "User-Agent",  // a header callrec does not read: dropped
        "From",  // the caller's display name: repaired
    ])
    func anInviteInFortyThreeFragmentsWithANulAndASixtyKiBHeaderKeepsTheCall(nulIn header: String) throws {
        var call = SyntheticCall(seed: 45, duration: 2)
        call.signallingMTU = 1500
        call.inviteExtraHeaders = "User-Agent: softphone 1.0\r\n"
            + "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY, MESSAGE, SUBSCRIBE\r\n"
            + "Supported: 100rel, timer, replaces\r\n"
            + "X-Padding: " + String(repeating: "p", count: 60 * 1024) + "\r\n"
        var generated = call.build()
        // A NUL in the INVITE only (the first of each in the capture): `softphone\01.0`, or `"Cal\0er" <sip:...>`.
        let (needle, at) = header == "From" ? ("From: \"Caller\"", 10) : ("User-Agent: softphone 1.0", 21)
        let range = try #require(generated.pcap.firstRange(of: Array(needle.utf8)))
        generated.pcap[range.lowerBound + at] = 0
        let found = try CallFinding.run(generated.pcap)
        #expect(found.diagnostics[.ipFragments] == 43)
        #expect(found.diagnostics[.ipFragmentsReassembled] == 1)
        #expect(found.diagnostics[.ipFragmentsDropped] == 0)
        #expect(found.diagnostics[.sipMalformed] == 0)
        // The padding, and the User-Agent when it holds the NUL.
        #expect(found.diagnostics[.sipHeadersDropped] == (header == "From" ? 1 : 2))
        #expect(found.diagnostics[.sipHeadersRepaired] == (header == "From" ? 1 : 0))
        let report = try #require(found.reports.first)
        #expect(found.reports.count == 1)
        #expect(report.signalled)
        #expect(report.callID == call.callID)
        #expect(report.caller == call.callerNumber)
        #expect(report.callee == call.calleeNumber)
        #expect(report.endReason == "bye")
        // Orientation: channel 0 carries the caller's SSRC, channel 1 the callee's.
        let index = try #require(report.recording?.index)
        #expect(index.callID == call.callID)
        #expect(index.signalling != "none")
        #expect(index.channels.map(\.ssrcs) == generated.legReports.map { $0.ssrcs.map(RTPHeader.format(ssrc:)) })
        #expect(index.channels.map(\.packets) == [generated.callerPackets, generated.calleePackets])
    }

    /// The bounds still hold around the liberal reading: a datagram of thousands
    /// of headers keeps at most `maxHeaders` (and the call), a 10 MB header over
    /// TCP is skipped within the stream buffer's limit, and both are counted.
    @Test func thousandsOfHeadersInOneInviteAreCappedAndCounted() throws {
        var call = SyntheticCall(seed: 46, duration: 1)
        call.signallingMTU = 1500
        // 3500 headers (about 60 KB) before the Via, From, To, Call-ID and CSeq.
        call.inviteExtraHeaders = String(repeating: "X-Flood: 012345\r\n", count: 3500)
        let (_, found) = try CallFinding.run(call)
        // The first 128 are kept; past the cap the other floods, the Via, Max-Forwards and
        // Contact are dropped, the first From, To, Call-ID, CSeq, Content-Type and Content-Length kept.
        #expect(found.diagnostics[.sipHeadersDropped] == 3500 - SIPMessage.maxHeaders + 3)
        let report = try #require(found.reports.first)
        #expect(report.signalled && report.caller == call.callerNumber && report.callee == call.calleeNumber)
    }

    @Test func aTenMegabyteHeaderOverTCPStaysWithinTheStreamBuffer() throws {
        var call = SyntheticCall(seed: 47, duration: 1)
        call.transport = .tcp(segmentSize: 1400)
        call.inviteExtraHeaders = "X-Huge: " + String(repeating: "h", count: 10_000_000) + "\r\n"
        let (_, found) = try CallFinding.run(call)
        // The INVITE cannot be framed within 64 KiB: skipped, counted, and the stream resynchronises.
        #expect(found.diagnostics[.sipStreamBytesSkipped] + found.diagnostics[.tcpGaps] > 0)
        #expect(found.diagnostics[.sipStreamBytesSkipped] >= 10_000_000 - 2 * 131_072)
        #expect(found.diagnostics[.sipMessages] == 6)
        #expect(found.reports.count == 1)
    }

    /// A million INVITEs with distinct Call-IDs in one capture, generated and
    /// streamed into the processor packet by packet (never held whole).
    @Test func aMillionCallIDsKeepMemoryBounded() throws {
        let diagnostics = Diagnostics()
        let output = FixturePaths.temporaryDirectory("callrec-flood")
        let options = ConvertOptions(outputDirectory: output, maxCalls: 10_000)
        let processor = CaptureProcessor(options: options, diagnostics: diagnostics) { _ in
            Issue.record("a call without media was recorded")
        }
        let source = Endpoint(address: IPAddress("203.0.113.66")!, port: 5060)
        let target = Endpoint(address: IPAddress("192.0.2.1")!, port: 5060)
        // Compact forms, as scanners send them.
        let template = "INVITE sip:100@192.0.2.1 SIP/2.0\r\ni: 0000000\r\nf: <sip:scan@203.0.113.66>;tag=1\r\n"
            + "t: <sip:100@192.0.2.1>\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n"
        var frame = PacketBuilder.ethernetUDP(from: source, to: target, payload: Array(template.utf8))
        let digits = frame.count - template.utf8.count + Array("INVITE sip:100@192.0.2.1 SIP/2.0\r\ni: ".utf8).count
        let total = 1_000_000
        var peak = 0
        let start = MediaTime(seconds: 1_700_000_000, microseconds: 0)
        try frame.withUnsafeMutableBytes { bytes in
            for n in 0..<total {
                // Write n as seven decimal digits in place: no allocation per packet.
                var value = n
                var k = digits + 6
                while k >= digits {
                    bytes[k] = UInt8(truncatingIfNeeded: 0x30 + value % 10)
                    value /= 10
                    k -= 1
                }
                // 20 000 INVITEs a second of capture time: the whole flood within one idle timeout.
                let packet = RawPacket(
                    timestamp: start.advanced(byNanoseconds: Int64(n) * 50_000), bytes: UnsafeRawBufferPointer(bytes),
                    originalLength: bytes.count, linkType: .ethernet, number: n + 1)
                try processor.process(packet)
                if n % 65_536 == 0 { peak = max(peak, processor.callsInFlight, processor.dialogsInFlight) }
            }
        }
        peak = max(peak, processor.callsInFlight, processor.dialogsInFlight)
        #expect(peak == 10_000)
        #expect(diagnostics[.sipMessages] == total)
        #expect(diagnostics[.callsDroppedOverLimit] == total - 10_000)
        #expect(processor.claimedEndpoints == 0)
        try processor.finish()
        #expect(processor.callsInFlight == 0 && processor.dialogsInFlight == 0)
        #expect(diagnostics[.callsWithoutMedia] == 10_000)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: output))?.isEmpty ?? true)
    }

    @Test func manyStreamsWithoutSignallingAreBounded() throws {
        // 5000 one-packet flows that look like RTP: candidates are capped, never calls.
        let diagnostics = Diagnostics()
        let processor = CaptureProcessor(options: ConvertOptions(outputDirectory: FixturePaths.temporaryDirectory()), diagnostics: diagnostics) { _ in }
        let start = MediaTime(seconds: 1_700_000_000, microseconds: 0)
        for n in 0..<5000 {
            let rtp = PacketBuilder.rtp(payloadType: 0, sequence: 1, timestamp: 0, ssrc: UInt32(n), payload: [UInt8](repeating: 0xFF, count: 160))
            let frame = PacketBuilder.ethernetUDP(
                from: Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(n)), port: 4000),
                to: Endpoint(address: IPAddress("10.255.0.1")!, port: 6000), payload: rtp)
            try frame.withUnsafeBytes { bytes in
                try processor.process(RawPacket(
                    timestamp: start.advanced(byNanoseconds: Int64(n) * 100_000), bytes: bytes, originalLength: bytes.count,
                    linkType: .ethernet, number: n + 1))
            }
            #expect(processor.candidateStreams <= 1024)
        }
        #expect(diagnostics[.rtpStreamsOverLimit] == 5000 - 1024)
        #expect(processor.callsInFlight == 0)
    }
}
