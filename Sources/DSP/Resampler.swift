import CSampleRate

/// Streaming sample-rate conversion of one mono leg through libsamplerate.
/// Used only for a leg whose decoded rate differs from the recording's rate
/// (a G.711 leg in a call recorded at 16 kHz, or any leg under `--rate`).
///
/// Input is pushed a packet at a time; converted audio comes out as soon as
/// the filter has seen enough input, aligned so that output sample k is the
/// signal at input time k / ratio (libsamplerate compensates its own delay).
/// `flush()` ends a stretch of continuous audio (before a gap) and emits the
/// filter's tail. Buffers are made in `init`; steady state allocates nothing.
///
/// One owner per converter: `src_new` in `init`, `src_delete` in `deinit`.
/// The corresponding C function is `src_process`.
public final class Resampler {
    /// libsamplerate's converters, best first.
    public enum Converter: Int32, Sendable, CaseIterable {
        case sincBest = 0
        case sincMedium = 1
        case sincFastest = 2
        case zeroOrderHold = 3
        case linear = 4

        /// libsamplerate's own name for the converter.
        public var name: String { String(cString: src_get_name(rawValue)) }
    }

    /// A converter that could not be created.
    public struct ResamplerError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The converter callrec uses, chosen by measurement (README, "Resampling"):
    /// the medium sinc is flat to 3.4 kHz, the top of the G.711 band, where
    /// the fastest sinc is already 8.7 dB down (2.8 dB at 3.2 kHz); the best
    /// sinc costs three times as much for nothing audible in that band.
    public static let defaultConverter = Converter.sincMedium

    /// libsamplerate's version string.
    public static var libraryVersion: String {
        String(String(cString: src_get_version()).prefix { $0 != " " })
    }

    /// Samples per second in and out.
    public let inputRate: Int
    public let outputRate: Int
    /// The libsamplerate converter in use.
    public let converter: Converter
    /// Input samples pushed since the last flush (the start of the current stretch).
    public private(set) var inputSamples: Int64 = 0
    /// Output samples emitted since the last flush.
    public private(set) var outputSamples: Int64 = 0

    private let state: OpaquePointer
    /// Output samples per input sample. Changing it mid-stretch is what
    /// libsamplerate's variable ratio is for: `src_process` moves from the
    /// old ratio to the new one smoothly across the next call's output, so a
    /// leg whose sender clock drifts is taken back to capture time without a
    /// sample dropped or repeated. Stays within 5 % of `outputRate / inputRate`.
    public var ratio: Double {
        didSet { ratio = min(max(ratio, nominalRatio * 0.95), nominalRatio * 1.05) }
    }
    private let nominalRatio: Double
    /// Input converted per `src_process` call, and room for its output.
    private let chunk = 512
    private var inputFloats: [Float]
    private var outputFloats: [Float]
    private var outputShorts: [Int16]

    public init(inputRate: Int, outputRate: Int, converter: Converter = Resampler.defaultConverter) throws {
        guard inputRate > 0, outputRate > 0, src_is_valid_ratio(Double(outputRate) / Double(inputRate)) != 0 else {
            throw ResamplerError(description: "cannot convert \(inputRate) Hz to \(outputRate) Hz")
        }
        var error: Int32 = 0
        guard let state = src_new(converter.rawValue, 1, &error) else {
            throw ResamplerError(description: "src_new: \(String(cString: src_strerror(error)))")
        }
        self.state = state
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.converter = converter
        nominalRatio = Double(outputRate) / Double(inputRate)
        ratio = nominalRatio
        inputFloats = [Float](repeating: 0, count: chunk)
        let room = Int((Double(chunk) * nominalRatio * 1.05).rounded(.up)) + 64
        outputFloats = [Float](repeating: 0, count: room)
        outputShorts = [Int16](repeating: 0, count: room)
    }

    deinit {
        src_delete(state)
    }

    /// Converts `input` and emits whatever output is ready, in one or more pieces.
    public func process(_ input: UnsafeBufferPointer<Int16>, emit: (UnsafeBufferPointer<Int16>) throws -> Void) throws {
        var offset = 0
        while offset < input.count {
            let n = min(chunk, input.count - offset)
            inputFloats.withUnsafeMutableBufferPointer { floats in
                src_short_to_float_array(input.baseAddress! + offset, floats.baseAddress!, Int32(n))
            }
            try run(frames: n, end: false, emit: emit)
            offset += n
        }
        inputSamples += Int64(input.count)
    }

    /// Ends the current stretch: emits the filter's tail and starts afresh.
    public func flush(emit: (UnsafeBufferPointer<Int16>) throws -> Void) throws {
        if inputSamples > 0 {
            try run(frames: 0, end: true, emit: emit)
        }
        src_reset(state)
        inputSamples = 0
        outputSamples = 0
    }

    /// One or more `src_process` calls until the `frames` input floats are used
    /// (or, at the end, until the converter has nothing more to give).
    private func run(frames: Int, end: Bool, emit: (UnsafeBufferPointer<Int16>) throws -> Void) throws {
        var used = 0
        while true {
            var generated = 0
            var consumed = 0
            let status = inputFloats.withUnsafeBufferPointer { input in
                outputFloats.withUnsafeMutableBufferPointer { output in
                    var data = SRC_DATA(
                        data_in: input.baseAddress! + used, data_out: output.baseAddress!,
                        input_frames: frames - used, output_frames: output.count,
                        input_frames_used: 0, output_frames_gen: 0, end_of_input: end ? 1 : 0, src_ratio: ratio)
                    let status = src_process(state, &data)
                    generated = data.output_frames_gen
                    consumed = data.input_frames_used
                    return status
                }
            }
            if status != 0 {
                throw ResamplerError(description: "src_process: \(String(cString: src_strerror(status)))")
            }
            used += consumed
            if !end && consumed == 0 && generated == 0 { return }
            if generated > 0 {
                outputFloats.withUnsafeBufferPointer { floats in
                    outputShorts.withUnsafeMutableBufferPointer { shorts in
                        src_float_to_short_array(floats.baseAddress!, shorts.baseAddress!, Int32(generated))
                    }
                }
                outputSamples += Int64(generated)
                try outputShorts.withUnsafeBufferPointer { try emit(UnsafeBufferPointer(rebasing: $0[0..<generated])) }
            }
            if end ? generated == 0 : (used >= frames && generated < outputFloats.count) { return }
        }
    }
}
