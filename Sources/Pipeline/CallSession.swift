import CallrecCore
import Catalog
import Codecs
import Output
import RTP
import SIP

/// One call in flight: its description, its legs (input) and its recording
/// (output). The recording is opened at the first RTP packet; a call that
/// never carries media writes nothing.
final class CallSession {
    var description: CallDescription
    /// Whether the call came from signalling (false: paired from RTP alone).
    let signalled: Bool
    /// When the call last saw a packet of its own (SIP or RTP), in capture time.
    var lastActivity: MediaTime
    /// What the recording rules decided when the call was identified; a skipped call is never decoded.
    var decision = RuleDecision.unmatched

    private let options: ConvertOptions
    private let diagnostics: Diagnostics
    private var legs: [Leg?] = [nil, nil]
    private var output: RecordingOutput?
    /// Decoded audio of one packet; sized for the largest datagram at 2 samples per byte.
    private var scratch = [Int16](repeating: 0, count: 65_536 * 2)
    private var unsupportedNoted = false

    init(description: CallDescription, signalled: Bool, options: ConvertOptions, diagnostics: Diagnostics, at time: MediaTime) {
        self.description = description
        self.signalled = signalled
        self.options = options
        self.diagnostics = diagnostics
        self.lastActivity = time
    }

    /// Whether any audio has been placed.
    var hasMedia: Bool { output != nil }

    /// Takes one RTP packet sent by `side`.
    func receive(_ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, at time: MediaTime) throws {
        lastActivity = time
        guard decision.records else { return }
        let channel = side.rawValue
        if legs[channel]?.payloadType != header.payloadType {
            guard let format = format(for: header.payloadType, sentBy: side) else {
                diagnostics.count(.rtpUnsupportedPayload)
                return
            }
            if output == nil { try open(at: time, firstCodec: format.codec) }
            if legs[channel] == nil {
                legs[channel] = Leg(
                    header: header, codec: format.codec, clockRate: format.clockRate, outputRate: output!.sampleRate,
                    maxSkew: options.maxTimestampSkew)
            } else {
                legs[channel]!.change(to: header, codec: format.codec, clockRate: format.clockRate)
            }
        }
        guard let output else { return }
        let (position, count) = scratch.withUnsafeMutableBufferPointer { out in
            legs[channel]!.receive(header, payload: payload, at: time, origin: output.origin, into: out)
        }
        let late = try scratch.withUnsafeBufferPointer { decoded in
            try output.place(channel: channel, at: position, samples: UnsafeBufferPointer(rebasing: decoded[0..<count]))
        }
        if late > 0 {
            legs[channel]!.latePackets += 1
            diagnostics.count(.rtpLate)
        }
        try output.settle(at: time)
    }

    /// The codec and clock rate of `payloadType` as `side` sends it: from the
    /// receiving side's SDP, else the sender's, else the static table.
    private func format(for payloadType: UInt8, sentBy side: CallSide) -> (codec: AudioCodec, clockRate: Int)? {
        for media in [description.media(of: side.opposite)?.media, description.media(of: side)?.media] {
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

    /// The output rate: the highest rate among the codecs either side offered.
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
        var tags: [(String, String)] = [
            ("CALL_ID", RecordingNaming.bounded(description.callID)),
            ("DIRECTION", "unknown"),
            ("START", time.iso8601),
        ]
        if let caller = description.callerParty { tags.append(("CALLER", RecordingNaming.bounded(caller))) }
        if let callee = description.calleeParty { tags.append(("CALLEE", RecordingNaming.bounded(callee))) }
        output = try RecordingOutput(
            id: RecordingNaming.recordingID(start: time, callID: description.callID),
            directory: options.outputDirectory + "/" + RecordingNaming.dateFolder(time),
            origin: time, sampleRate: outputRate(firstCodec: firstCodec), tags: tags,
            serial: Int32(bitPattern: StableHash.fnv1a32(description.callID.utf8)), options: options)
    }

    /// Finishes the recording and syncs its files under their temporary
    /// names, audio first and the index last; `RecordingCommitter` enters
    /// them in the catalog and renames them into place. Returns nil when the
    /// call had no media.
    func finish(reason: CallEndReason) throws -> FinishedRecording? {
        guard let output else { return nil }
        self.output = nil
        let finished = try output.finish()
        let index = callIndex(id: output.id, origin: output.origin, sampleRate: output.sampleRate, samples: finished.samples, reason: reason)
        let indexFile = try AtomicFile(directory: output.directory, name: output.id + ".json")
        try indexFile.write(try index.encoded())
        try indexFile.sync()
        let summary = RecordingSummary(
            id: output.id, audioPath: finished.audio.path, indexPath: indexFile.path, index: index,
            audioBytes: finished.audio.size, start: output.origin)
        return FinishedRecording(summary: summary, files: [finished.audio, indexFile])
    }

    private func callIndex(id: String, origin: MediaTime, sampleRate: Int, samples: Int64, reason: CallEndReason) -> CallIndex {
        let channels = CallSide.allCases.map { side -> CallIndex.Channel in
            let leg = legs[side.rawValue]
            return CallIndex.Channel(
                speaker: side.name, codec: leg?.codec.rawValue,
                ssrcs: leg?.streams.map { RTPHeader.format(ssrc: $0.ssrc) } ?? [],
                packets: leg?.packets ?? 0, lost: leg?.lost ?? 0, duplicates: leg?.duplicates ?? 0,
                late: leg?.latePackets ?? 0, jitterMs: ((leg?.maxJitter ?? 0) * 1e5).rounded() / 100)
        }
        return CallIndex(
            id: id, callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
            direction: "unknown", start: origin.iso8601,
            durationS: (Double(samples) / Double(sampleRate) * 1000).rounded() / 1000,
            sampleRate: sampleRate, endReason: reason.name, audio: id + ".opus", channels: channels)
    }

    /// Drops the recording without committing anything (its temporary file is removed).
    func discard() {
        output?.discard()
        output = nil
    }
}
