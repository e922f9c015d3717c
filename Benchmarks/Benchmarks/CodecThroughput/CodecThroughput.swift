import Benchmark
import CSpanDSPBaseline
import CallSynthesis
import Codecs
import DSP
import Foundation
import Throughput

/// Codec and resampler throughput. The unit of work is one second of one
/// leg in 20 ms packets (`1s@16k`), so 1 s / wall time is the real-time
/// factor per core and wall time / samples the cost per output sample.
/// spandsp's g722_decode runs on the same bytes in the same run as the
/// baseline callrec's G.722 decoder must match or beat.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .instructions],
        warmupIterations: 10,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 2000,
        // Decoding allocates nothing per packet. The harness itself counts 16-18
        // mallocs per sample (measured on the bare table-lookup loop below), so
        // a decoder that allocated once per 20 ms packet would show 66 or more.
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 18])]
    )

    let seconds = 10.0
    let spurts = SpeechSynth.conversation(duration: seconds, seed: 3)
    let speech8k = SpeechSynth(sampleRate: 8000, voice: .low).render(duration: seconds, spurts: spurts.caller, seed: 3)
    let speech16k = SpeechSynth(sampleRate: 16000, voice: .low).render(duration: seconds, spurts: spurts.caller, seed: 3)
    let ulaw = speech8k.map(G711.ulawCompress)
    let alaw = speech8k.map(G711.alawCompress)
    var g722Codes: [UInt8] = []
    var encoder = G722Encoder()
    encoder.encode(speech16k, into: &g722Codes)
    // One second of payload: 8000 bytes for all three codecs.
    let second = 8000
    let packet = 160

    func decodeBenchmark(_ name: String, codec: AudioCodec, codes: [UInt8]) {
        Benchmark(name) { benchmark in
            var decoder = PayloadDecoder(codec: codec)
            var output = [Int16](repeating: 0, count: packet * codec.samplesPerByte)
            var k = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                codes.withUnsafeBytes { raw in
                    output.withUnsafeMutableBufferPointer { out in
                        let base = (k % Int(seconds)) * second
                        for offset in stride(from: base, to: base + second, by: packet) {
                            blackHole(decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + packet)]), into: out))
                        }
                    }
                }
                k += 1
            }
            benchmark.stopMeasurement()
            blackHole(output)
        }
    }

    decodeBenchmark("G711.decode u-law 1s@8k", codec: .pcmu, codes: ulaw)
    decodeBenchmark("G711.decode A-law 1s@8k", codec: .pcma, codes: alaw)
    decodeBenchmark("G722.decode 1s@16k", codec: .g722, codes: g722Codes)

    Benchmark("spandsp.g722_decode 1s@16k (baseline)") { benchmark in
        let state = g722_decode_init(nil, 64000, 0)!
        defer { g722_decode_free(state) }
        var output = [Int16](repeating: 0, count: packet * 2)
        var k = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            g722Codes.withUnsafeBufferPointer { raw in
                output.withUnsafeMutableBufferPointer { out in
                    let base = (k % Int(seconds)) * second
                    for offset in stride(from: base, to: base + second, by: packet) {
                        blackHole(g722_decode(state, out.baseAddress!, raw.baseAddress! + offset, Int32(packet)))
                    }
                }
            }
            k += 1
        }
        benchmark.stopMeasurement()
        blackHole(output)
    }

    Benchmark("G711.table lookup 1s@8k (baseline: the bare loop)") { benchmark in
        var output = [Int16](repeating: 0, count: second)
        let table = G711.ulawTable
        var k = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            ulaw.withUnsafeBufferPointer { codes in
                table.withUnsafeBufferPointer { t in
                    output.withUnsafeMutableBufferPointer { out in
                        let base = (k % Int(seconds)) * second
                        for i in 0..<second { out[i] = t[Int(codes[base + i])] }
                    }
                }
            }
            k += 1
        }
        benchmark.stopMeasurement()
        blackHole(output)
    }

    for converter in Resampler.Converter.allCases {
        Benchmark(
            "Resample 1s 8k->16k (\(converter.name))",
            configuration: .init(thresholds: [.mallocCountTotal: .init(absolute: [.p90: 18])])
        ) { benchmark in
            let resampler = try Resampler(inputRate: 8000, outputRate: 16000, converter: converter)
            var produced = 0
            var k = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try speech8k.withUnsafeBufferPointer { all in
                    let base = (k % Int(seconds)) * second
                    for offset in stride(from: base, to: base + second, by: packet) {
                        try resampler.process(UnsafeBufferPointer(rebasing: all[offset..<(offset + packet)])) { produced += $0.count }
                    }
                }
                k += 1
            }
            benchmark.stopMeasurement()
            blackHole(produced)
        }
    }

    // The recording taps against the Opus encoding of the same audio (issue 7: the
    // taps must cost under 5 % of it). One unit: a minute of a two-party call.
    for rate in [8000, 16000] {
        let analysis = try! ThroughputBench.analysisUnit(rate: rate)
        let encoding = ThroughputBench.encodingUnit(rate: rate)
        Benchmark("Taps.speech detection + peaks 60s call@\(rate / 1000)k", configuration: .init(maxIterations: 30)) { benchmark in
            for _ in benchmark.scaledIterations { try analysis() }
        }
        Benchmark("Opus.encode 60s call@\(rate / 1000)k (baseline for the taps)", configuration: .init(maxIterations: 10)) { benchmark in
            for _ in benchmark.scaledIterations { try encoding() }
        }
    }
}
