import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Foundation
import Output
import Testing

/// Calls the way SIP engineers meet them: over TCP and IPv6, challenged,
/// late offer, early media, rejected, cancelled, moved, held, encrypted,
/// without signalling, back to back on the same ports.
@Suite struct CallScenarioTests {
    static let v6Caller = IPAddress("2001:db8::10")!
    static let v6Callee = IPAddress("2001:db8:1::20")!

    /// Checks a plain two-way call: one recording, both parties, both legs
    /// complete and each channel carrying its own party's audio.
    func expectWholeCall(_ call: SyntheticCall, _ generated: SyntheticCall.Output, _ found: CallFinding) throws {
        #expect(found.reports.count == 1)
        let report = try #require(found.reports.first)
        #expect(report.signalled)
        #expect(report.callID == call.callID)
        #expect(report.caller == call.callerNumber)
        #expect(report.callee == call.calleeNumber)
        let recording = try #require(report.recording)
        #expect(recording.index.channels.map(\.packets) == [generated.callerPackets, generated.calleePackets])
        #expect(recording.index.channels.map(\.lost) == [0, 0])
        let caller = try CallFinding.match(recording, channel: 0, generated.callerAudio, from: generated.callerFirstPacket)
        let callee = try CallFinding.match(recording, channel: 1, generated.calleeAudio, from: generated.calleeFirstPacket)
        #expect(caller.value > 0.8 && abs(caller.lag) <= 2, "caller channel: \(caller)")
        #expect(callee.value > 0.8 && abs(callee.lag) <= 2, "callee channel: \(callee)")
    }

    @Test(arguments: [200, 1400])
    func sipOverTCP(segmentSize: Int) throws {
        var call = SyntheticCall(seed: 21, duration: 3)
        call.transport = .tcp(segmentSize: segmentSize)
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
        #expect(found.reports.first?.endReason == "bye")
        // INVITE, 100+180 in one write, 200, ACK, BYE, 200.
        #expect(found.diagnostics[.sipMessages] == 7)
        #expect(found.diagnostics[.sipMalformed] == 0)
    }

    @Test func ipv6OverUDPAndTCP() throws {
        for transport in [SyntheticCall.Transport.udp, .tcp(segmentSize: 300)] {
            var call = SyntheticCall(seed: 22, duration: 3)
            call.transport = transport
            call.callerSignalling = Endpoint(address: Self.v6Caller, port: 5060)
            call.calleeSignalling = Endpoint(address: Self.v6Callee, port: 5060)
            call.callerMedia = Endpoint(address: Self.v6Caller, port: 40_000)
            call.calleeMedia = Endpoint(address: Self.v6Callee, port: 50_000)
            let (generated, found) = try CallFinding.run(call)
            try expectWholeCall(call, generated, found)
        }
    }

    @Test func challengedThenAnsweredIsOneCall() throws {
        var call = SyntheticCall(seed: 23, duration: 4)
        call.challenge = true
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
        #expect(found.diagnostics[.callsWithoutMedia] == 0)
    }

    @Test func lateOfferTakesTheAnswerFromTheACK() throws {
        var call = SyntheticCall(seed: 24, duration: 4)
        call.lateOffer = true
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
    }

    @Test func earlyMediaBelongsToTheCall() throws {
        var call = SyntheticCall(seed: 25, duration: 3)
        call.ringing = 1.5
        call.earlyMedia = true
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
        // Time zero is the callee's first early-media packet, 1.49 s before the caller's first.
        let recording = try #require(found.recordings.first)
        #expect(recording.start == generated.calleeFirstPacket)
        #expect(abs(generated.callerFirstPacket.seconds(since: recording.start) - 1.49) < 0.001)
    }

    @Test func aRejectedCallIsRecordedOnlyIfItCarriedEarlyMedia() throws {
        var call = SyntheticCall(seed: 26, duration: 4)
        call.ringing = 3.5
        call.finalStatus = 486
        call.earlyMedia = true
        let (generated, found) = try CallFinding.run(call)
        let report = try #require(found.reports.first)
        #expect(report.endReason == "rejected")
        #expect(report.finalStatus == 486)
        let recording = try #require(report.recording)
        #expect(recording.index.finalStatus == 486)
        #expect(recording.index.channels.map(\.packets) == [0, generated.calleePackets])
        #expect(generated.calleePackets == 173)  // 0.05 s to 3.5 s at 20 ms
        let callee = try CallFinding.match(recording, channel: 1, Array(generated.calleeAudio.prefix(173 * 160)), from: generated.calleeFirstPacket)
        #expect(callee.value > 0.8)

        call.earlyMedia = false
        let (_, silent) = try CallFinding.run(call)
        #expect(silent.reports.map(\.endReason) == ["rejected"])
        #expect(silent.recordings.isEmpty)
        #expect(silent.files.isEmpty, "\(silent.files)")
    }

    @Test func aCancelledCallKeepsOnlyItsEarlyMedia() throws {
        var call = SyntheticCall(seed: 27, duration: 3)
        call.cancelled = true
        call.earlyMedia = true
        let (generated, found) = try CallFinding.run(call)
        #expect(found.reports.map(\.endReason) == ["cancel"])
        #expect(found.recordings.first?.index.channels.map(\.packets) == [0, generated.calleePackets])
        call.earlyMedia = false
        #expect(try CallFinding.run(call).1.files.isEmpty)
    }

    @Test(arguments: [SyntheticCall.Party.caller, .callee])
    func aReInviteThatMovesTheMediaKeepsTheChannel(party: SyntheticCall.Party) throws {
        var call = SyntheticCall(seed: party == .caller ? 28 : 29, duration: 6)
        let address = party == .caller ? call.callerMedia.address : call.calleeMedia.address
        call.move = SyntheticCall.MediaMove(party: party, at: 3, to: Endpoint(address: address, port: 41_234))
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
        // After the move the audio continues on the same channel, in place.
        let recording = try #require(found.recordings.first)
        let channel = party == .caller ? 0 : 1
        let audio = party == .caller ? generated.callerAudio : generated.calleeAudio
        let first = party == .caller ? generated.callerFirstPacket : generated.calleeFirstPacket
        let decoded = try CallFinding.channel(recording, channel)
        let offset = Int(first.samples(since: recording.start, rate: 8000))
        let placed = SignalMetrics.placed(audio, at: offset, length: decoded.count)
        let tail = 3 * 8000 + 800
        #expect(SignalMetrics.bestCorrelation(Array(decoded[tail...]), Array(placed[tail...]), maxLag: 4).value > 0.8)
    }

    @Test(arguments: [false, true])
    func holdKeepsTheSilenceAndTheCallSurvivesIt(rfc2543: Bool) throws {
        var call = SyntheticCall(seed: rfc2543 ? 30 : 31, duration: 7)
        call.hold = SyntheticCall.Hold(from: 2, to: 5, rfc2543: rfc2543)
        // Three seconds on hold without RTP are longer than the idle timeout: the call must survive.
        let (generated, found) = try CallFinding.run(call) { $0.idleTimeout = 1.5 }
        #expect(found.reports.count == 1)
        #expect(found.reports.first?.endReason == "bye")
        let recording = try #require(found.recordings.first)
        #expect(generated.callerPackets == 350 - 150)
        #expect(recording.index.channels.map(\.packets) == [generated.callerPackets, generated.calleePackets])
        let decoded = try CallFinding.channel(recording, 0)
        // The hold is silence of its own length; after it the caller is where it spoke.
        #expect(SignalMetrics.rms(decoded[(2 * 8000 + 400)..<(5 * 8000 - 400)]) < 0.01 * SignalMetrics.rms(decoded))
        let placed = SignalMetrics.placed(generated.callerAudio, at: 0, length: decoded.count)
        let after = 5 * 8000 + 800
        #expect(SignalMetrics.bestCorrelation(Array(decoded[after...]), Array(placed[after...]), maxLag: 4).value > 0.8)
        let seconds = Double(decoded.count) / 8000
        #expect(abs(seconds - 7.01) < 0.05, "recording lasts \(seconds) s")
    }

    /// A hold excuses a leg's silence while it lasts, and only then: a call
    /// held for good 6 s in is complete though both legs stop there; the
    /// same call whose caller stopped at 1 s, 5 s before that hold, is cut
    /// (judged by the hold at the end alone, it passed as complete).
    @Test func aHoldExcusesSilenceOnlyWhileItLasts() throws {
        var call = SyntheticCall(seed: 32, duration: 8)
        call.hold = SyntheticCall.Hold(from: 6, to: 100)  // resumed long after the BYE
        let (_, held) = try CallFinding.run(call)
        let complete = try #require(held.reports.first?.recording?.ledgerEntry())
        #expect(complete.complete && !complete.cut, "\(complete)")
        call.callerImpairments.stopAfter = 1
        let (_, stopped) = try CallFinding.run(call)
        let cut = try #require(stopped.reports.first?.recording?.ledgerEntry())
        #expect(cut.cut && !cut.complete, "\(cut)")
        #expect(cut.detail?.hasPrefix("the caller's media stops 5.") == true, "\(cut.detail ?? "")")
        #expect(cut.detail?.contains("callee") == false)
    }

    @Test func videoBelongsToItsCallAndIsNotRecorded() throws {
        var call = SyntheticCall(seed: 49, duration: 4)
        call.video = true
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
        #expect(found.diagnostics[.mediaNotRecorded] == 2 * 100)
        #expect(found.diagnostics[.callsWithoutSignalling] == 0)
    }

    @Test func srtpIsDecryptedWithEachPartysSDESKey() throws {
        var call = SyntheticCall(seed: 50, duration: 4)
        call.srtp = true
        // The caller moves its media mid-call: the keys stay with the parties.
        call.move = SyntheticCall.MediaMove(party: .caller, at: 2, to: Endpoint(address: call.callerMedia.address, port: 41_500))
        let (generated, found) = try CallFinding.run(call)
        try expectWholeCall(call, generated, found)
        #expect(found.diagnostics[.rtpDecrypted] == generated.callerPackets + generated.calleePackets)
        #expect(found.diagnostics[.rtpEncrypted] == 0)
    }

    @Test(arguments: [SyntheticCall.SRTPKeys.absent, .wrong])
    func srtpThatNoKeyAuthenticatesIsIndexedAndNeverDecoded(keys: SyntheticCall.SRTPKeys) throws {
        var call = SyntheticCall(seed: 32, duration: 2)
        call.srtp = true
        call.srtpKeys = keys
        let (generated, found) = try CallFinding.run(call)
        let report = try #require(found.reports.first)
        guard case .encrypted(let indexPath) = report.outcome else {
            Issue.record("outcome \(report.outcome)")
            return
        }
        #expect(found.files.filter { $0.hasSuffix(".opus") }.isEmpty)
        let index = try CallIndex.decode(Array(try Data(contentsOf: URL(fileURLWithPath: indexPath))))
        #expect(index.skipped == "srtp")
        #expect(index.audio == nil)
        #expect(index.caller == call.callerNumber)
        #expect(index.channels.map(\.packets) == [generated.callerPackets, generated.calleePackets])
        #expect(index.channels.map(\.codec) == ["PCMU", "PCMU"])
        #expect(found.diagnostics[.callsEncrypted] == 1)
    }

    @Test func streamsWithoutSignallingArePairedIntoOneCall() throws {
        var call = SyntheticCall(seed: 33, duration: 3)
        call.signalled = false
        let (generated, found) = try CallFinding.run(call)
        #expect(found.reports.count == 1)
        let report = try #require(found.reports.first)
        #expect(!report.signalled)
        #expect(report.caller == nil && report.callee == nil)
        #expect(report.callID == "rtp:192.0.2.10:40000-198.51.100.20:50000/0x\(String(format: "%08X", report.legs[0].ssrcs[0]))")
        let recording = try #require(report.recording)
        #expect(recording.index.signalling == "none")
        #expect(recording.index.caller == nil)
        #expect(recording.index.direction == "unknown")
        #expect(recording.index.endReason == "cut")
        #expect(recording.index.channels.map(\.codec) == ["PCMU", "PCMU"])
        #expect(recording.index.channels.map(\.packets) == [generated.callerPackets, generated.calleePackets])
        #expect(try CallFinding.match(recording, channel: 0, generated.callerAudio, from: generated.callerFirstPacket).value > 0.8)
        #expect(try CallFinding.match(recording, channel: 1, generated.calleeAudio, from: generated.calleeFirstPacket).value > 0.8)
    }

    @Test func withoutSignallingTheStreamSeenFirstIsChannelZero() throws {
        var call = SyntheticCall(seed: 34, duration: 4)
        call.signalled = false
        call.calleeDelay = -0.015  // the callee's stream starts first
        let (generated, found) = try CallFinding.run(call)
        let recording = try #require(found.recordings.first)
        #expect(recording.start == generated.calleeFirstPacket)
        #expect(try CallFinding.match(recording, channel: 0, generated.calleeAudio, from: generated.calleeFirstPacket).value > 0.8)
        #expect(try CallFinding.match(recording, channel: 1, generated.callerAudio, from: generated.callerFirstPacket).value > 0.8)
    }

    @Test func srtpWithoutSignallingIsRecognisedByItsTag() throws {
        var call = SyntheticCall(seed: 35, duration: 1)
        call.signalled = false
        call.srtp = true
        let (_, found) = try CallFinding.run(call)
        #expect(found.recordings.isEmpty)
        guard case .encrypted = found.reports.first?.outcome else {
            Issue.record("not reported as SRTP: \(String(describing: found.reports.first?.outcome))")
            return
        }
    }

    @Test(arguments: [true, false])
    func twoCallsBackToBackOnTheSamePortsAreTwoCalls(firstEndsWithBye: Bool) throws {
        var first = SyntheticCall(seed: 36, duration: 4)
        first.bye = firstEndsWithBye
        var second = SyntheticCall(seed: 37, duration: 4)
        second.callID = "second-call@pc33.example.com"
        second.callerNumber = "+4681111111"
        second.start = first.start.advanced(byNanoseconds: 5_500_000_000)
        let a = first.build()
        let b = second.build()
        let found = try CallFinding.run(PcapConcatenation.concatenate(a.pcap, b.pcap))
        // Without its BYE the first call stays in flight until the capture ends.
        let reports = found.reports.sorted { ($0.recording?.start ?? MediaTime(nanoseconds: 0)) < ($1.recording?.start ?? MediaTime(nanoseconds: 0)) }
        #expect(reports.map(\.callID) == [first.callID, second.callID])
        #expect(reports.map(\.caller) == [first.callerNumber, second.callerNumber])
        let expectedEnds = firstEndsWithBye ? ["bye", "bye"] : ["cut", "bye"]
        #expect(reports.map(\.endReason) == expectedEnds)
        let recordings = reports.compactMap(\.recording)
        #expect(recordings.map { $0.index.channels.map(\.packets) } == [[200, 200], [200, 200]])
        for (recording, generated) in zip(recordings, [a, b]) {
            #expect(try CallFinding.match(recording, channel: 0, generated.callerAudio, from: generated.callerFirstPacket).value > 0.8)
            #expect(try CallFinding.match(recording, channel: 1, generated.calleeAudio, from: generated.calleeFirstPacket).value > 0.8)
        }
    }

    @Test func rtpCapturedBeforeItsSignallingJoinsTheSignalledCall() throws {
        // The SIP arrives 1.3 s late: the caller's first packets look like a call without
        // signalling until the INVITE claims them; then the dialog owns the media.
        var call = SyntheticCall(seed: 47, duration: 4)
        call.signallingDelay = 1.3
        let (generated, found) = try CallFinding.run(call)
        #expect(found.reports.count == 1)
        let report = try #require(found.reports.first)
        #expect(report.signalled && report.caller == call.callerNumber)
        let recording = try #require(report.recording)
        // What came before the INVITE is lost, nothing else: about 13 packets of each leg.
        let packets = recording.index.channels.map(\.packets)
        #expect((generated.callerPackets - 14)...(generated.callerPackets - 12) ~= packets[0], "\(packets)")
        #expect((generated.calleePackets - 14)...(generated.calleePackets - 12) ~= packets[1], "\(packets)")
        #expect(found.diagnostics[.callsWithoutSignalling] == 0)
    }

    @Test func aCaptureStartedMidCallFindsTheDialogAtItsReInvite() throws {
        // The mirror starts 1.5 s after the INVITE: RTP without signalling until the caller's
        // re-INVITE at 4 s (which moves its media) names the dialog and its parties.
        var call = SyntheticCall(seed: 48, duration: 6)
        call.captureFrom = 1.5
        call.move = SyntheticCall.MediaMove(party: .caller, at: 3, to: Endpoint(address: call.callerMedia.address, port: 41_000))
        let (generated, found) = try CallFinding.run(call)
        let reports = found.reports.sorted { !$0.signalled && $1.signalled }
        #expect(reports.map(\.signalled) == [false, true])
        #expect(reports.map(\.endReason) == ["superseded", "bye"])
        #expect(reports.last?.caller == call.callerNumber)
        // Together they hold every packet the capture has, each once.
        let total = reports.compactMap(\.recording).flatMap { $0.index.channels.map(\.packets) }.reduce(0, +)
        let captured = generated.callerPackets + generated.calleePackets - 2 * 23  // 0.46 s of each leg before 1.5 s
        #expect(abs(total - captured) <= 2, "\(total) of \(captured)")
    }

    /// The INVITE (and the caller's SDP in it) is not in the capture: the 100
    /// opens the dialog, the 200's SDP claims the callee's media, and the
    /// caller's packets to it and the callee's from it (symmetric RTP) are
    /// the call's two legs, recorded under its Call-ID and parties, complete
    /// in the ledger; the same over TCP (100 and 180 in one write).
    @Test(arguments: [SyntheticCall.Transport.udp, .tcp(segmentSize: 1400)])
    func aCallWhoseInviteIsLostIsRecordedWithItsParties(transport: SyntheticCall.Transport) throws {
        var call = SyntheticCall(seed: 49, duration: 4)
        call.inviteLost = true
        call.transport = transport
        let (generated, found) = try CallFinding.run(call) { $0.localNumbers = [call.callerNumber] }
        try expectWholeCall(call, generated, found)
        let report = try #require(found.reports.first)
        #expect(report.openedBy == "100")
        #expect(report.endReason == "bye")
        #expect(report.direction == "outbound")
        #expect(found.diagnostics[.sipDialogsJoined] == 1)
        #expect(found.diagnostics[.callsWithoutSignalling] == 0)
        // Only the 200 to the BYE, after the call ended (as for any call).
        #expect(found.diagnostics[.sipNotForACall] == 1)
        let entry = try #require(report.recording?.ledgerEntry())
        #expect(entry.outcome == .recorded && entry.complete, "\(entry)")
        #expect(entry.caller == call.callerNumber && entry.callee == call.calleeNumber)
    }

    @Test func twoCallsWithoutSignallingOnTheSamePortsAreTwoCalls() throws {
        var first = SyntheticCall(seed: 45, duration: 2)
        first.signalled = false
        var second = first
        second.seed = 46  // new SSRCs
        second.start = first.start.advanced(byNanoseconds: 12_000_000_000)
        let found = try CallFinding.run(PcapConcatenation.concatenate(first.build().pcap, second.build().pcap))
        #expect(found.reports.map(\.endReason) == ["timeout", "cut"])
        #expect(found.recordings.map { $0.index.channels.map(\.packets) } == [[100, 100], [100, 100]])
        #expect(found.diagnostics[.rtpAfterCallEnd] == 0)
    }

    @Test func aCallWithoutByeEndsOnTheIdleTimeoutOrIsCutAtTheEnd() throws {
        var call = SyntheticCall(seed: 38, duration: 2)
        call.bye = false
        let generated = call.build()
        #expect(try CallFinding.run(generated.pcap).reports.map(\.endReason) == ["cut"])
        // A packet of something else 30 s later: the call has been idle for longer than 10 s.
        var tail = PcapWriter()
        let later = call.start.advanced(byNanoseconds: 40_000_000_000)
        tail.append(PacketBuilder.ethernetUDP(from: call.callerSignalling, to: call.calleeSignalling, payload: [0x0D, 0x0A]), at: later)
        let found = try CallFinding.run(PcapConcatenation.concatenate(generated.pcap, tail.bytes)) { $0.idleTimeout = 10 }
        #expect(found.reports.map(\.endReason) == ["timeout"])
        #expect(found.recordings.first?.index.channels.map(\.packets) == [100, 100])
    }

    @Test func directionComesFromTheLocalParties() throws {
        let call = SyntheticCall(seed: 39, duration: 1)
        let pcap = call.build().pcap
        func direction(_ configure: @escaping (inout ConvertOptions) -> Void) throws -> String? {
            let found = try CallFinding.run(pcap, configure)
            let recording = found.recordings.first
            #expect(recording?.index.direction == found.reports.first?.direction)
            return recording?.index.direction
        }
        #expect(try direction { _ in } == "unknown")
        #expect(try direction { $0.localNumbers = ["+46 8-123 45 67"] } == "outbound")
        #expect(try direction { $0.localPrefixes = ["+46876"] } == "inbound")
        #expect(try direction { $0.localPrefixes = ["+468"] } == "internal")
        #expect(try direction { $0.localDomains = ["51.100.20"] } == "unknown")
        #expect(try direction { $0.localDomains = ["198.51.100.20"] } == "inbound")
        let found = try CallFinding.run(pcap) { $0.localNumbers = ["+4681234567"] }
        let reader = try OggOpusReader(path: try #require(found.recordings.first).audioPath)
        #expect(reader.tag("DIRECTION") == "outbound")
    }
}

/// Joins classic pcap files made by `PcapWriter` (same header) into one.
enum PcapConcatenation {
    static func concatenate(_ first: [UInt8], _ rest: [UInt8]...) -> [UInt8] {
        rest.reduce(first) { $0 + $1.dropFirst(24) }
    }
}
