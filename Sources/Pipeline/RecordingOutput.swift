import CallrecCore
import DSP
import Output

/// The output side of one call: the mixer that puts both legs on one
/// timeline, a resampler for each leg whose rate differs from the
/// recording's, and the files the frames go to (one stereo or mono file, or
/// one file per party). Opened at the call's first RTP packet, committed or
/// discarded when the call ends.
///
/// Every frame the mixer emits passes through `emit(_:)` — the one place
/// to tap the recording's audio (speech detection, peaks).
final class RecordingOutput {
    /// The recording id, also the file stem.
    let id: String
    /// The folder the files go to (`OUT/YYYY/MM/DD`).
    let directory: String
    /// Samples per second of the recording.
    let sampleRate: Int
    /// Time zero: the first RTP packet of either leg.
    let origin: MediaTime
    let layout: ChannelLayout
    let format: AudioFileFormat
    /// Channels on the call timeline (one per party).
    let channels = 2

    private let sinks: [any AudioSink]
    private var mixer: CallMixer
    private let jitterWindowSamples: Int64
    private let converter: Resampler.Converter
    /// Per channel: the converter for a leg at another rate, and where its
    /// current stretch of continuous audio stands on the timeline.
    private var stretches: [ResampledStretch?]
    /// One channel of a frame, for the mono and split layouts.
    private var monoFrame: [Int16]

    /// A leg's audio being resampled: continuous from `start` until a packet
    /// does not follow on from the previous one.
    private struct ResampledStretch {
        var resampler: Resampler
        /// Timeline position of the stretch's first output sample.
        var start: Int64
        /// Output samples of the stretch placed so far.
        var placed: Int64 = 0
        /// Where the next packet should start if it follows on.
        var nextPosition: Int64
    }

    /// The files of a finished recording, synced under their temporary names
    /// until published, in channel order for the split layout.
    struct Finished {
        var files: [AtomicFile]
        /// Samples per channel in the recording.
        var samples: Int64
    }

    /// - Parameters:
    ///   - channelNames: one name per channel (`caller`, `callee`), for split file names.
    ///   - audioBandwidth: the highest frequency the call's codecs carry, in Hz (caps Opus).
    init(
        id: String, directory: String, origin: MediaTime, sampleRate: Int, tags: [(String, String)], serial: Int32,
        channelNames: [String], audioBandwidth: Int, options: ConvertOptions
    ) throws {
        self.id = id
        self.directory = directory
        self.origin = origin
        self.sampleRate = sampleRate
        layout = options.channelLayout
        format = options.format
        converter = options.resampler
        var sinks: [any AudioSink] = []
        let ext = "." + options.format.fileExtension
        switch options.channelLayout {
        case .stereo, .mono:
            let fileChannels = options.channelLayout == .stereo ? channels : 1
            sinks.append(
                try RecordingOutput.sink(
                    file: try AtomicFile(directory: directory, name: id + ext), channels: fileChannels, sampleRate: sampleRate,
                    tags: tags, serial: serial, bitrate: options.opus.bitrate, audioBandwidth: audioBandwidth, options: options))
        case .split:
            // A bit rate set per call is shared by its files, as by the streams of one file.
            for (c, name) in channelNames.enumerated() {
                sinks.append(
                    try RecordingOutput.sink(
                        file: try AtomicFile(directory: directory, name: id + "-" + name + ext), channels: 1, sampleRate: sampleRate,
                        tags: tags + [("SPEAKER", name)], serial: serial &+ Int32(c), bitrate: options.opus.bitrate.map { $0 / channelNames.count },
                        audioBandwidth: audioBandwidth, options: options))
            }
        }
        self.sinks = sinks
        let frameSamples = sinks[0].frameSamples
        // Room for the jitter window, the largest tolerated timestamp skew and a packet.
        let seconds = options.jitterWindow + options.maxTimestampSkew + 0.5
        let frames = Int((seconds * Double(sampleRate) / Double(frameSamples)).rounded(.up))
        mixer = CallMixer(channels: channels, frameSamples: frameSamples, capacityFrames: frames)
        jitterWindowSamples = Int64(options.jitterWindow * Double(sampleRate))
        stretches = Array(repeating: nil, count: channels)
        monoFrame = [Int16](repeating: 0, count: frameSamples)
    }

    private static func sink(
        file: AtomicFile, channels: Int, sampleRate: Int, tags: [(String, String)], serial: Int32, bitrate: Int?,
        audioBandwidth: Int, options: ConvertOptions
    ) throws -> any AudioSink {
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

    /// Places decoded audio of `channel`, decoded at `sourceRate`, at timeline
    /// `position` (in samples at the recording's rate). Audio at another rate
    /// is resampled first, as one continuous stretch while packets follow on.
    /// - Returns: the number of samples dropped as late.
    func place(channel: Int, at position: Int64, samples: UnsafeBufferPointer<Int16>, sourceRate: Int) throws -> Int {
        guard sourceRate != sampleRate else {
            if stretches[channel] != nil { try endStretch(channel: channel) }
            return try mixer.write(channel: channel, at: position, samples: samples) { try emit($0) }
        }
        if let stretch = stretches[channel],
            stretch.resampler.inputRate != sourceRate || abs(position - stretch.nextPosition) > 1
        {
            // A gap, a jump or a new codec: finish the stretch (its filter tail) and start another.
            try endStretch(channel: channel)
        }
        if stretches[channel]?.resampler.inputRate != sourceRate {
            stretches[channel] = ResampledStretch(
                resampler: try Resampler(inputRate: sourceRate, outputRate: sampleRate, converter: converter),
                start: position, nextPosition: position)
        }
        var stretch = stretches[channel]!
        defer { stretches[channel] = stretch }
        if stretch.resampler.inputSamples == 0 {
            stretch.start = position
            stretch.placed = 0
        }
        var late = 0
        try stretch.resampler.process(samples) { converted in
            late += try mixer.write(channel: channel, at: stretch.start + stretch.placed, samples: converted) { try emit($0) }
            stretch.placed += Int64(converted.count)
        }
        stretch.nextPosition = position + Int64(samples.count) * Int64(sampleRate) / Int64(sourceRate)
        return late
    }

    /// Flushes a channel's resampler: its tail goes where the stretch ends.
    private func endStretch(channel: Int) throws {
        guard var stretch = stretches[channel] else { return }
        try stretch.resampler.flush { converted in
            try mixer.write(channel: channel, at: stretch.start + stretch.placed, samples: converted) { try emit($0) }
            stretch.placed += Int64(converted.count)
        }
        stretch.placed = 0
        stretches[channel] = stretch
    }

    /// Encodes every frame older than the jitter window at capture time `now`,
    /// so memory stays flat however long the call.
    func settle(at now: MediaTime) throws {
        let settled = now.samples(since: origin, rate: sampleRate) - jitterWindowSamples
        try mixer.advance(to: settled) { try emit($0) }
    }

    /// The one place every frame of the recording passes through, as the
    /// mixer emits it: `channels` interleaved, `frameSamples` per channel.
    private func emit(_ frame: UnsafeBufferPointer<Int16>) throws {
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
    func finish() throws -> Finished {
        for c in 0..<channels { try endStretch(channel: c) }
        let total = try mixer.finish { try emit($0) }
        for sink in sinks {
            try sink.finish(totalSamples: total)
            try sink.file.sync()
        }
        return Finished(files: sinks.map(\.file), samples: total)
    }

    /// Drops the recording; its temporary files are removed.
    func discard() {
        for sink in sinks { sink.file.discard() }
    }
}
