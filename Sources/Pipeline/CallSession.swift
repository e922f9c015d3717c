import CallrecCore
import Codecs
import DSP
import Output
import RTP
import SIP

/// One call in flight: its description, its legs, and the recording being
/// written. Files are opened at the first RTP packet; a call that never
/// carries media writes nothing.
final class CallSession {
    var description: CallDescription
    /// Whether the call came from signalling (false: paired from RTP alone).
    let signalled: Bool
    /// When the call last saw a packet of its own (SIP or RTP), in capture time.
    var lastActivity: MediaTime

    private let options: ConvertOptions
    private let diagnostics: Diagnostics
    /// Time zero of the recording: the first RTP packet of either leg.
    private(set) var origin: MediaTime?
    private var legs: [Leg?] = [nil, nil]
    private var codecs: [AudioCodec?] = [nil, nil]
    private var recording: OpenRecording?
    private var scratch: [Int16]
    private var unsupportedNoted = false

    /// The file and encoder of a call that has media. A class, so the mixer's
    /// buffers are mutated in place rather than copied per packet.
    final class OpenRecording {
        let id: String
        let directory: String
        let file: AtomicFile
        let writer: OggOpusWriter
        var mixer: CallMixer
        let sampleRate: Int

        init(id: String, directory: String, file: AtomicFile, writer: OggOpusWriter, mixer: CallMixer, sampleRate: Int) {
            self.id = id
            self.directory = directory
            self.file = file
            self.writer = writer
            self.mixer = mixer
            self.sampleRate = sampleRate
        }
    }

    init(description: CallDescription, signalled: Bool, options: ConvertOptions, diagnostics: Diagnostics, at time: MediaTime) {
        self.description = description
        self.signalled = signalled
        self.options = options
        self.diagnostics = diagnostics
        self.lastActivity = time
        // Largest RTP payload in a datagram, decoded at up to 2 samples per byte.
        scratch = [Int16](repeating: 0, count: 65_536 * 2)
    }

    /// Whether any audio has been placed.
    var hasMedia: Bool { recording != nil }

    /// Takes one RTP packet sent by `side`.
    func receive(_ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, at time: MediaTime) throws {
        lastActivity = time
        guard let format = format(for: header.payloadType, sentBy: side) else {
            diagnostics.count(.rtpUnsupportedPayload)
            return
        }
        let channel = side.rawValue
        if origin == nil { origin = time }
        if recording == nil { try open(at: time, firstCodec: format.codec) }
        guard let open = recording else { return }
        if legs[channel] == nil || codecs[channel] != format.codec {
            var leg = Leg(
                codec: format.codec, ssrc: header.ssrc, clockRate: format.clockRate, outputRate: open.sampleRate,
                maxSkew: options.maxTimestampSkew)
            if let old = legs[channel] {
                // A codec change mid-call (re-INVITE): keep the statistics, re-anchor.
                leg.streams = old.streams
                leg.latePackets = old.latePackets
            }
            legs[channel] = leg
            codecs[channel] = format.codec
        }
        legs[channel]!.count(header, at: time, clockRate: format.clockRate)
        let position = legs[channel]!.timeline.position(timestamp: header.timestamp, arrival: time, origin: origin!)
        let samples = scratch.withUnsafeMutableBufferPointer { out in
            legs[channel]!.decoder.decode(payload, into: out)
        }
        let late = try scratch.withUnsafeBufferPointer { decoded in
            try open.mixer.write(channel: channel, at: position, samples: UnsafeBufferPointer(rebasing: decoded[0..<samples])) {
                try open.writer.write(frame: $0)
            }
        }
        if late > 0 {
            legs[channel]!.latePackets += 1
            diagnostics.count(.rtpLate)
        }
        // Frames older than the jitter window are final: encode them now so memory stays flat.
        let now = time.samples(since: origin!, rate: open.sampleRate)
        let settled = now - Int64(options.jitterWindow * Double(open.sampleRate))
        try open.mixer.advance(to: settled) { try open.writer.write(frame: $0) }
    }

    /// The codec and clock rate of `payloadType` as `side` sends it: from the
    /// receiving side's SDP, else the sender's, else the static table.
    private func format(for payloadType: UInt8, sentBy side: CallSide) -> (codec: AudioCodec, clockRate: Int)? {
        let maps = [description.media(of: side.opposite)?.media, description.media(of: side)?.media]
        for media in maps {
            if let map = media?.format(for: payloadType) {
                if let codec = AudioCodec(encoding: map.encoding) { return (codec, map.clockRate) }
                noteUnsupported(map.encoding, payloadType)
                return nil
            }
        }
        if let codec = AudioCodec(staticPayloadType: payloadType) { return (codec, 8000) }
        noteUnsupported(nil, payloadType)
        return nil
    }

    private func noteUnsupported(_ encoding: String?, _ payloadType: UInt8) {
        guard !unsupportedNoted else { return }
        unsupportedNoted = true
        let name = encoding.map { "\($0) (payload type \(payloadType))" } ?? "payload type \(payloadType)"
        diagnostics.note("call \(RecordingNaming.safeForDisplay(description.callID)): \(name) is not decoded; those packets are skipped")
    }

    /// The output rate: the highest rate among the codecs both sides offered.
    private func outputRate(firstCodec: AudioCodec) -> Int {
        var rate = firstCodec.sampleRate
        for side in CallSide.allCases {
            guard let media = description.media(of: side)?.media else { continue }
            for pt in media.payloadTypes {
                if let map = media.format(for: pt), let codec = AudioCodec(encoding: map.encoding) {
                    rate = max(rate, codec.sampleRate)
                }
            }
        }
        return rate
    }

    private func open(at time: MediaTime, firstCodec: AudioCodec) throws {
        let rate = outputRate(firstCodec: firstCodec)
        let id = RecordingNaming.recordingID(start: time, callID: description.callID)
        let directory = options.outputDirectory + "/" + RecordingNaming.dateFolder(time)
        let file = try AtomicFile(directory: directory, name: id + ".opus")
        var tags: [(String, String)] = [
            ("CALL_ID", RecordingNaming.bounded(description.callID)),
            ("DIRECTION", "unknown"),
            ("START", time.iso8601),
        ]
        if let caller = description.callerParty { tags.append(("CALLER", RecordingNaming.bounded(caller))) }
        if let callee = description.calleeParty { tags.append(("CALLEE", RecordingNaming.bounded(callee))) }
        let format = AudioFormat(sampleRate: rate, channels: 2)
        let writer = try OggOpusWriter(
            file: file, format: format, settings: options.opus, tags: tags,
            serial: Int32(bitPattern: StableHash.fnv1a32(description.callID.utf8)))
        let frameSamples = writer.frameSamples
        // Room for the jitter window, the largest tolerated timestamp skew and a packet.
        let seconds = options.jitterWindow + options.maxTimestampSkew + 0.5
        let frames = Int((seconds * Double(rate) / Double(frameSamples)).rounded(.up))
        let mixer = CallMixer(channels: 2, frameSamples: frameSamples, capacityFrames: frames)
        recording = OpenRecording(id: id, directory: directory, file: file, writer: writer, mixer: mixer, sampleRate: rate)
    }

    /// Finishes the recording and commits its files: audio first, the index
    /// last (the index marks a complete recording). Returns nil when the
    /// call had no media.
    func finish(reason: CallEndReason) throws -> RecordingSummary? {
        guard let open = recording, let origin else { return nil }
        recording = nil
        let total = try open.mixer.finish { try open.writer.write(frame: $0) }
        try open.writer.finish(totalSamples: total)
        try open.file.sync()

        let channels = CallSide.allCases.map { side -> CallIndex.Channel in
            let leg = legs[side.rawValue]
            return CallIndex.Channel(
                speaker: side.name, codec: codecs[side.rawValue]?.rawValue,
                ssrcs: leg?.streams.map { RTPHeader.format(ssrc: $0.ssrc) } ?? [],
                packets: leg?.packets ?? 0, lost: leg?.lost ?? 0, duplicates: leg?.duplicates ?? 0,
                late: leg?.latePackets ?? 0, jitterMs: ((leg?.maxJitter ?? 0) * 1e5).rounded() / 100)
        }
        let index = CallIndex(
            id: open.id, callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
            direction: "unknown", start: origin.iso8601,
            durationS: (Double(total) / Double(open.sampleRate) * 1000).rounded() / 1000,
            sampleRate: open.sampleRate, endReason: reason.name, audio: open.id + ".opus", channels: channels)
        let indexFile = try AtomicFile(directory: open.directory, name: open.id + ".json")
        try indexFile.write(try index.encoded())
        try indexFile.sync()
        try open.file.publish()
        try indexFile.publish()
        return RecordingSummary(
            id: open.id, audioPath: open.file.path, indexPath: indexFile.path, index: index,
            audioBytes: open.file.size, start: origin)
    }

    /// Drops the recording without committing anything (its temporary file is removed).
    func discard() {
        recording?.file.discard()
        recording = nil
    }
}
