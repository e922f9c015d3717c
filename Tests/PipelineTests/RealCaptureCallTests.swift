import Catalog
import CallrecCore
import CallrecTestSupport
import Commit
import Foundation
import Output
import Testing

/// Every call in the real captures of ../shared/data/captures is found with
/// the right parties, codecs and streams, and nothing is invented from
/// signalling without media. Expected values come from tshark 4.0
/// (`-z sip,stat`, `-z rtp,streams`, `-z voip,calls`; tshark-reference.txt).
@Suite(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
struct RealCaptureCallTests {
    /// One call as the test expects it.
    struct Expected: CustomStringConvertible {
        /// The Call-ID, or nil for a call without signalling.
        var callID: String?
        var caller: String?
        var callee: String?
        /// Packets per leg (channel 0, channel 1), as tshark counts the streams.
        var packets: [Int]
        /// SSRCs per leg.
        var ssrcs: [[UInt32]]
        /// Encoding names per leg.
        var encodings: [[String]]
        var endReason: String
        /// What became of it: "recorded", "srtp", "none" (nothing written).
        var outcome: String

        var description: String { callID ?? "rtp-only \(ssrcs)" }
    }

    static func capture(_ name: String) -> String { FixturePaths.shared("captures/" + name) }

    /// Runs `name` and checks its calls against `expected`, in order of first packet.
    func check(_ name: String, _ expected: [Expected], sourceLocation: SourceLocation = #_sourceLocation) throws -> CallFinding {
        let found = try CallFinding.run(path: Self.capture(name))
        let reports = found.reports.sorted { a, b in
            (a.recording?.start.nanoseconds ?? 0, a.callID) < (b.recording?.start.nanoseconds ?? 0, b.callID)
        }
        #expect(reports.count == expected.count, "\(name): \(reports.map(\.callID))", sourceLocation: sourceLocation)
        for (report, want) in zip(reports, expected) {
            if let id = want.callID {
                #expect(report.callID == id, sourceLocation: sourceLocation)
                #expect(report.signalled, sourceLocation: sourceLocation)
            } else {
                #expect(!report.signalled, "\(report.callID)", sourceLocation: sourceLocation)
            }
            #expect(report.caller == want.caller, "\(want)", sourceLocation: sourceLocation)
            #expect(report.callee == want.callee, "\(want)", sourceLocation: sourceLocation)
            #expect(report.legs.map(\.packets) == want.packets, "\(want)", sourceLocation: sourceLocation)
            #expect(report.legs.map(\.ssrcs) == want.ssrcs, "\(want)", sourceLocation: sourceLocation)
            #expect(report.legs.map(\.encodings) == want.encodings, "\(want)", sourceLocation: sourceLocation)
            #expect(report.endReason == want.endReason, "\(want)", sourceLocation: sourceLocation)
            switch (want.outcome, report.outcome) {
            case ("recorded", .recorded), ("srtp", .encrypted), ("none", .notRecorded):
                break
            default:
                Issue.record("\(want): outcome \(report.outcome), expected \(want.outcome)", sourceLocation: sourceLocation)
            }
            if let recording = report.recording {
                // The index says the same as the report, channel by channel.
                #expect(recording.index.signalling == (want.callID == nil ? "none" : "sip"), sourceLocation: sourceLocation)
                #expect(recording.index.caller == want.caller && recording.index.callee == want.callee, sourceLocation: sourceLocation)
                #expect(
                    recording.index.channels.map { $0.ssrcs } == want.ssrcs.map { $0.map { RTPHeaderFormat.ssrc($0) } },
                    sourceLocation: sourceLocation)
            }
        }
        return found
    }

    @Test func twoConsecutiveCallsOnTheSamePorts() throws {
        // tshark: 0x343DA99B g711U 425 (27942 -> 6000), then 0x343FFA34 g711A 414 (28102 -> 6000); the caller sends nothing.
        _ = try check("sipnab__sip-rtp-g711.pcap", [
            Expected(callID: "1-1966@10.0.2.20", caller: "sipp", callee: "test", packets: [0, 425], ssrcs: [[], [0x343D_A99B]],
                     encodings: [[], ["PCMU"]], endReason: "bye", outcome: "recorded"),
            Expected(callID: "1-1968@10.0.2.20", caller: "sipp", callee: "test", packets: [0, 414], ssrcs: [[], [0x343F_FA34]],
                     encodings: [[], ["PCMA"]], endReason: "cut", outcome: "recorded"),
        ])
    }

    @Test func signalledCallBesideItsCopyAtAnotherHopAndAnUnansweredInvite() throws {
        // SIP call 12013223: 200.57.7.196:40376 <-> 200.57.7.204:8000 (891 + 548 g711A). The gateway .196
        // forwards the same two streams (same SSRCs) to .199:4800: a second path, not a second call.
        // The second INVITE (12015624) rings until the capture ends and never carries media: nothing written.
        // 200.57.7.202:30000 -> .196:40362, 6 g711A packets, has MGCP, not SIP, signalling: a call without signalling.
        let found = try check("heplify__rtp_rtcp_sip_ipv4_udp.pcap", [
            Expected(callID: "12015624@200.57.7.195", caller: "5514540002", callee: "francisco", packets: [0, 0], ssrcs: [[], []],
                     encodings: [[], []], endReason: "cut", outcome: "none"),
            Expected(callID: "12013223@200.57.7.195", caller: "200.57.7.195", callee: "francisco", packets: [891, 548],
                     ssrcs: [[0x58F3_3DEA], [0xD2BD_4E3E]], encodings: [["PCMA"], ["PCMA"]], endReason: "cut", outcome: "recorded"),
            Expected(callID: nil, caller: nil, callee: nil, packets: [6, 0], ssrcs: [[0x2E3D], []], encodings: [["PCMA"], []],
                     endReason: "cut", outcome: "recorded"),
        ])
        #expect(found.diagnostics[.rtpSecondPath] >= 1400)
    }

    @Test func sipOverTCPWithComfortNoise() throws {
        // tshark: 10.33.6.100:6000 -> .101:6050 24 packets (g711A, CN), the reverse 42.
        _ = try check("heplify__sip_ipv4_tcp.pcap", [
            Expected(callID: "158936656982201062716@10.33.6.100", caller: "101", callee: "201", packets: [24, 42],
                     ssrcs: [[0x5A33_61B3], [0x42F4_33D4]], encodings: [["PCMA", "CN"], ["PCMA", "CN"]], endReason: "bye",
                     outcome: "recorded"),
        ])
    }

    @Test func aB2BUAWithDirectMediaIsRecordedOnce() throws {
        // Two dialogs through Asterisk (telephone1 -> 2302 and Asterisk -> telephone2), re-INVITEd to direct media
        // .1:8000 <-> .145:8000 (1 + 355 g711U). One recording holds both directions; the other dialog writes nothing.
        let found = try CallFinding.run(path: Self.capture("sipnab__b2bua-asterisk.pcapng"))
        #expect(found.reports.count == 2)
        let recorded = found.reports.filter { $0.recording != nil }
        #expect(recorded.count == 1)
        let call = try #require(recorded.first)
        #expect(call.caller == "telephone1")
        #expect(call.legs.map(\.packets) == [1, 355])
        #expect(call.legs.map(\.ssrcs) == [[0x4483_0D58], [0x6AB2_1E82]])
        #expect(found.reports.allSatisfy { $0.signalled && $0.endReason == "bye" })
    }

    @Test func srtpCallsAreDecryptedFromTheirSDESKeys() throws {
        // A B2BUA with two SRTP dialogs (RTP/SAVP, a=crypto, keys renewed by an UPDATE), 1135 packets in
        // each of 4 streams. Every packet authenticates with its sender's key (HMAC-SHA1-80).
        let found = try check("voipshark__SIP-SRTP-Normal_Call_two_parties.pcap", [
            Expected(callID: "6dbcc9a6-d89a-4547-9c91-72949f9e581c", caller: "1111", callee: "2222", packets: [1135, 1135],
                     ssrcs: [[0x1EDA_A6CF], [0x0029_4823]], encodings: [["PCMU"], ["PCMU"]], endReason: "bye", outcome: "recorded"),
            Expected(callID: "20d1c8822125483494b04e47206cec19", caller: "1111", callee: "2222", packets: [1135, 1135],
                     ssrcs: [[0x5479_70C2], [0x0DCD_E9EE]], encodings: [["PCMU"], ["PCMU"]], endReason: "bye", outcome: "recorded"),
        ])
        #expect(found.diagnostics[.rtpDecrypted] == 4 * 1135)
        #expect(found.diagnostics[.rtpEncrypted] == 0)
        // The PBX relays each party's voice from one dialog into the other, each leg under its own key:
        // decrypted, the two recordings carry the same speech, channel for channel.
        let recordings = found.recordings.sorted { $0.index.callID < $1.index.callID }
        for channel in 0..<2 {
            let a = try CallFinding.channel(recordings[0], channel)
            let b = try CallFinding.channel(recordings[1], channel)
            let match = SignalMetrics.bestCorrelation(a, b, maxLag: 400)
            #expect(match.value > 0.9, "channel \(channel): \(match)")
            #expect(SignalMetrics.rms(a) < 0.1 * 32768, "speech, not noise")
        }
    }

    @Test func g722WithSignalling() throws {
        // One-way G.722 (a=rtpmap:9 G722/8000: the clock rate RFC 3551 keeps at 8000 for a 16 kHz codec), 425 packets.
        _ = try check("rtp-pcap__sip-rtp-g722.pcap", [
            Expected(callID: "1-2161@10.0.2.20", caller: "sipp", callee: "test", packets: [0, 425], ssrcs: [[], [0x043D_AABA]],
                     encodings: [[], ["G722"]], endReason: "bye", outcome: "recorded"),
        ])
    }

    @Test func callsWithoutSignalling() throws {
        _ = try check("sipp__g711a.pcap", [
            Expected(callID: nil, packets: [236, 0], ssrcs: [[0xDEE0_EE8F], []], encodings: [["PCMA"], []], endReason: "cut",
                     outcome: "recorded"),
        ])
        _ = try check("asterisk-testsuite__40msalaw.pcap", [
            Expected(callID: nil, packets: [826, 0], ssrcs: [[0xD500_CA81], []], encodings: [["PCMA"], []], endReason: "cut",
                     outcome: "recorded"),
        ])
        // PCMU with RFC 2833 events (PT 101, unnamed without SDP) on the same SSRC.
        _ = try check("asterisk-testsuite__ulaw-2013785496.pcap", [
            Expected(callID: nil, packets: [974, 0], ssrcs: [[0x34D0_1D16], []], encodings: [["PCMU"], []], endReason: "cut",
                     outcome: "recorded"),
        ])
        // Two mirrored streams: the one whose first packet came first (172.18.0.6, 0.0225 s) is channel 0.
        _ = try check("projectrtp__ivr_dtmf_issue_9_1_9_9_3.pcap", [
            Expected(callID: nil, packets: [1481, 2424], ssrcs: [[0xD2AD_7E38], [0x7056_A020]], encodings: [["PCMU"], ["PCMU"]],
                     endReason: "cut", outcome: "recorded"),
        ])
        _ = try check("projectrtp__440hzinbackgroundg722.pcap", [
            Expected(callID: nil, packets: [393, 0], ssrcs: [[0xD7F8_E443], []], encodings: [["G722"], []], endReason: "cut",
                     outcome: "recorded"),
        ])
        // pcapng, Linux cooked capture, 12 % loss.
        _ = try check("mediastreamer2__audio-80-75-0c60.pcapng", [
            Expected(callID: nil, packets: [1737, 0], ssrcs: [[0xC647_C3F8], []], encodings: [["PCMA"], []], endReason: "cut",
                     outcome: "recorded"),
        ])
    }

    @Test func gsmWithoutSignallingIsFoundAndSkipped() throws {
        // BSD loopback: 127.0.0.1:12002 then :12004 -> :12344 (one SSRC moving port, 51 + 249), and ::1:12002 -> ::1:12344 (300).
        let found = try check("rtpproxy__DLT_NULL.a.rtp", [
            Expected(callID: nil, packets: [300, 0], ssrcs: [[0x9C49_CA0A], []], encodings: [["GSM"], []], endReason: "cut", outcome: "none"),
            Expected(callID: nil, packets: [300, 0], ssrcs: [[0xCEAD_2A2B], []], encodings: [["GSM"], []], endReason: "cut", outcome: "none"),
        ])
        #expect(found.diagnostics.notes.contains { $0.contains("payload type 3") })
    }

    @Test(arguments: ["pkts__fragmented_udp_sip.pcap", "sngrep__ipv6frag.pcap"])
    func signallingWithoutMediaWritesNothing(name: String) throws {
        let found = try CallFinding.run(path: Self.capture(name))
        #expect(found.recordings.isEmpty)
        #expect(found.reports.allSatisfy { $0.outcome == .notRecorded })
        #expect(found.files.isEmpty, "\(found.files)")
    }

    /// The INVITE's second IPv4 fragment is not in the capture: the call is
    /// still one call, known from its 180 (From the caller, the 200 its
    /// answer and the callee's SDP, the BYE its end), and its ledger row says
    /// no media, and where to look.
    @Test func aCallWhoseInviteLostAFragmentIsKnownFromItsResponses() throws {
        let found = try check("pkts__fragmented_udp_sip.pcap", [
            Expected(callID: "1-21520@10.192.243.79", caller: "sipp", callee: "service", packets: [0, 0], ssrcs: [[], []],
                     encodings: [[], []], endReason: "bye", outcome: "none"),
        ])
        let report = try #require(found.reports.first)
        #expect(report.openedBy == "180")
        #expect(report.answered)
        let entry = try #require(report.ledgerEntry)
        #expect(entry.outcome == .noMedia)
        #expect(entry.caller == "sipp" && entry.callee == "service")
        #expect(entry.detail == "the INVITE is not in the capture (known from its 180)")
        // Only the 200 to the BYE, after the call ended (as for any call).
        #expect(found.diagnostics[.sipNotForACall] == 1)
    }
}

/// SSRCs as the index writes them.
enum RTPHeaderFormat {
    static func ssrc(_ value: UInt32) -> String { "0x" + String(format: "%08X", value) }
}
