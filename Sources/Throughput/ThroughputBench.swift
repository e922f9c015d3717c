import CallMedia
import CallSynthesis
import CallrecCore
import Codecs
import Conversion
import DSP
import Foundation
import Output

/// The measurements behind `callrec bench`: how fast each stage runs on
/// this machine, as a multiple of real time on one core and as the number
/// of calls one core keeps up with. Every workload is speech-like audio
/// from `SpeechSynth` (deterministic), timed in thread CPU time so the
/// numbers mean "per core" whatever else the machine is doing.
public enum ThroughputBench {
    /// What can be measured.
    public enum Workload: String, Sendable, CaseIterable {
        /// G.711 u-law and A-law decoding.
        case g711
        /// G.722 decoding (64 kbit/s).
        case g722
        /// libsamplerate, one leg from 8 to 16 kHz.
        case resample
        /// Opus encoding of a two-channel call at the chosen settings.
        case opus
        /// Speech detection and waveform peaks on a two-channel call (the taps on the encoded frames).
        case speech
        /// The whole pipeline: capture file in, committed recording out.
        case pipeline
    }

    /// One measured stage.
    public struct Result: Sendable, Encodable {
        /// The stage (`G.722 decode`).
        public var stage: String
        /// What one unit of audio is (`1 leg, 16 kHz`).
        public var unit: String
        /// Seconds of audio processed.
        public var audioSeconds: Double
        /// Thread CPU seconds spent.
        public var cpuSeconds: Double
        /// Audio seconds per CPU second.
        public var realTimeFactor: Double
        /// Calls (two legs each) one core keeps up with.
        public var callsPerCore: Double
        /// CPU nanoseconds per output sample, for codecs and resampling.
        public var nsPerSample: Double?

        enum CodingKeys: String, CodingKey {
            case stage, unit
            case audioSeconds = "audio_s"
            case cpuSeconds = "cpu_s"
            case realTimeFactor = "x_realtime_per_core"
            case callsPerCore = "calls_per_core"
            case nsPerSample = "ns_per_sample"
        }
    }

    /// The machine the numbers were measured on.
    public struct Machine: Sendable, Encodable {
        /// The CPU model (`/proc/cpuinfo`'s model name).
        public var cpu: String
        /// Logical cores available.
        public var cores: Int
        /// The libopus and libsamplerate versions measured.
        public var opus: String
        public var samplerate: String

        /// This machine.
        public static var current: Machine {
            let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
                .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
            return Machine(
                cpu: model ?? "unknown", cores: ProcessInfo.processInfo.activeProcessorCount,
                opus: OggOpusWriter.libraryVersion, samplerate: Resampler.libraryVersion)
        }
    }

    /// Seconds of audio in one unit of work: a minute of conversation.
    static let unitSeconds = 60.0

    /// Runs `workloads`, each repeated until it has used at least `seconds` of CPU time.
    /// - Parameters:
    ///   - settings: the Opus settings to measure (the convert defaults unless given).
    ///   - allConverters: measure every libsamplerate converter, not only the default.
    public static func run(
        _ workloads: [Workload], seconds: Double, settings: OpusSettings = .default, allConverters: Bool = false
    ) throws -> [Result] {
        var results: [Result] = []
        defer { try? FileManager.default.removeItem(atPath: scratchDirectory) }
        let speech8k = speech(rate: 8000)
        for workload in workloads {
            switch workload {
            case .g711:
                for law in [G711.Law.ulaw, .alaw] {
                    let codes = speech8k.map(law == .ulaw ? G711.ulawCompress : G711.alawCompress)
                    results.append(decode(codes, codec: law == .ulaw ? .pcmu : .pcma, seconds: seconds))
                }
            case .g722:
                var encoder = G722Encoder()
                var codes: [UInt8] = []
                encoder.encode(speech(rate: 16000), into: &codes)
                results.append(decode(codes, codec: .g722, seconds: seconds))
            case .resample:
                let converters = allConverters ? Resampler.Converter.allCases : [Resampler.defaultConverter]
                for converter in converters {
                    results.append(try resample(speech8k, converter: converter, seconds: seconds))
                }
            case .opus:
                for rate in [8000, 16000] {
                    results.append(try encode(speech(rate: rate), rate: rate, settings: settings, seconds: seconds))
                }
            case .speech:
                for rate in [8000, 16000] {
                    results.append(try analyse(speech(rate: rate), rate: rate, seconds: seconds))
                }
            case .pipeline:
                for (caller, callee) in [(AudioCodec.pcmu, AudioCodec.pcmu), (.g722, .g722), (.pcmu, .g722)] {
                    results.append(try convert(caller: caller, callee: callee, settings: settings, seconds: seconds))
                }
            }
        }
        return results
    }

    /// Where the workloads write their files (removed when `run` ends).
    public static var scratchDirectory: String { NSTemporaryDirectory() + "callrec-bench-\(System.processID)" }

    /// A minute of one speaker at `rate`.
    static func speech(rate: Int) -> [Int16] {
        let spurts = SpeechSynth.conversation(duration: unitSeconds, seed: 7)
        return SpeechSynth(sampleRate: rate, voice: .low).render(duration: unitSeconds, spurts: spurts.caller, seed: 7)
    }

    /// Repeats `body` (one unit of work) after one warm-up run until `seconds`
    /// of thread CPU time have passed. Returns the units run and the CPU time.
    static func measure(seconds: Double, _ body: () throws -> Void) rethrows -> (units: Int, cpu: Double) {
        try measure(seconds: seconds, preparing: { _ in }, { _ in try body() })
    }

    /// Runs `body` (after an untimed warm-up) until it has used `seconds` of
    /// thread CPU time; `prepare` readies unit k before it runs and is not
    /// counted.
    static func measure(
        seconds: Double, preparing prepare: (Int) throws -> Void, _ body: (Int) throws -> Void
    ) rethrows -> (units: Int, cpu: Double) {
        try prepare(0)
        try body(0)
        var units = 0
        var cpu = 0.0
        repeat {
            try prepare(units + 1)
            let start = threadCPUSeconds()
            try body(units + 1)
            cpu += threadCPUSeconds() - start
            units += 1
        } while cpu < seconds
        return (units, cpu)
    }

    static func result(stage: String, unit: String, units: Int, cpu: Double, legsPerCall: Int, samplesPerUnit: Int?) -> Result {
        let audio = Double(units) * unitSeconds
        let factor = audio / cpu
        return Result(
            stage: stage, unit: unit, audioSeconds: audio, cpuSeconds: cpu, realTimeFactor: factor,
            callsPerCore: factor / Double(legsPerCall),
            nsPerSample: samplesPerUnit.map { cpu * 1e9 / Double(units * $0) })
    }

    /// Decodes a minute of one leg in 20 ms packets, as the pipeline does.
    static func decode(_ payload: [UInt8], codec: AudioCodec, seconds: Double) -> Result {
        var decoder = PayloadDecoder(codec: codec)
        let packet = 160  // bytes per 20 ms: G.711 and G.722 both send 8000 bytes a second
        var output = [Int16](repeating: 0, count: packet * codec.samplesPerByte)
        var sink: Int16 = 0
        let (units, cpu) = measure(seconds: seconds) {
            payload.withUnsafeBytes { raw in
                output.withUnsafeMutableBufferPointer { out in
                    var offset = 0
                    while offset + packet <= raw.count {
                        _ = decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + packet)]), into: out)
                        offset += packet
                    }
                    sink &+= out[0]
                }
            }
        }
        withExtendedLifetime(sink) {}
        let name = codec == .g722 ? "G.722 decode" : codec == .pcmu ? "G.711 u-law decode" : "G.711 A-law decode"
        return result(
            stage: name, unit: "1 leg, \(codec.sampleRate / 1000) kHz", units: units, cpu: cpu, legsPerCall: 2,
            samplesPerUnit: Int(unitSeconds) * codec.sampleRate)
    }

    /// Resamples a minute of one 8 kHz leg to 16 kHz in 20 ms packets.
    static func resample(_ input: [Int16], converter: Resampler.Converter, seconds: Double) throws -> Result {
        let resampler = try Resampler(inputRate: 8000, outputRate: 16000, converter: converter)
        var produced = 0
        let (units, cpu) = try measure(seconds: seconds) {
            try input.withUnsafeBufferPointer { all in
                for start in stride(from: 0, to: all.count, by: 160) {
                    try resampler.process(UnsafeBufferPointer(rebasing: all[start..<min(start + 160, all.count)])) { produced += $0.count }
                }
            }
            try resampler.flush { produced += $0.count }
        }
        return result(
            stage: "resample 8 -> 16 kHz (\(converter.name))", unit: "1 leg", units: units, cpu: cpu, legsPerCall: 2,
            samplesPerUnit: Int(unitSeconds) * 16000)
    }

    /// Encodes a minute of a two-party call (the speech on both channels, one
    /// offset) at `rate` through the Ogg Opus writer.
    static func encode(_ speech: [Int16], rate: Int, settings: OpusSettings, seconds: Double) throws -> Result {
        let (units, cpu) = try measure(seconds: seconds, encodingUnit(speech, rate: rate, settings: settings))
        let streams = settings.layout == .separate ? "2 mono streams" : "1 coupled stream"
        let bitrate = settings.bitrate(sampleRate: rate, channels: 2)
        return result(
            stage: "Opus encode \(bitrate / 1000) kbit/s, complexity \(settings.complexity)",
            unit: "1 call, \(rate / 1000) kHz, \(streams)", units: units, cpu: cpu, legsPerCall: 1, samplesPerUnit: nil)
    }

    /// Runs the recording taps (a speech detector per channel, waveform peaks
    /// written as JSON) over a minute of a two-party call at `rate`, frame by
    /// frame as the recording encodes it.
    static func analyse(_ speech: [Int16], rate: Int, seconds: Double) throws -> Result {
        let unit = try analysisUnit(speech, rate: rate)
        let (units, cpu) = try measure(seconds: seconds, unit)
        return result(
            stage: "speech detection + peaks", unit: "1 call, \(rate / 1000) kHz, 2 channels", units: units, cpu: cpu,
            legsPerCall: 1, samplesPerUnit: nil)
    }

    /// One unit of the taps' work, for `callrec bench` and the package
    /// benchmarks: a minute-long two-party call at `rate` (the speech on both
    /// channels, one offset by half) through the speech detectors and the
    /// peaks writer, frame by frame as the recording encodes it.
    public static func analysisUnit(_ speech: [Int16]? = nil, rate: Int) throws -> () throws -> Void {
        let speech = speech ?? ThroughputBench.speech(rate: rate)
        let directory = scratchDirectory
        let frameSamples = rate / 50
        // The call, interleaved once: the taps get frames as the mixer hands them out.
        let half = speech.count / 2
        var call = [Int16](repeating: 0, count: speech.count * 2)
        for i in speech.indices {
            call[2 * i] = speech[i]
            call[2 * i + 1] = speech[(i + half) % speech.count]
        }
        return {
            let analysis = try CallAnalysis(channels: 2, sampleRate: rate, options: .default, directory: directory, id: "bench")
            defer { analysis.discard() }
            try call.withUnsafeBufferPointer { all in
                for start in stride(from: 0, to: all.count - 2 * frameSamples + 1, by: 2 * frameSamples) {
                    try analysis.process(UnsafeBufferPointer(rebasing: all[start..<(start + 2 * frameSamples)]))
                }
            }
            _ = try analysis.finish(total: Int64(speech.count))
        }
    }

    /// One unit of Opus encoding, for the package benchmarks: the same
    /// minute-long two-party call at `rate` through the Ogg Opus writer.
    public static func encodingUnit(_ speech: [Int16]? = nil, rate: Int, settings: OpusSettings = .default) -> () throws -> Void {
        let speech = speech ?? ThroughputBench.speech(rate: rate)
        let directory = scratchDirectory
        let frameSamples = rate * settings.frameMilliseconds / 1000
        let half = speech.count / 2
        var frame = [Int16](repeating: 0, count: frameSamples * 2)
        return {
            let file = try AtomicFile(directory: directory, name: "bench.opus")
            defer { file.discard() }
            let writer = try OggOpusWriter(
                file: file, format: AudioFormat(sampleRate: rate, channels: 2), settings: settings, tags: [], serial: 1,
                audioBandwidth: rate == 8000 ? 3400 : 7000)
            for start in stride(from: 0, to: speech.count - frameSamples + 1, by: frameSamples) {
                for i in 0..<frameSamples {
                    frame[2 * i] = speech[start + i]
                    frame[2 * i + 1] = speech[(start + i + half) % speech.count]
                }
                try frame.withUnsafeBufferPointer { try writer.write(frame: $0) }
            }
            try writer.finish(totalSamples: Int64(speech.count))
        }
    }

    /// Converts a generated minute-long call from a capture file to a
    /// committed recording (index and catalog row included). Each unit is
    /// another call (its own Call-ID, the same audio): converting
    /// one capture again records nothing new, as it must.
    static func convert(caller: AudioCodec, callee: AudioCodec, settings: OpusSettings, seconds: Double) throws -> Result {
        let directory = scratchDirectory
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let capture = directory + "/call.pcap"
        var options = ConvertOptions(outputDirectory: directory + "/out")
        options.opus = settings
        let converter = try Converter(options: options)
        var failure: String?
        let (units, cpu) = try measure(seconds: seconds, preparing: { k in
            var call = SyntheticCall()
            call.codec = caller
            call.calleeCodec = callee
            call.duration = unitSeconds
            call.seed = 42
            call.callID = "bench-\(k)@callrec.invalid"
            try Data(call.build().pcap).write(to: URL(fileURLWithPath: capture))
        }) { _ in
            let outcome = converter.convert(path: capture, diagnostics: Diagnostics())
            if outcome.recordings.count != 1, failure == nil { failure = outcome.error ?? "no recording" }
        }
        if let failure { throw OutputError(code: .encoder, path: capture, message: "bench call did not convert: \(failure)") }
        let codecs = caller == callee ? caller.rawValue : "\(caller.rawValue) + \(callee.rawValue)"
        return result(
            stage: "pipeline (capture -> recording)", unit: "1 call, \(codecs), 2 legs", units: units, cpu: cpu, legsPerCall: 1,
            samplesPerUnit: nil)
    }
}
