import CallrecCore
import CallrecTestSupport
import Codecs
import DSP
import Foundation
import Output
import CallMedia
import Conversion
import ConversionTestSupport
import Testing

/// The clock model, held to the figures of issue 17: the sender's RTP clock
/// says where audio goes, arrival times only anchor it. Each case is a
/// generated call with known truth (or the real congestion capture), read
/// back from the lossless WAV so every sample can be checked.
@Suite struct ClockModelTests {
    struct Converted {
        var generated: SyntheticCall.Output
        var index: CallIndex
        var start: MediaTime
        /// The recording's channels at 8 kHz, exactly as written.
        var channels: [[Int16]]
    }

    static func convert(_ call: SyntheticCall, correction: DriftCorrection = .resample) throws -> Converted {
        let c = try ConvertedCall(call, folder: "callrec-clock") { options in
            options.format = .wav
            options.driftCorrection = correction
        }
        return Converted(
            generated: c.generated, index: c.summary.index, start: c.summary.start,
            channels: try SoundFileReader(path: c.summary.audioPath).channels)
    }

    /// What the payload of `audio` decodes to (G.711 u-law: each sample through the codec).
    static func decode(_ audio: [Int16]) -> [Int16] { audio.map { G711.ulawExpand(G711.ulawCompress($0)) } }

    /// How each 20 ms block of a leg's decode sits in its channel: the offset
    /// at which the most blocks match sample for sample, how many blocks with
    /// audio match there exactly (of how many), and the blocks found exact
    /// at another offset instead (moved).
    static func blocks(of decode: [Int16], in channel: [Int16], near offset: Int) -> (offset: Int, exact: Int, total: Int, moved: [Int]) {
        let block = 160
        var votes: [Int: Int] = [:]
        let count = decode.count / block
        for k in stride(from: 0, to: count, by: max(1, count / 50)) {
            let source = Array(decode[(k * block)..<((k + 1) * block)])
            guard SignalMetrics.rms(source) > 50 else { continue }
            for lag in -400...400 {
                let at = offset + lag + k * block
                guard at >= 0, at + block <= channel.count else { continue }
                if Array(channel[at..<(at + block)]) == source { votes[lag, default: 0] += 1 }
            }
        }
        let best = offset + (votes.max { $0.value < $1.value }?.key ?? 0)
        var exact = 0, total = 0
        var moved: [Int] = []
        for k in 0..<count {
            let source = Array(decode[(k * block)..<((k + 1) * block)])
            let at = best + k * block
            guard SignalMetrics.rms(source) > 50, at >= 0, at + block <= channel.count else { continue }
            total += 1
            if Array(channel[at..<(at + block)]) == source {
                exact += 1
            } else if (-400...400).contains(where: { lag in
                let other = at + lag
                return other >= 0 && other + block <= channel.count && Array(channel[other..<(other + block)]) == source
            }) {
                moved.append(k)
            }
        }
        return (best, exact, total, moved)
    }

    /// The leg's first packet's position in the recording.
    static func offset(of first: MediaTime, in c: Converted) -> Int { Int(first.samples(since: c.start, rate: 8000)) }

    @Test(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
    func congestionOnTheRealCaptureKeepsTheRTPSpan() throws {
        // mediastreamer2's congestion scenario: continuous timestamps over 60.26 s, arrivals
        // falling 5.5 s behind them over the 65.68 s of capture. One piece, as long as the RTP span.
        var options = ConvertOptions(outputDirectory: FixturePaths.temporaryDirectory("callrec-clock"))
        options.format = .wav
        let result = try Converter(options: options)
            .convert(path: FixturePaths.shared("captures/mediastreamer2__audio-80-75-0c60.pcapng"), diagnostics: Diagnostics())
        let index = try #require(result.recordings.first).index
        #expect(abs(index.durationS - 60.26) < 0.005, "\(index.durationS) s")
        #expect(index.channels[0].timestampJumps == 0)
        #expect(index.channels[0].driftPPM == nil)
        #expect(index.channels[0].late == 0)
    }

    @Test func steadyCongestionOnOneLeg() throws {
        // The caller's packets queue up (9 % slower than sent: 5.4 s behind after a minute);
        // the callee's arrive on time. Both legs stay where they were said, sample for sample.
        var call = SyntheticCall(seed: 71, duration: 60)
        call.callerImpairments.queueGrowth = 0.09
        let c = try Self.convert(call)
        #expect(c.index.channels.map(\.timestampJumps) == [0, 0])
        #expect(c.index.channels.allSatisfy { $0.driftPPM == nil && $0.late == 0 })
        let span = c.generated.calleeFirstPacket.seconds(since: c.generated.callerFirstPacket) + 60
        #expect(abs(c.index.durationS - span) < 0.005, "\(c.index.durationS) s for \(span) s")
        for (k, (audio, first)) in [(c.generated.callerAudio, c.generated.callerFirstPacket), (c.generated.calleeAudio, c.generated.calleeFirstPacket)].enumerated() {
            let b = Self.blocks(of: Self.decode(audio), in: c.channels[k], near: Self.offset(of: first, in: c))
            #expect(b.exact == b.total, "channel \(k): \(b.exact) of \(b.total) blocks exact, moved \(b.moved)")
        }
    }

    @Test func jitterLossAndReorderingWithoutDriftMoveNothing() throws {
        // Normal jitter (σ 10 ms, clipped at ±30 ms), 2 % loss in bursts of two, 2 % reordering,
        // on both legs of a 90 s call with no drift: every received block sits at one offset for
        // the whole call (placement constant), and not one sample is added or removed.
        var call = SyntheticCall(seed: 72, duration: 90)
        var impairments = LegImpairments()
        impairments.normalJitter = .init(sigma: 0.010, clip: 0.030)
        impairments.lossRate = 0.01
        impairments.burstLength = 2
        impairments.reorderRate = 0.02
        call.callerImpairments = impairments
        call.calleeImpairments = impairments
        let c = try Self.convert(call)
        #expect(c.index.channels.map(\.timestampJumps) == [0, 0])
        #expect(c.index.channels.allSatisfy { $0.driftPPM == nil && $0.late == 0 })
        for (k, (audio, first)) in [(c.generated.callerAudio, c.generated.callerFirstPacket), (c.generated.calleeAudio, c.generated.calleeFirstPacket)].enumerated() {
            let report = c.generated.legReports[k]
            #expect(report.dropped > 0 && report.reordered > 0)
            let b = Self.blocks(of: Self.decode(audio), in: c.channels[k], near: Self.offset(of: first, in: c))
            // Lost blocks are concealed and the block after each loss is blended into (G.711 Appendix I);
            // every other block is exact, at the same offset from start to end.
            #expect(b.total - b.exact <= 2 * report.dropped, "channel \(k): \(b.exact) of \(b.total) exact, \(report.dropped) lost")
            #expect(b.moved.isEmpty, "channel \(k): blocks \(b.moved) moved")
            // The offset is the earliest arrivals' (jitter pushes later only): within the jitter's reach.
            #expect(abs(b.offset - Self.offset(of: first, in: c)) <= 480)
        }
    }

    @Test func aCleanTwoMinuteCallIsThePayloadsDecode() throws {
        // No loss, up to 2 ms of jitter, two minutes: the WAV holds each leg's decode sample for
        // sample, every sample of it, at one offset (FORMATS.md: "the payload's decode exactly").
        let call = SyntheticCall(seed: 73, duration: 120)
        let c = try Self.convert(call)
        for (k, (audio, first)) in [(c.generated.callerAudio, c.generated.callerFirstPacket), (c.generated.calleeAudio, c.generated.calleeFirstPacket)].enumerated() {
            let decode = Self.decode(audio)
            let b = Self.blocks(of: decode, in: c.channels[k], near: Self.offset(of: first, in: c))
            let at = b.offset
            #expect(at >= 0 && at + decode.count <= c.channels[k].count)
            #expect(Array(c.channels[k][at..<min(c.channels[k].count, at + decode.count)]) == decode, "channel \(k)")
        }
        #expect(c.index.channels.allSatisfy { $0.driftPPM == nil && $0.concealedMs == 0 })
    }

    /// Where a leg is heard against where it was said in capture time: its source (at the
    /// sender's clock, `drift` fast) resampled to capture time, against the channel, lag in
    /// samples per quarter second with speech, from `seconds` on.
    static func placementErrors(_ c: Converted, leg k: Int, drift: Double, from seconds: Double) throws -> [Int] {
        let source = k == 0 ? c.generated.callerAudio : c.generated.calleeAudio
        let zero = offset(of: k == 0 ? c.generated.callerFirstPacket : c.generated.calleeFirstPacket, in: c)
        let resampler = try Resampler(inputRate: 8000, outputRate: 8000)
        resampler.ratio = 1 / (1 + drift)
        var said: [Int16] = []
        try source.withUnsafeBufferPointer { try resampler.process($0) { said.append(contentsOf: $0) } }
        try resampler.flush { said.append(contentsOf: $0) }
        // Short windows: while the leg catches up, it runs up to 0.5 % off the drift alone.
        let window = 320, reach = 400
        var lags: [Int] = []
        for at in stride(from: Int(seconds * 8000), to: said.count - window - reach, by: 2000) {
            let heard = zero + at
            guard heard >= reach, heard + window + reach <= c.channels[k].count else { continue }
            // Positive: heard later than said. Every lag over the whole window.
            let a = Array(said[at..<(at + window)])
            var best = (value: -2.0, lag: 0)
            for lag in -reach...reach {
                let value = SignalMetrics.correlation(a, Array(c.channels[k][(heard + lag)..<(heard + lag + window)]))
                if value > best.value { best = (value, lag) }
            }
            if best.value > 0.8 { lags.append(best.lag) }
        }
        return lags
    }

    @Test(arguments: [0.013, -0.013])
    func aClockFarOffOnAShortLegIsCorrectedSmoothly(drift: Double) throws {
        // A sender clock 1.3 % off (inside the ±2 % corrected) on a 15 s leg: measured within
        // seconds, corrected by resampling, so the leg glides to capture time (no 20 ms steps)
        // and ends within 20 ms of where it was said.
        var call = SyntheticCall(seed: 74, duration: 15)
        call.callerImpairments.clockDrift = drift
        // Noise, not voiced speech, so each window's offset is unambiguous (no pitch period repeats it).
        var rng = SeededRandom(seed: 74)
        let noise = (0..<(15 * 8000 + 4)).map { _ in rng.uniform(-4000...4000) }
        call.callerSpeech = (0..<(15 * 8000)).map { (i: Int) -> Int16 in
            let sum: Double = noise[i] + noise[i + 1] + noise[i + 2] + noise[i + 3]
            return Int16(sum / 2)
        }
        let c = try Self.convert(call)
        let ppm = try #require(c.index.channels[0].driftPPM)
        #expect(abs(Double(ppm) - drift * 1e6) < 1000, "\(ppm) ppm")
        #expect(c.index.channels[0].timestampJumps == 0)
        let lags = try Self.placementErrors(c, leg: 0, drift: drift, from: 1)
        #expect(lags.count > 40)
        let steps = zip(lags, lags.dropFirst()).map { abs($1 - $0) }
        #expect(steps.allSatisfy { $0 <= 24 }, "lags \(lags)")
        #expect(lags.suffix(4).allSatisfy { abs($0) < 160 }, "lags \(lags)")
    }

    @Test func senderReportsGiveTheDrift() throws {
        // 0.1 % fast under heavy jitter, RTCP sender reports every 5 s: the drift comes from
        // the reports' NTP/RTP pairs, exact within a few ppm, long before arrivals could show it.
        var call = SyntheticCall(seed: 75, duration: 30)
        call.callerImpairments.clockDrift = 0.001
        call.callerImpairments.normalJitter = .init(sigma: 0.020, clip: 0.060)
        call.callerImpairments.senderReportInterval = 5
        let c = try Self.convert(call)
        let ppm = try #require(c.index.channels[0].driftPPM)
        #expect(abs(ppm - 1000) <= 3, "\(ppm) ppm")
        #expect(c.index.channels[1].driftPPM == nil)
    }

    @Test(.enabled(if: PESQ.available, "python3 with pesq, numpy and scipy is missing (make test installs them)"), arguments: [0.001, -0.001])
    func driftCorrectionIsInaudible(drift: Double) throws {
        // Two minutes with the caller's clock 0.1 % off: corrected, and PESQ of the corrected leg
        // (8 s pieces after the drift is known) against its own decode within 0.3 of the decode itself.
        var call = SyntheticCall(seed: 76, duration: 120)
        call.callerImpairments.clockDrift = drift
        let c = try Self.convert(call)
        #expect(abs(Double(c.index.channels[0].driftPPM ?? 0) - drift * 1e6) < 100)
        let decode = Self.decode(c.generated.callerAudio)
        let zero = Self.offset(of: c.generated.callerFirstPacket, in: c)
        var scores: [Double] = [], best: [Double] = []
        for second in [50, 80, 105] {
            let heard = zero + second * 8000
            let sent = Int(Double(heard - zero) * (1 + drift))
            let reference = Array(decode[sent..<(sent + 64_000)])
            scores.append(try PESQ.score(reference: reference, degraded: Array(c.channels[0][heard..<(heard + 64_000)]), rate: 8000))
            best.append(try PESQ.score(reference: reference, degraded: reference, rate: 8000))
        }
        let mean = scores.reduce(0, +) / 3, ceiling = best.reduce(0, +) / 3
        #expect(mean > ceiling - 0.3, "PESQ \(scores) against \(best)")
    }
}
