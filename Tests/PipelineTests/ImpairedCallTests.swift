import CallMedia
import CallrecCore
import CallrecTestSupport
import ConversionTestSupport
import Foundation
import Output
import Testing

/// Generated calls with the impairments real networks and phones inflict:
/// each leg must still come out as it was heard, aligned with the other,
/// for as long as the call lasted.
@Suite struct ImpairedCallTests {
    struct Converted {
        var generated: SyntheticCall.Output
        var reader: OggOpusReader
        var index: CallIndex
        /// Time zero of the recording.
        var start: MediaTime
        /// The decoded channels at 8 kHz.
        var channels: [[Int16]]
    }

    func convert(_ call: SyntheticCall) throws -> Converted {
        let c = try ConvertedCall(call, folder: "callrec-impaired")
        #expect(c.result.error == nil)
        let reader = try c.opus()
        return Converted(
            generated: c.generated, reader: reader, index: c.index, start: c.summary.start,
            channels: reader.channels.map { SignalMetrics.decimate($0, by: 6) })
    }

    /// The expected duration: from the first packet of either leg to the end of the last.
    func span(_ c: SyntheticCall, _ g: SyntheticCall.Output) -> Double {
        g.calleeFirstPacket.seconds(since: g.callerFirstPacket) + Double(g.packetsPerLeg) * Double(c.ptime) / 1000
    }

    /// How each channel matches its own source, placed where it was said relative to the
    /// recording's time zero: over every quarter second in which the source speaks, the
    /// mean of the best correlations and the largest lag (positive: heard late).
    func ownCorrelation(_ c: Converted, maxLag: Int = 80) -> [(value: Double, lag: Int)] {
        let firsts = [c.generated.callerFirstPacket, c.generated.calleeFirstPacket]
        let audio = [c.generated.callerAudio, c.generated.calleeAudio]
        return (0..<2).map { k in
            let source = SignalMetrics.placed(audio[k], at: Int(firsts[k].samples(since: c.start, rate: 8000)), length: c.channels[k].count)
            let window = 2000
            var sum = 0.0, count = 0, worst = 0
            for start in stride(from: 0, to: source.count - window, by: window) where SignalMetrics.rms(source[start..<(start + window)]) > 200 {
                let best = SignalMetrics.bestCorrelation(
                    Array(source[start..<(start + window)]), Array(c.channels[k][start..<(start + window)]), maxLag: maxLag)
                sum += best.value
                count += 1
                if abs(best.lag) > abs(worst) { worst = best.lag }
            }
            return (count > 0 ? sum / Double(count) : 0, worst)
        }
    }

    /// Each channel matches its source and is heard within 5 ms of when it was said
    /// (the legs are then within 10 ms of each other, well under the 20 ms allowed).
    func expectAligned(_ c: Converted, minimum: Double = 0.8, sourceLocation: SourceLocation = #_sourceLocation) {
        for (k, o) in ownCorrelation(c).enumerated() {
            #expect(o.value > minimum, "channel \(k): \(o)", sourceLocation: sourceLocation)
            #expect(abs(o.lag) <= 40, "channel \(k) heard \(o.lag) samples off", sourceLocation: sourceLocation)
        }
    }

    @Test func jitterReorderingAndDuplicates() throws {
        var call = SyntheticCall()
        call.seed = 21
        call.duration = 8
        var impairments = LegImpairments()
        impairments.jitter = 0.060
        impairments.reorderRate = 0.05
        impairments.duplicateRate = 0.03
        call.callerImpairments = impairments
        call.calleeImpairments = impairments
        let c = try convert(call)
        #expect(abs(c.reader.duration - span(call, c.generated)) < 0.040)
        expectAligned(c)
        for (k, report) in c.generated.legReports.enumerated() {
            let channel = c.index.channels[k]
            #expect(report.reordered > 0 && report.duplicated > 0)
            #expect(channel.packets == report.captured)
            #expect(channel.duplicates == report.duplicated)
            // tshark's lost: expected minus received, duplicates included.
            #expect(channel.lost == report.dropped - report.duplicated)
            #expect(channel.late == 0)
            #expect(channel.concealedMs == 0)
        }
    }

    @Test func burstLossIsConcealedNotSilenced() throws {
        var call = SyntheticCall()
        call.seed = 22
        call.duration = 8
        var impairments = LegImpairments()
        impairments.lossRate = 0.03
        impairments.burstLength = 2
        call.callerImpairments = impairments
        let c = try convert(call)
        let report = c.generated.legReports[0]
        #expect(report.dropped > 0)
        #expect(c.index.channels[0].lost == report.dropped)
        // Most of the lost time is filled (a loss in silence, or past 60 ms, fades to nothing).
        #expect(c.index.channels[0].concealedMs > 0)
        #expect(c.index.channels[0].concealedMs <= report.dropped * 20)
        #expect(ownCorrelation(c)[0].value > 0.6)
        #expect(abs(ownCorrelation(c)[0].lag) <= 40)
        #expect(abs(c.reader.duration - span(call, c.generated)) < 0.040)
    }

    @Test func sequenceAndTimestampWraps() throws {
        var call = SyntheticCall()
        call.seed = 23
        var impairments = LegImpairments()
        impairments.firstSequence = 65_400
        impairments.firstTimestamp = 0xFFFF_F000
        call.callerImpairments = impairments
        call.calleeImpairments = impairments
        let c = try convert(call)
        #expect(c.index.channels.map(\.lost) == [0, 0])
        #expect(c.index.channels.map(\.timestampJumps) == [0, 0])
        expectAligned(c)
        #expect(abs(c.reader.duration - span(call, c.generated)) < 0.040)
    }

    @Test func ssrcChangeStaysOnTheChannel() throws {
        var call = SyntheticCall()
        call.seed = 24
        var impairments = LegImpairments()
        impairments.ssrcChangeAfter = 3
        call.calleeImpairments = impairments
        let c = try convert(call)
        let report = c.generated.legReports[1]
        #expect(c.index.channels[1].ssrcs == report.ssrcs.map { String(format: "0x%08X", $0) })
        #expect(c.index.channels[1].packets == report.captured)
        expectAligned(c)
    }

    @Test func silenceSuppressionKeepsEverySecond() throws {
        var call = SyntheticCall()
        call.seed = 25
        call.duration = 10
        var impairments = LegImpairments()
        impairments.silenceSuppression = true
        call.callerImpairments = impairments
        call.calleeImpairments = impairments
        let c = try convert(call)
        #expect(c.generated.legReports.allSatisfy { $0.suppressed > 50 })
        // Each leg is silent for seconds at a time, yet the recording is as long as the call
        // (give or take the silence the last talker left at the end).
        let heard = c.reader.duration
        #expect(heard <= span(call, c.generated) + 0.040)
        #expect(heard > span(call, c.generated) - 1.5)
        expectAligned(c)
        #expect(c.index.channels.allSatisfy { $0.lost == 0 && $0.concealedMs == 0 })
    }

    @Test func timestampsTickingAtTwiceTheRateAreLearned() throws {
        // A phone whose RTP clock runs at 16 kHz for 8 kHz audio (the G.722 quirk, the other way round).
        var call = SyntheticCall()
        call.seed = 26
        var impairments = LegImpairments()
        impairments.timestampScale = 2
        call.callerImpairments = impairments
        let c = try convert(call)
        #expect(abs(c.reader.duration - span(call, c.generated)) < 0.040)
        expectAligned(c)
    }

    @Test(arguments: [1, 2])
    func g722AtEitherTimestampStepPlaysAtTheRightSpeed(scale: Int) throws {
        // G.722 declares an 8 kHz RTP clock for 16 kHz audio (scale 1); some phones tick at 16 kHz (scale 2).
        // Either way the recording is 16 kHz, as long as the call, and each party where it spoke.
        var call = SyntheticCall()
        call.codec = .g722
        call.seed = 30
        var impairments = LegImpairments()
        impairments.timestampScale = scale
        call.callerImpairments = impairments
        call.calleeImpairments = impairments
        let c = try ConvertedCall(call, folder: "callrec-g722")
        let (generated, summary) = (c.generated, c.summary)
        #expect(summary.index.sampleRate == 16000)
        let reader = try c.opus()
        #expect(abs(reader.duration - span(call, generated)) < 0.040, "\(reader.duration) s")
        let channels = reader.channels.map { SignalMetrics.decimate($0, by: 3) }
        for (k, (audio, first)) in [(generated.callerAudio, generated.callerFirstPacket), (generated.calleeAudio, generated.calleeFirstPacket)].enumerated() {
            let source = SignalMetrics.placed(audio, at: Int(first.samples(since: summary.start, rate: 16000)), length: channels[k].count)
            let best = SignalMetrics.bestCorrelation(source, channels[k], maxLag: 80)
            #expect(best.value > 0.8 && abs(best.lag) <= 40, "channel \(k): \(best)")
        }
    }

    @Test func aTimestampJumpOfHoursWritesNothingExtra() throws {
        var call = SyntheticCall()
        call.seed = 27
        var impairments = LegImpairments()
        impairments.firstTimestamp = 1000
        call.callerImpairments = impairments
        // Rewrite the caller's timestamps to jump by 6 hours half-way.
        let c = try ConvertedCall(
            call, folder: "callrec-jump",
            capture: { generated in
                try PcapFilter.rewriteRTP(generated.pcap, from: call.callerMedia) { sequence, timestamp, index in
                    index >= 150 ? timestamp &+ 8000 * 3600 * 6 : timestamp
                }
            })
        let summary = c.summary
        #expect(summary.index.channels[0].timestampJumps >= 1)
        #expect(abs(summary.index.durationS - span(call, c.generated)) < 0.040)
        #expect(summary.audioBytes < 100_000)
    }

    @Test func dtmfEventsAreListedOnceAndNeverDecoded() throws {
        var call = SyntheticCall()
        call.seed = 28
        var impairments = LegImpairments()
        impairments.events = [(1, 1.0, 0.2), (11, 2.5, 0.16), (5, 4.0, 0.24)]
        call.callerImpairments = impairments
        let c = try convert(call)
        #expect(c.index.dtmf.map(\.digit) == ["1", "#", "5"])
        #expect(c.index.dtmf.allSatisfy { $0.channel == 0 })
        for (got, want) in zip(c.index.dtmf, [(1.0, 0.2), (2.5, 0.16), (4.0, 0.24)]) {
            #expect(abs(got.atS - want.0) < 0.03, "\(got)")
            #expect(abs(got.durationS - want.1) < 0.021, "\(got)")
        }
        // Event payloads are not audio: nothing loud where the first event was sent.
        let during = c.channels[0][(8000 + 400)..<(8000 + 1400)]
        #expect(SignalMetrics.rms(during) < 0.05 * SignalMetrics.rms(c.channels[0]) + 50)
        #expect(c.index.channels[0].packets == c.generated.legReports[0].captured)
    }

    @Test(arguments: [0.001, -0.001])
    func clockDriftIsCorrected(drift: Double) throws {
        // Two minutes with the caller's clock 0.1 % off and the callee's the other way:
        // uncorrected, the legs would be 240 ms apart at the end.
        var call = SyntheticCall()
        call.seed = 29
        call.duration = 120
        var fast = LegImpairments()
        fast.clockDrift = drift
        var slow = LegImpairments()
        slow.clockDrift = -drift
        call.callerImpairments = fast
        call.calleeImpairments = slow
        let c = try convert(call)
        let legs = [
            (c.generated.callerAudio, drift, c.generated.callerFirstPacket),
            (c.generated.calleeAudio, -drift, c.generated.calleeFirstPacket),
        ]
        for (k, (source, d, first)) in legs.enumerated() {
            let zero = Int(first.samples(since: c.start, rate: 8000))
            for second in [30, 70, 110] {
                // The loudest quarter second near that time (speech, not a pause).
                let window = 2000
                let candidates = stride(from: (second - 2) * 8000, to: (second + 2) * 8000, by: 500)
                let heard = candidates.max { a, b in
                    SignalMetrics.rms(c.channels[k][a..<(a + window)]) < SignalMetrics.rms(c.channels[k][b..<(b + window)])
                }!
                // Audio the sender produced at its own sample n was heard at n / (1 + d).
                let sent = Int(Double(heard - zero) * (1 + d))
                let best = SignalMetrics.bestCorrelation(
                    Array(source[(sent - 240)..<(sent + window + 240)]), Array(c.channels[k][heard..<(heard + window)]), maxLag: 240)
                let lag = best.lag + 240
                // The source runs 0.1 % off the heard audio, 2 samples across the window: a little under 0.8.
                #expect(best.value > 0.55, "channel \(k) at \(second) s: \(best)")
                // Under 20 ms (160 samples) from where it was heard.
                #expect(abs(lag) < 160, "channel \(k) at \(second) s: \(lag) samples off")
            }
            #expect(abs(Double(c.index.channels[k].driftPPM ?? 0) - d * 1e6) < 100)
        }
    }
}
