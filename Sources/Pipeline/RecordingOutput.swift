import CallrecCore
import DSP
import Output

/// The output side of one call: the mixer that puts both legs on one
/// timeline and the encoder and file it feeds. Opened at the call's first
/// RTP packet, committed or discarded when the call ends.
final class RecordingOutput {
    /// The recording id, also the file stem.
    let id: String
    /// The folder the files go to (`OUT/YYYY/MM/DD`).
    let directory: String
    /// Samples per second of the recording.
    let sampleRate: Int
    /// Time zero: the first RTP packet of either leg.
    let origin: MediaTime

    private let file: AtomicFile
    private let writer: OggOpusWriter
    private var mixer: CallMixer
    private let jitterWindowSamples: Int64

    /// The files of a finished recording, synced under their temporary names
    /// until `publish()`.
    struct Finished {
        var audio: AtomicFile
        /// Samples per channel in the recording.
        var samples: Int64
    }

    init(id: String, directory: String, origin: MediaTime, sampleRate: Int, tags: [(String, String)], serial: Int32, options: ConvertOptions) throws {
        self.id = id
        self.directory = directory
        self.origin = origin
        self.sampleRate = sampleRate
        file = try AtomicFile(directory: directory, name: id + ".opus")
        writer = try OggOpusWriter(
            file: file, format: AudioFormat(sampleRate: sampleRate, channels: 2), settings: options.opus, tags: tags,
            serial: serial)
        let frameSamples = writer.frameSamples
        // Room for the jitter window, the largest tolerated timestamp skew and a packet.
        let seconds = options.jitterWindow + options.maxTimestampSkew + 0.5
        let frames = Int((seconds * Double(sampleRate) / Double(frameSamples)).rounded(.up))
        mixer = CallMixer(channels: 2, frameSamples: frameSamples, capacityFrames: frames)
        jitterWindowSamples = Int64(options.jitterWindow * Double(sampleRate))
    }

    /// Places decoded audio of `channel` at timeline `position`.
    /// - Returns: the number of samples dropped as late.
    func place(channel: Int, at position: Int64, samples: UnsafeBufferPointer<Int16>) throws -> Int {
        let writer = self.writer
        return try mixer.write(channel: channel, at: position, samples: samples) { try writer.write(frame: $0) }
    }

    /// Encodes every frame older than the jitter window at capture time `now`,
    /// so memory stays flat however long the call.
    func settle(at now: MediaTime) throws {
        let writer = self.writer
        let settled = now.samples(since: origin, rate: sampleRate) - jitterWindowSamples
        try mixer.advance(to: settled) { try writer.write(frame: $0) }
    }

    /// Encodes what is left, ends the Ogg stream and syncs the file.
    func finish() throws -> Finished {
        let writer = self.writer
        let total = try mixer.finish { try writer.write(frame: $0) }
        try writer.finish(totalSamples: total)
        try file.sync()
        return Finished(audio: file, samples: total)
    }

    /// Drops the recording; its temporary file is removed.
    func discard() {
        file.discard()
    }
}
