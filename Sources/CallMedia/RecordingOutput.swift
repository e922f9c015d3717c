import CallrecCore
import DSP
import Output

/// The output side of one call: the mixer that puts both legs on one
/// timeline, a resampler for each leg whose rate differs from the
/// recording's, and the files the frames go to (one stereo or mono file, or
/// one file per party).
///
/// The mixer exists from the call's first audio packet; the files are
/// created when the first frame is final, because only then is the
/// timeline's start known (the first packet to arrive is not always the
/// first sent), and the recording's id, folder and START tag come from it.
///
/// Every frame the mixer emits passes through `emit(_:at:)`: the one place
/// to tap the recording's audio.
final class RecordingOutput {
    /// Samples per second of the recording.
    let sampleRate: Int
    /// The capture time positions are counted from (the call's first audio packet).
    let origin: MediaTime
    let layout: ChannelLayout
    let format: AudioFileFormat
    /// Channels on the call timeline (one per party).
    let channels = 2
    /// Inputs placed on the timeline: each party's own stream (channel c),
    /// then each party's extra stream (channel `channels + c`), which the
    /// mixer sums into channel c (`LegSources`: a second source kept beside the own one).
    let inputs = 4

    private let callID: String
    private let tags: [(String, String)]
    private let channelNames: [String]
    private let audioBandwidth: Int
    private let options: ConvertOptions
    /// What the recording's files are sealed through (nil: in the clear).
    let seal: (any RecordingSeal)?
    private var mixer: CallMixer
    private let jitterWindowSamples: Int64
    private let converter: Resampler.Converter
    /// Per channel: the converter for a leg at another rate, and where its
    /// current stretch of continuous audio stands on the timeline.
    private var stretches: [ResampledStretch?]
    /// The highest frequency each channel's audio carries, in Hz (half its
    /// decoded rate); nil until the channel's first audio.
    private var sourceBandwidths: [Int?]
    /// One channel of a frame, for the mono and split layouts.
    private var monoFrame: [Int16]
    private var open: Open?
    /// The shared complexity the live recorder may lower under overload (nil: convert, or not Opus).
    private let complexityLevel: OpusComplexityLevel?
    /// The complexity the files are being encoded with, and each change: the
    /// timeline position (samples) from which a complexity was used, the first
    /// at the recording's start. Appended to only when the level changes.
    private var encodedComplexity: Int
    private var complexitySteps: [(position: Int64, complexity: Int)] = []

    /// The files, once the first frame is final.
    private struct Open {
        var id: String
        var directory: String
        var start: MediaTime
        var startPosition: Int64
        var sinks: [any AudioSink]
        /// Speech detection and peaks, fed every frame as it is encoded.
        var analysis: CallAnalysis
    }

    /// A leg's audio being resampled: continuous from `start` until a packet
    /// does not follow on from the previous one.
    private struct ResampledStretch {
        var resampler: Resampler
        /// Timeline position of the stretch's first output sample.
        var start: Int64
        /// Output samples of the stretch placed so far.
        var placed: Int64 = 0
        /// Where the next packet should start if it follows on (fractional while time is compressed).
        var nextPosition: Double
    }

    /// A finished recording: its files synced under their temporary names
    /// until published, in channel order for the split layout.
    struct Finished {
        var id: String
        var directory: String
        /// Time zero of the recording.
        var start: MediaTime
        /// Time zero as a timeline position (samples from `origin`).
        var startPosition: Int64
        var files: [AtomicFile]
        var format: AudioFileFormat
        var layout: ChannelLayout
        /// Samples per channel in the recording.
        var samples: Int64
        /// Speech, talk time and the peaks files.
        var analysis: CallAnalysis.Result
        /// The Opus complexities the files were encoded with: samples from
        /// time zero at which each began, in order; empty when the complexity
        /// could not change (convert) or the format is not Opus.
        var complexity: [(fromSample: Int64, complexity: Int)]
    }

    /// - Parameters:
    ///   - tags: comments for the files other than START (which comes from the timeline's start).
    ///   - channelNames: one name per channel (`caller`, `callee`), for split file names.
    ///   - audioBandwidth: the highest frequency the call's codecs carry, in Hz (caps Opus).
    init(
        callID: String, origin: MediaTime, sampleRate: Int, tags: [(String, String)], channelNames: [String],
        audioBandwidth: Int, options: ConvertOptions, seal: (any RecordingSeal)?
    ) {
        self.seal = seal
        self.callID = callID
        self.origin = origin
        self.sampleRate = sampleRate
        self.tags = tags
        self.channelNames = channelNames
        self.audioBandwidth = audioBandwidth
        self.options = options
        layout = options.channelLayout
        format = options.format
        converter = options.resampler
        let frameSamples = sampleRate * options.opus.frameMilliseconds / 1000
        jitterWindowSamples = Int64(options.jitterWindow * Double(sampleRate))
        // Room for the lead before time zero, the jitter window, a second of skew and a packet; a
        // leg placed further behind its arrival (congestion, up to the largest lag tolerated) grows it.
        let seconds = 2 * options.jitterWindow + 1.5
        let frames = Int((seconds * Double(sampleRate) / Double(frameSamples)).rounded(.up))
        let most = Int(((seconds + options.maxTimestampSkew) * Double(sampleRate) / Double(frameSamples)).rounded(.up))
        mixer = CallMixer(
            channels: channels, frameSamples: frameSamples, capacityFrames: frames, lead: Int(jitterWindowSamples),
            extraChannels: inputs - channels, maxCapacityFrames: most)
        stretches = Array(repeating: nil, count: inputs)
        sourceBandwidths = Array(repeating: nil, count: inputs)
        monoFrame = [Int16](repeating: 0, count: frameSamples)
        complexityLevel = options.format == .opus ? options.opusComplexity : nil
        encodedComplexity = options.opus.complexity
    }

    /// Samples the legs hold back for late packets before audio is final.
    var jitterWindow: Int64 { jitterWindowSamples }

    /// Creates the files once the timeline's start is known.
    private func create(startPosition: Int64) throws {
        let start = origin.advanced(byNanoseconds: startPosition * 1_000_000_000 / Int64(sampleRate))
        let id = options.recordingIDs?.claim(start: start, callID: callID) ?? RecordingNaming.recordingID(start: start, callID: callID)
        let directory = options.outputDirectory + "/" + RecordingNaming.dateFolder(start)
        let serial = Int32(bitPattern: StableHash.fnv1a32(callID.utf8))
        let tags = self.tags + [("START", start.iso8601)]
        var sinks: [any AudioSink] = []
        let ext = "." + options.format.fileExtension
        // libsndfile rewrites a WAV or FLAC header when it closes the file.
        let rewritesHeader = options.format != .opus
        switch layout {
        case .stereo, .mono:
            let fileChannels = layout == .stereo ? channels : 1
            sinks.append(
                try sink(
                    file: try seal.file(directory: directory, name: id + ext, rewritesHeader: rewritesHeader, space: options.diskSpace),
                    channels: fileChannels, tags: tags, serial: serial, bitrate: options.opus.bitrate))
        case .split:
            // A bit rate set per call is shared by its files, as by the streams of one file.
            for (c, name) in channelNames.enumerated() {
                sinks.append(
                    try sink(
                        file: try seal.file(directory: directory, name: id + "-" + name + ext, rewritesHeader: rewritesHeader, space: options.diskSpace),
                        channels: 1, tags: tags + [("SPEAKER", name)], serial: serial &+ Int32(c),
                        bitrate: options.opus.bitrate.map { $0 / channelNames.count }))
            }
        }
        let analysis = try CallAnalysis(
            channels: channels, sampleRate: sampleRate, options: options.peaks, directory: directory, id: id, space: options.diskSpace, seal: seal)
        open = Open(id: id, directory: directory, start: start, startPosition: startPosition, sinks: sinks, analysis: analysis)
        for c in 0..<channels { applySourceBandwidth(channel: c) }
        if let complexityLevel {
            encodedComplexity = complexityLevel.current
            if encodedComplexity != options.opus.complexity { for sink in sinks { sink.setComplexity(encodedComplexity) } }
            complexitySteps = [(startPosition, encodedComplexity)]
        }
    }

    /// Notes the band of `channel`'s audio (half the rate it was decoded at:
    /// 4 kHz for G.711, 8 kHz for G.722) and caps the coder's band for it,
    /// so each speaker is coded in the band its own codec carries. Called
    /// per packet; acts only when the band changes (the first audio, a codec change).
    private func noteSourceRate(channel input: Int, rate: Int) {
        guard sourceBandwidths[input] != rate / 2 else { return }
        sourceBandwidths[input] = rate / 2
        applySourceBandwidth(channel: input % channels)
    }

    /// The band of `channel`'s audio: the wider of its own and its extra stream's.
    private func bandwidth(of channel: Int) -> Int? {
        stride(from: channel, to: inputs, by: channels).compactMap { sourceBandwidths[$0] }.max()
    }

    private func applySourceBandwidth(channel: Int) {
        guard let open, let hz = bandwidth(of: channel) else { return }
        switch layout {
        case .stereo:
            open.sinks[0].setSourceBandwidth(channel: channel, hz: hz)
        case .mono:
            // One channel carries both parties: the wider band of the two.
            open.sinks[0].setSourceBandwidth(channel: 0, hz: sourceBandwidths.compactMap { $0 }.max() ?? hz)
        case .split:
            open.sinks[channel].setSourceBandwidth(channel: 0, hz: hz)
        }
    }

    private func sink(file: AtomicFile, channels: Int, tags: [(String, String)], serial: Int32, bitrate: Int?) throws -> any AudioSink {
        let format = AudioFormat(sampleRate: sampleRate, channels: channels)
        switch options.format {
        case .opus:
            var settings = options.opus
            settings.bitrate = bitrate
            return try OggOpusWriter(
                file: file, format: format, settings: settings, tags: tags, serial: serial, audioBandwidth: audioBandwidth)
        case .wav, .flac:
            return try SndFileWriter(
                file: file, format: format, container: options.format, frameMilliseconds: options.opus.frameMilliseconds, tags: tags)
        }
    }

    /// Places decoded audio of `channel` (an input: `channels + c` is party c's
    /// extra stream), decoded at `sourceRate`, at timeline
    /// `position` (in samples at the recording's rate), compressed in time by
    /// `stretch` (`Leg.Placement`). Audio at the recording's rate and not
    /// compressed is written as it is, sample for sample; other audio is
    /// resampled first, as one continuous stretch while packets follow on
    /// (at a ratio that follows `stretch` from packet to packet).
    /// - Returns: the number of samples dropped as late.
    func place(channel: Int, at position: Int64, samples: UnsafeBufferPointer<Int16>, sourceRate: Int, stretch compression: Double = 0) throws -> Int {
        noteSourceRate(channel: channel, rate: sourceRate)
        guard sourceRate != sampleRate || compression != 0 else {
            if stretches[channel] != nil { try endStretch(channel: channel) }
            return try mixer.write(channel: channel, at: position, samples: samples) { try emit($0, at: $1) }
        }
        if let stretch = stretches[channel],
            stretch.resampler.inputRate != sourceRate || abs(Double(position) - stretch.nextPosition) > 1.5
        {
            // A gap, a jump or a new codec: finish the stretch (its filter tail) and start another.
            try endStretch(channel: channel)
        }
        if stretches[channel]?.resampler.inputRate != sourceRate {
            stretches[channel] = ResampledStretch(
                resampler: try Resampler(inputRate: sourceRate, outputRate: sampleRate, converter: converter),
                start: position, nextPosition: Double(position))
        }
        var stretch = stretches[channel]!
        defer { stretches[channel] = stretch }
        if stretch.resampler.inputSamples == 0 {
            stretch.start = position
            stretch.placed = 0
            stretch.nextPosition = Double(position)
        }
        let ratio = Double(sampleRate) / Double(sourceRate) / (1 + compression)
        stretch.resampler.ratio = ratio
        var late = 0
        try stretch.resampler.process(samples) { converted in
            late += try mixer.write(channel: channel, at: stretch.start + stretch.placed, samples: converted) { try emit($0, at: $1) }
            stretch.placed += Int64(converted.count)
        }
        stretch.nextPosition += Double(samples.count) * ratio
        return late
    }

    /// Keeps timeline `first ..< position` (samples at the recording's rate) in
    /// the recording as silence where nothing is placed: the time of media
    /// that is not decoded.
    func keep(from first: Int64, to position: Int64) throws {
        try mixer.keep(from: first, to: position) { try emit($0, at: $1) }
    }

    /// Flushes a channel's resampler: its tail goes where the stretch ends.
    private func endStretch(channel: Int) throws {
        guard var stretch = stretches[channel] else { return }
        try stretch.resampler.flush { converted in
            try mixer.write(channel: channel, at: stretch.start + stretch.placed, samples: converted) { try emit($0, at: $1) }
            stretch.placed += Int64(converted.count)
        }
        stretch.placed = 0
        stretches[channel] = stretch
    }

    /// Encodes every whole frame before timeline `position` (the legs have
    /// played everything before it), so memory stays flat however long the call.
    /// A leg being resampled is complete only up to what its resampler has
    /// given out: the filter holds back its last few milliseconds (94 samples
    /// of a 20 ms G.711 packet at 16 kHz) until the next packet pushes them
    /// out, so no frame is encoded past that, or those samples would come
    /// too late and leave a hole in every packet.
    func settle(upTo position: Int64) throws {
        var limit = position
        for stretch in stretches {
            if let stretch, stretch.resampler.inputSamples > 0 { limit = min(limit, stretch.start + stretch.placed) }
        }
        try mixer.advance(to: limit) { try emit($0, at: $1) }
    }

    /// The one place every frame of the recording passes through, as the
    /// mixer emits it: `channels` interleaved, `frameSamples` per channel,
    /// starting at timeline `position`.
    private func emit(_ frame: UnsafeBufferPointer<Int16>, at position: Int64) throws {
        // The first frame starts the timeline.
        if open == nil { try create(startPosition: position) }
        let sinks = open!.sinks
        // Under overload the recorder changes the complexity of every call from its next frame.
        if let level = complexityLevel?.current, level != encodedComplexity {
            encodedComplexity = level
            for sink in sinks { sink.setComplexity(level) }
            complexitySteps.append((position, encodedComplexity))
        }
        // The taps see the call's two channels as they are encoded, whatever the file layout.
        try open!.analysis.process(frame)
        switch layout {
        case .stereo:
            try sinks[0].write(frame: frame)
        case .mono:
            try monoFrame.withUnsafeMutableBufferPointer { mono in
                ChannelMix.downmix(frame, channels: channels, into: mono)
                try sinks[0].write(frame: UnsafeBufferPointer(mono))
            }
        case .split:
            for (c, sink) in sinks.enumerated() {
                try monoFrame.withUnsafeMutableBufferPointer { mono in
                    ChannelMix.extract(channel: c, of: frame, channels: channels, into: mono)
                    try sink.write(frame: UnsafeBufferPointer(mono))
                }
            }
        }
    }

    /// Encodes what is left, ends the files and syncs them.
    /// - Returns: nil when no audio was ever placed.
    func finish() throws -> Finished? {
        for c in 0..<inputs { try endStretch(channel: c) }
        let total = try mixer.finish { try emit($0, at: $1) }
        guard let open, total > 0 else {
            discard()
            return nil
        }
        for sink in open.sinks {
            try sink.finish(totalSamples: total)
            try sink.file.sync()
        }
        let analysis = try open.analysis.finish(total: total)
        return Finished(
            id: open.id, directory: open.directory, start: open.start, startPosition: open.startPosition,
            files: open.sinks.map(\.file), format: format, layout: layout, samples: total, analysis: analysis,
            complexity: complexitySteps.map { ($0.position - open.startPosition, $0.complexity) })
    }

    /// Drops the recording; its temporary files are removed.
    func discard() {
        if let id = open?.id { options.recordingIDs?.release(id) }
        for sink in open?.sinks ?? [] { sink.file.discard() }
        open?.analysis.discard()
        open = nil
    }
}
