import CallrecCore
import DSP
import Output

/// The output side of one call: the mixer that puts both legs on one
/// timeline, and the encoder and file it feeds.
///
/// The mixer exists from the call's first audio packet; the file is created
/// when the first frame is final, because only then is the timeline's start
/// known (the first packet to arrive is not always the first sent), and the
/// recording's id and START tag come from it.
final class RecordingOutput {
    /// Samples per second of the recording.
    let sampleRate: Int
    /// The capture time positions are counted from (the call's first audio packet).
    let origin: MediaTime

    private let callID: String
    private let tags: [(String, String)]
    private let options: ConvertOptions
    private var mixer: CallMixer
    private let jitterWindowSamples: Int64
    private var open: Open?

    /// The file and encoder, once the first frame is final.
    private struct Open {
        var id: String
        var directory: String
        var start: MediaTime
        var startPosition: Int64
        var file: AtomicFile
        var writer: OggOpusWriter
        var analysis: CallAnalysis
    }

    /// A finished recording: synced under its temporary name until `publish()`.
    struct Finished {
        var id: String
        var directory: String
        /// Time zero of the recording.
        var start: MediaTime
        /// Time zero as a timeline position (samples from `origin`).
        var startPosition: Int64
        var audio: AtomicFile
        /// Samples per channel in the recording.
        var samples: Int64
        /// Speech, talk time and the peaks files.
        var analysis: CallAnalysis.Result
    }

    /// - Parameters:
    ///   - tags: OpusTags comments other than START (which comes from the timeline's start).
    init(callID: String, origin: MediaTime, sampleRate: Int, tags: [(String, String)], options: ConvertOptions) {
        self.callID = callID
        self.origin = origin
        self.sampleRate = sampleRate
        self.tags = tags
        self.options = options
        let frameSamples = sampleRate * options.opus.frameMilliseconds / 1000
        jitterWindowSamples = Int64(options.jitterWindow * Double(sampleRate))
        // Room for the lead before time zero, the jitter window, the largest tolerated skew and a packet.
        let seconds = 2 * options.jitterWindow + options.maxTimestampSkew + 0.5
        let frames = Int((seconds * Double(sampleRate) / Double(frameSamples)).rounded(.up))
        mixer = CallMixer(channels: 2, frameSamples: frameSamples, capacityFrames: frames, lead: Int(jitterWindowSamples))
    }

    /// Samples the legs hold back for late packets before audio is final.
    var jitterWindow: Int64 { jitterWindowSamples }

    /// Places decoded audio of `channel` at timeline `position`.
    /// - Returns: the number of samples dropped as late.
    func place(channel: Int, at position: Int64, samples: UnsafeBufferPointer<Int16>) throws -> Int {
        try mixer.write(channel: channel, at: position, samples: samples) { try encode($0, at: $1) }
    }

    /// Encodes every whole frame before timeline `position` (the legs have
    /// played everything before it), so memory stays flat however long the call.
    func settle(upTo position: Int64) throws {
        try mixer.advance(to: position) { try encode($0, at: $1) }
    }

    private func encode(_ frame: UnsafeBufferPointer<Int16>, at position: Int64) throws {
        // The first frame starts the timeline.
        if open == nil { try create(startPosition: position) }
        try open!.writer.write(frame: frame)
        try open!.analysis.process(frame)
    }

    /// Creates the file once the timeline's start is known.
    private func create(startPosition: Int64) throws {
        let start = origin.advanced(byNanoseconds: startPosition * 1_000_000_000 / Int64(sampleRate))
        let id = RecordingNaming.recordingID(start: start, callID: callID)
        let directory = options.outputDirectory + "/" + RecordingNaming.dateFolder(start)
        let file = try AtomicFile(directory: directory, name: id + ".opus")
        let writer = try OggOpusWriter(
            file: file, format: AudioFormat(sampleRate: sampleRate, channels: 2), settings: options.opus,
            tags: tags + [("START", start.iso8601)], serial: Int32(bitPattern: StableHash.fnv1a32(callID.utf8)))
        let analysis = try CallAnalysis(channels: 2, sampleRate: sampleRate, options: options.peaks, directory: directory, id: id)
        open = Open(
            id: id, directory: directory, start: start, startPosition: startPosition, file: file, writer: writer,
            analysis: analysis)
    }

    /// Encodes what is left, ends the Ogg stream and syncs the file.
    /// - Returns: nil when no audio was ever placed.
    func finish() throws -> Finished? {
        let total = try mixer.finish { try encode($0, at: $1) }
        guard let open, total > 0 else {
            discard()
            return nil
        }
        try open.writer.finish(totalSamples: total)
        try open.file.sync()
        let analysis = try open.analysis.finish(total: total)
        return Finished(
            id: open.id, directory: open.directory, start: open.start, startPosition: open.startPosition, audio: open.file,
            samples: total, analysis: analysis)
    }

    /// Drops the recording; its temporary file is removed.
    func discard() {
        open?.file.discard()
        open?.analysis.discard()
        open = nil
    }
}
