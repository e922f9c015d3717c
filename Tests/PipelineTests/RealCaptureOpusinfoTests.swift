import CallMedia
import CallrecCore
import CallrecTestSupport
import Conversion
import Foundation
import Testing

/// Every recording made from the real captures in ../shared/data/captures is
/// an Ogg Opus file opusinfo accepts without a warning: no page longer than
/// opusinfo's muxing-delay limit (quiet calls fill pages with small packets),
/// no more than one packet of end trimming (capture time running on past a
/// call's last audio), no holes.
@Suite(
    .enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/opusinfo"), "needs opus-tools"))
struct RealCaptureOpusinfoTests {
    static let captures = [
        "asterisk-testsuite__40msalaw.pcap", "asterisk-testsuite__ulaw-2013785496.pcap", "heplify__rtp_rtcp_sip_ipv4_udp.pcap",
        "heplify__sip_ipv4_tcp.pcap", "mediastreamer2__audio-80-75-0c60.pcapng", "projectrtp__440hzinbackgroundg722.pcap",
        "projectrtp__ivr_dtmf_issue_9_1_9_9_3.pcap", "rtp-pcap__sip-rtp-g722.pcap", "sipnab__b2bua-asterisk.pcapng",
        "sipnab__sip-rtp-g711.pcap", "sipp__g711a.pcap", "voipshark__SIP-SRTP-Normal_Call_two_parties.pcap",
    ]

    @Test(arguments: captures)
    func opusinfoAcceptsEveryRecording(of name: String) throws {
        let options = ConvertOptions(outputDirectory: FixturePaths.temporaryDirectory("opusinfo-real"))
        let result = try Converter(options: options).convert(path: FixturePaths.shared("captures/" + name), diagnostics: Diagnostics())
        #expect(!result.recordings.isEmpty)
        for file in result.recordings.flatMap(\.audioFiles) {
            let run = try CommandRunner.run("/usr/bin/opusinfo", [file.path])
            let output = run.stdout + run.stderr
            #expect(run.status == 0, "\(output)")
            #expect(!output.contains("WARNING") && !output.contains("ERROR"), "\(name): \(output)")
        }
    }
}
