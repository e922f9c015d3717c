import CallMedia
import CallrecCore
import CallrecTestSupport
import Commit
import Foundation
import Output
import Pipeline
import RTP
import Testing

/// Encrypted media never becomes noise (issue 17, item 3): a call whose SDP
/// says plain RTP/AVP but whose phones run ZRTP on the media path and then
/// send SRTP (160-byte payload + 4-byte tag) keeps its audio in clear, is
/// marked encrypted, and no ciphertext is ever decoded.
@Suite struct EncryptedMediaTests {
    /// An 8 s call: a digit in clear at 1 s, the ZRTP handshake at 3 s,
    /// SRTP from 3.4 s on (with a digit at 5 s, encrypted too).
    static func zrtpCall(at switchTime: Double, seed: UInt64 = 61) -> SyntheticCall {
        var call = SyntheticCall(seed: seed, duration: 8)
        call.zrtpAt = switchTime
        call.callerImpairments.events = [(digit: 5, at: 1.0, duration: 0.2), (digit: 9, at: 5.0, duration: 0.2)]
        return call
    }

    @Test func afterAZRTPHandshakeTheCiphertextIsDroppedAndTheAudioInClearKept() throws {
        let call = Self.zrtpCall(at: 3)
        let (generated, found) = try CallFinding.run(call)
        let recording = try #require(found.recordings.first)
        let index = recording.index
        #expect(index.encrypted == true)
        #expect(index.encryptionKeying == "zrtp")
        #expect(found.diagnostics[.zrtpPackets] == SyntheticZRTP.messages.count)
        #expect(found.diagnostics[.rtpMalformed] == 0)

        // Every packet sent from 3.4 s on is ciphertext, and none of it reached a decoder.
        let switchAt = 3 + SyntheticZRTP.handshakeLength
        var ciphertext = 0
        for (k, channel) in index.channels.enumerated() {
            let media = try #require(channel.encryptedMedia, "channel \(k)")
            ciphertext += media.packets
            #expect(media.entropyBits > 7.9)
            let first = (k == 0 ? generated.callerFirstPacket : generated.calleeFirstPacket).seconds(since: recording.start)
            #expect(abs(media.fromS - (first + switchAt - (k == 0 ? 0 : call.calleeDelay))) < 0.05, "\(media)")
        }
        #expect(found.diagnostics[.rtpCiphertext] == ciphertext)
        let sent = generated.callerPackets + generated.calleePackets
        #expect(ciphertext > sent / 2)
        #expect(index.channels.map(\.packets).reduce(0, +) == sent)

        // The audio in clear is the parties' speech; after it nothing is written: the recording ends there.
        #expect(index.durationS < switchAt + 0.1)
        #expect(index.durationS > switchAt - 0.1)
        for channel in 0..<2 {
            let audio = channel == 0 ? generated.callerAudio : generated.calleeAudio
            let first = channel == 0 ? generated.callerFirstPacket : generated.calleeFirstPacket
            #expect(try CallFinding.match(recording, channel: channel, audio, from: first).value > 0.8)
            // White noise of the ciphertext would be near full scale; the last 100 ms hold the speech's level at most.
            let decoded = try CallFinding.channel(recording, channel)
            #expect(SignalMetrics.rms(Array(decoded.suffix(800))) < 3000)
        }
        // The digit in clear is there; the encrypted one is not made up from ciphertext.
        #expect(index.dtmf.map(\.digit) == ["5"])
    }

    @Test func ciphertextFromTheFirstPacketIsIndexedAsEncryptedAndNothingIsDecoded() throws {
        // The handshake ends as the first RTP packet leaves: every packet is SRTP.
        let call = Self.zrtpCall(at: -SyntheticZRTP.handshakeLength, seed: 62)
        let (generated, found) = try CallFinding.run(call)
        #expect(found.recordings.isEmpty)
        #expect(found.files.filter { $0.contains(".") && !$0.hasSuffix(".json") }.isEmpty, "\(found.files)")
        let report = try #require(found.reports.first)
        guard case .encrypted(let indexPath) = report.outcome else {
            Issue.record("outcome \(report.outcome)")
            return
        }
        let index = try CallIndex.decode(Array(try Data(contentsOf: URL(fileURLWithPath: indexPath))))
        #expect(index.skipped == "srtp")
        #expect(index.encrypted == true)
        #expect(index.encryptionKeying == "zrtp")
        #expect(index.caller == call.callerNumber)
        #expect(index.channels.map { $0.encryptedMedia?.packets } == [generated.callerPackets, generated.calleePackets])
        #expect(index.channels.map(\.codec) == ["PCMU", "PCMU"])
        #expect(found.diagnostics[.callsEncrypted] == 1)
        #expect(found.diagnostics[.rtpCiphertext] == generated.callerPackets + generated.calleePackets)
    }

    @Test func withoutTheHandshakeInTheCaptureTheTagAndTheBytesStillGiveTheCiphertextAway() throws {
        // The capture starts after the handshake (a mirror started mid-call): only the SRTP is seen.
        var call = Self.zrtpCall(at: 1, seed: 63)
        call.captureFrom = call.ringing + 0.04 + 1 + SyntheticZRTP.handshakeLength + 0.1
        call.callerImpairments.events = []
        let (_, found) = try CallFinding.run(call)
        #expect(found.diagnostics[.zrtpPackets] == 0)
        #expect(found.recordings.isEmpty)
        guard case .encrypted(let indexPath) = found.reports.first?.outcome else {
            Issue.record("outcome \(String(describing: found.reports.first?.outcome))")
            return
        }
        let index = try CallIndex.decode(Array(try Data(contentsOf: URL(fileURLWithPath: indexPath))))
        #expect(index.encryptionKeying == "unknown")
    }

    @Test func aPlainCallIsNotMarkedEncrypted() throws {
        let (_, found) = try CallFinding.run(SyntheticCall(seed: 64, duration: 4))
        let index = try #require(found.recordings.first?.index)
        #expect(index.encrypted == nil && index.encryptionKeying == nil)
        #expect(index.channels.allSatisfy { $0.encryptedMedia == nil })
        #expect(found.diagnostics[.rtpCiphertext] == 0)
    }

    @Test(.enabled(if: TsharkReference.tsharkInstalled, "needs tshark"))
    func tsharkReadsTheGeneratedHandshakeAsZRTP() throws {
        let path = try TemporaryFile.write(Self.zrtpCall(at: 3).build().pcap)
        // tshark's ZRTP dissector checks the cookie, the message types and the CRC-32c.
        let out = try CommandRunner.run("/usr/bin/tshark", ["-r", path, "-Y", "zrtp", "-T", "fields", "-e", "zrtp.type", "-e", "zrtp.checksum.status"])
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == SyntheticZRTP.messages.count, "\(lines)")
        #expect(lines.allSatisfy { $0.hasSuffix("\t1") }, "\(lines)")
    }
}
