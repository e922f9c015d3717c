import CallrecCore
import Codecs
import Output
import RTP
import SIP

/// One call in flight: its description, its legs (input) and its recording
/// (output). The recording is opened at the first audio packet (or RFC 4733
/// event); a call that never carries either writes nothing.
package final class CallSession {
    package var description: CallDescription {
        didSet { descriptionVersion += 1 }
    }
    /// Counts the changes of `description` (a re-INVITE): what a payload type means is cached
    /// per leg and read again after one.
    private var descriptionVersion = 0
    /// Whether the call came from signalling (false: paired from RTP alone).
    package let signalled: Bool

    private let options: ConvertOptions
    /// Where the call's counts go (with worker threads, the worker's own).
    package let diagnostics: Diagnostics
    /// The worker thread the call runs on (`CallWorkers`).
    package var worker = 0
    /// What stopped the call's recording on a worker thread (a full disk
    /// given up, an I/O error): the rest of its packets are skipped and the
    /// call is reported as failed when it ends.
    package var failure: (any Error)? = nil
    /// The caller's and the callee's leg. Two properties rather than an array, so a leg is
    /// only ever accessed in place (an array element read would copy it per packet).
    private var callerLeg: Leg?
    private var calleeLeg: Leg?
    /// Each party's extra stream: a second source sending its leg beside the
    /// own one (`LegSources` in the router), decoded on its own and mixed into the party's channel.
    private var callerExtra: Leg?
    private var calleeExtra: Leg?
    /// What the router knows of each leg's sources (set as the call ends), for the index.
    package var legSources: [LegSourceFacts] = [LegSourceFacts(), LegSourceFacts()]
    private var output: RecordingOutput?
    private var unsupportedNoted = false
    private var narrowedNoted = false
    /// Per party, the media it sent that was not decoded (an unsupported codec): its time is silence in the recording.
    private var undecoded: [[UndecodedSpan]] = [[], []]

    /// Per party, when the first and the last of its media that reached the
    /// timeline arrived (audio, comfort noise or RFC 4733 events, of its own
    /// or its extra stream): what `LegCoverage` holds against the signalling.
    private var mediaSpan: [MediaSpan?] = [nil, nil]

    /// A run of packets of one codec callrec does not decode, on one leg.
    struct UndecodedSpan {
        var codec: String
        var first: MediaTime
        var last: MediaTime
        var packets: Int
    }

    /// Spans kept at most per leg (a leg that switches back and forth more often extends its last).
    static let maxUndecodedSpans = 16
    /// A silence in an undecoded run longer than this starts a new span.
    static let undecodedGap = 5.0

    package init(description: CallDescription, signalled: Bool, options: ConvertOptions, diagnostics: Diagnostics) {
        self.description = description
        self.signalled = signalled
        self.options = options
        self.diagnostics = diagnostics
    }

    /// Takes one RTP packet sent by `side`: of its own stream (`stream` 0) or its extra stream (1),
    /// on `path` (the router's number for the packet's source and destination: statistics are kept
    /// per SSRC and path, as tshark keeps them).
    package func receive(
        _ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, stream: Int = 0, path: Int = 0, at time: MediaTime
    ) throws {
        // The mixer's input: the party's channel, or its extra input (summed into that channel).
        let channel = side.rawValue + 2 * min(stream, 1)
        let pt = Int(header.payloadType)
        // The leg's cached meaning, unless the description changed since it was read.
        let version = descriptionVersion
        let cached = withLeg(channel) { leg in leg.flatMap { $0.kindVersions[pt] == version ? $0.kinds[pt] : nil } }
        let kind = cached ?? kind(of: header.payloadType, sentBy: side, payload: payload)
        if case .unsupported = kind { diagnostics.count(.rtpUnsupportedPayload) }
        if output == nil {
            // The recording starts with the first audio of either leg, or with the
            // first RFC 4733 event of a call that sends digits before any audio (or
            // no audio at all): its digits are kept, on silence.
            switch kind {
            case .audio(let codec, _): try open(at: time, firstCodec: codec)
            case .telephoneEvent: try open(at: time, firstCodec: sdpCodec(sentBy: side) ?? .pcmu)
            default: return
            }
        }
        guard let output else { return }
        if case .audio(let codec, _) = kind, codec.sampleRate > output.sampleRate, options.outputRate == nil, !narrowedNoted {
            // A wider codec than any SDP named before the first audio: the rate cannot change mid-call.
            narrowedNoted = true
            diagnostics.note(
                "call \(RecordingNaming.safeForDisplay(description.callID)): \(codec.rawValue) audio is recorded at "
                    + "\(output.sampleRate) Hz, the rate set by the call's first audio (no SDP before it named \(codec.rawValue)); "
                    + "--rate \(codec.sampleRate) keeps such calls whole")
        }
        let arrival = time.samples(since: output.origin, rate: output.sampleRate)
        let diagnostics = self.diagnostics
        let maxLag = options.maxTimestampSkew
        let correction = options.driftCorrection
        // Non-escaping closures: no allocation per packet.
        try withLeg(channel) { leg in
            if leg == nil { leg = Leg(outputRate: output.sampleRate, maxLag: maxLag, correction: correction) }
            if leg!.kinds[pt] != kind {
                if leg!.kinds[pt] != nil {
                    // The payload type means another codec now: what is held was sent under the
                    // old meaning, so it is played first (placed by its timestamps as always).
                    try leg!.playout(until: Int64.max) { position, samples, rate, stretch in
                        try Self.place(samples, at: position, rate: rate, stretch: stretch, channel: channel, output: output, diagnostics: diagnostics)
                    }
                }
                leg!.kinds[pt] = kind
            }
            leg!.kindVersions[pt] = version
            try leg!.receive(header, payload: payload, at: time, arrival: arrival, kind: kind, path: path) { position, samples, rate, stretch in
                try Self.place(samples, at: position, rate: rate, stretch: stretch, channel: channel, output: output, diagnostics: diagnostics)
            }
        }
        switch kind {
        case .audio, .comfortNoise, .telephoneEvent:
            // The call ledger's only work per packet (issue 16): one comparison and store.
            if mediaSpan[side.rawValue] == nil {
                mediaSpan[side.rawValue] = MediaSpan(at: time)
            } else {
                mediaSpan[side.rawValue]!.extend(to: time)
            }
        default:
            break
        }
        switch kind {
        case .unsupported(let encoding):
            // Media that is not decoded keeps its time: silence, listed in the index.
            noteUndecoded(encoding ?? "PT \(pt)", from: side, at: time)
            try output.keep(from: arrival, to: arrival + Int64(output.sampleRate / 50))
        case .telephoneEvent:
            // A digit keeps its time (on a leg that sends no audio beside it, nothing else would).
            try output.keep(from: arrival, to: arrival + Int64(output.sampleRate / 50))
        default:
            break
        }
        // Every packet that arrived a jitter window ago is final: play it out of both legs. The
        // recording is final up to there, less the lag of a leg whose audio is placed behind its
        // arrival (a queue under congestion: its timestamps say where the audio belongs).
        let deadline = arrival - output.jitterWindow
        var settled = deadline
        for c in 0..<4 {
            try withLeg(c) { leg in
                try leg?.playout(until: deadline) { position, samples, rate, stretch in
                    try Self.place(samples, at: position, rate: rate, stretch: stretch, channel: c, output: output, diagnostics: diagnostics)
                }
                if let lag = leg?.lag { settled = min(settled, deadline - lag) }
            }
        }
        try output.settle(upTo: settled)
    }

    /// Takes an RTCP sender report of `side`'s sender (its NTP/RTP pair): the
    /// leg whose stream has its SSRC, the own or the extra one, takes it.
    package func senderReport(_ report: RTCPSenderReport, from side: CallSide) {
        withLeg(side.rawValue) { $0?.senderReport(report) }
        withLeg(side.rawValue + 2) { $0?.senderReport(report) }
    }

    /// Runs `body` on the leg of mixer input `channel` in place (0, 1: each
    /// party's own stream; 2, 3: each party's extra stream).
    private func withLeg<R>(_ channel: Int, _ body: (inout Leg?) throws -> R) rethrows -> R {
        switch channel {
        case 0: try body(&callerLeg)
        case 1: try body(&calleeLeg)
        case 2: try body(&callerExtra)
        default: try body(&calleeExtra)
        }
    }

    /// Writes a leg's played audio into the recording; audio behind what is already encoded is counted.
    private static func place(
        _ samples: UnsafeBufferPointer<Int16>, at position: Int64, rate: Int, stretch: Double, channel: Int, output: RecordingOutput,
        diagnostics: Diagnostics
    ) throws -> Int {
        let late = try output.place(channel: channel, at: position, samples: samples, sourceRate: rate, stretch: stretch)
        if late > 0 { diagnostics.count(.rtpLate) }
        return late
    }

    /// What `payloadType` means as `side` sends it: from the receiving
    /// side's SDP, else the sender's, else RFC 3551's static table.
    private func kind(of payloadType: UInt8, sentBy side: CallSide, payload: UnsafeRawBufferPointer) -> PayloadKind {
        if let map = description.media(of: side.opposite)?.media.format(for: payloadType)
            ?? description.media(of: side)?.media.format(for: payloadType) {
            if let codec = AudioCodec(encoding: map.encoding) { return .audio(codec, clockRate: map.clockRate) }
            switch map.encoding {
            case "TELEPHONE-EVENT": return .telephoneEvent(clockRate: map.clockRate)
            case "CN": return .comfortNoise
            default:
                noteUnsupported(map.encoding, payloadType)
                return .unsupported(map.encoding)
            }
        }
        if let codec = AudioCodec(staticPayloadType: payloadType) { return .audio(codec, clockRate: 8000) }
        if payloadType == 13 { return .comfortNoise }
        if (96...127).contains(payloadType), Self.looksLikeTelephoneEvent(payload) {
            // No SDP says what this dynamic type is (a call without signalling): its
            // payload has RFC 4733's shape, as tshark's RTP event heuristic assumes too.
            return .telephoneEvent(clockRate: 8000)
        }
        noteUnsupported(nil, payloadType)
        return .unsupported(nil)
    }

    /// Whether a payload has the shape of RFC 4733 events: whole 4-byte
    /// blocks, a DTMF event code, the reserved bit clear, a volume in range.
    static func looksLikeTelephoneEvent(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= 4, payload.count % 4 == 0, payload.count <= 64 else { return false }
        return stride(from: 0, to: payload.count, by: 4).allSatisfy { k in
            payload[k] <= 16 && payload[k + 1] & 0x40 == 0 && payload[k + 1] & 0x3F <= 63
        }
    }

    /// The first audio codec the SDP gives `side`'s leg (the receiver's, else the sender's), if any.
    private func sdpCodec(sentBy side: CallSide) -> AudioCodec? {
        for media in [description.media(of: side.opposite)?.media, description.media(of: side)?.media].compactMap({ $0 }) {
            if let codec = media.payloadTypes.lazy.compactMap({ media.format(for: $0).flatMap { AudioCodec(encoding: $0.encoding) } }).first {
                return codec
            }
        }
        return nil
    }

    /// Counts a packet of `side`'s leg that is not decoded into the leg's undecoded spans.
    private func noteUndecoded(_ codec: String, from side: CallSide, at time: MediaTime) {
        var spans = undecoded[side.rawValue]
        defer { undecoded[side.rawValue] = spans }
        if let last = spans.last,
           (last.codec == codec && time.seconds(since: last.last) <= Self.undecodedGap) || spans.count == Self.maxUndecodedSpans {
            spans[spans.count - 1].last = max(last.last, time)
            spans[spans.count - 1].packets += 1
            return
        }
        spans.append(UndecodedSpan(codec: codec, first: time, last: time, packets: 1))
    }

    private func noteUnsupported(_ encoding: String?, _ payloadType: UInt8) {
        guard !unsupportedNoted else { return }
        unsupportedNoted = true
        let name = encoding.map { "\($0) (payload type \(payloadType))" } ?? "payload type \(payloadType)"
        diagnostics.note("call \(RecordingNaming.safeForDisplay(description.callID)): \(name) is not decoded; those packets are skipped")
    }

    /// The codecs the call may carry: every codec either side's SDP lists, and
    /// always the codec of the first packet. Not only the negotiated ones (those
    /// both list): an answer often names the one codec it picks, and a
    /// re-INVITE can later move the call to another the offer named (a PBX
    /// that bridges a PCMU announcement, then a G.722 phone). The rate is fixed
    /// at the first audio, so it has to cover what may follow.
    private func possibleCodecs(firstCodec: AudioCodec) -> Set<AudioCodec> {
        var codecs: Set<AudioCodec> = [firstCodec]
        for side in CallSide.allCases {
            guard let media = description.media(of: side)?.media else { continue }
            for pt in media.payloadTypes {
                if let codec = media.format(for: pt).flatMap({ AudioCodec(encoding: $0.encoding) }) { codecs.insert(codec) }
            }
        }
        return codecs
    }

    /// The recording's rate: `--rate` when given, else the highest rate among
    /// the codecs the call may carry (8000 for G.711, 16000 with G.722).
    private func outputRate(firstCodec: AudioCodec) -> Int {
        options.outputRate ?? possibleCodecs(firstCodec: firstCodec).map(\.sampleRate).max() ?? firstCodec.sampleRate
    }

    private func open(at time: MediaTime, firstCodec: AudioCodec) throws {
        var tags: [(String, String)] = [
            ("CALL_ID", RecordingNaming.bounded(description.callID)),
            ("DIRECTION", description.direction.rawValue),
            // How the call was found, for an index rebuilt from the file alone (a recording salvaged after a crash).
            ("SIGNALLING", signalled ? "sip" : "none"),
        ]
        if let caller = description.callerParty { tags.append(("CALLER", RecordingNaming.bounded(caller))) }
        if let callee = description.calleeParty { tags.append(("CALLEE", RecordingNaming.bounded(callee))) }
        // Its recipients as the catalog stands when the recording starts; settled again at commit.
        let seal = try options.sealer?.seal(caller: description.callerParty, callee: description.calleeParty)
        output = RecordingOutput(
            callID: description.callID, origin: time, sampleRate: outputRate(firstCodec: firstCodec), tags: tags,
            channelNames: CallSide.allCases.map(\.name),
            audioBandwidth: possibleCodecs(firstCodec: firstCodec).map(\.audioBandwidth).max() ?? firstCodec.audioBandwidth,
            options: options, seal: seal)
    }

    /// Finishes the recording and syncs its files under their temporary
    /// names, audio first and the index last; `RecordingCommitter` enters
    /// them in the catalog and renames them into place. Returns nil when the
    /// call had no media.
    package func finish(reason: CallEndReason) throws -> FinishedRecording? {
        guard let output else { return nil }
        self.output = nil
        let diagnostics = self.diagnostics
        for c in 0..<4 {
            try withLeg(c) { leg in
                try leg?.drain { position, samples, rate, stretch in
                    try Self.place(samples, at: position, rate: rate, stretch: stretch, channel: c, output: output, diagnostics: diagnostics)
                }
            }
        }
        guard let finished = try output.finish() else { return nil }
        let index = callIndex(finished, sampleRate: output.sampleRate, reason: reason)
        let indexFile = try output.seal.file(directory: finished.directory, name: finished.id + ".json", space: options.diskSpace)
        try indexFile.write(try index.encoded())
        try indexFile.sync()
        var summary = RecordingSummary(
            id: finished.id, audioFiles: finished.files.map { RecordingSummary.AudioFile(path: $0.path, bytes: $0.size) },
            indexPath: indexFile.path, index: index, start: finished.start)
        // Sealed from here on (what the JSON lines show of it follows): the recipients are settled at commit.
        summary.sealedTo = output.seal?.sealedTo
        summary.legCoverage = legCoverage()
        // Audio first, then the peaks, the index last: a recording whose index exists is complete.
        return FinishedRecording(summary: summary, files: finished.files + finished.analysis.peaks + [indexFile], seal: output.seal)
    }

    private func callIndex(_ finished: RecordingOutput.Finished, sampleRate: Int, reason: CallEndReason) -> CallIndex {
        let id = finished.id
        let names = finished.files.map { String($0.path.split(separator: "/").last ?? "") }
        let channels = CallSide.allCases.map { side -> CallIndex.Channel in
            let leg = side == .caller ? callerLeg : calleeLeg
            var channel = CallIndex.Channel(
                speaker: side.name, codec: leg?.codec?.rawValue,
                ssrcs: leg?.ssrcs.map { RTPHeader.format(ssrc: $0) } ?? [],
                packets: leg?.packets ?? 0, lost: leg?.lost ?? 0, duplicates: leg?.duplicates ?? 0,
                late: leg?.latePackets ?? 0, jitterMs: ((leg?.maxJitter ?? 0) * 1e5).rounded() / 100)
            channel.concealedMs = Int(((leg?.concealedSeconds ?? 0) * 1000).rounded())
            channel.timestampJumps = leg?.timestampJumps ?? 0
            if let changes = leg?.codecChanges, !changes.isEmpty {
                channel.codecs = changes.map { change in
                    CallIndex.CodecSpan(
                        codec: change.codec.rawValue,
                        fromS: max(0, Self.round(Double(change.position - finished.startPosition) / Double(sampleRate))))
                }
            }
            // Only a drift that was significant, and so corrected.
            if let drift = leg?.drift, drift != 0 { channel.driftPPM = Int((drift * 1e6).rounded()) }
            channel.speech = finished.analysis.speech[side.rawValue].map { [Self.round($0.start), Self.round($0.end)] }
            channel.talkTimeS = Self.round(finished.analysis.talkTime[side.rawValue])
            let facts = legSources[side.rawValue]
            if let extra = side == .caller ? callerExtra : calleeExtra {
                channel.extraStream = CallIndex.ExtraStream(
                    source: facts.extraSource, ssrcs: extra.ssrcs.map { RTPHeader.format(ssrc: $0) },
                    codec: extra.codec?.rawValue, packets: extra.packets, lost: extra.lost,
                    jitterMs: (extra.maxJitter * 1e5).rounded() / 100)
                channel.extraStream!.timestampJumps = extra.timestampJumps
                if extra.drift != 0 { channel.extraStream!.driftPPM = Int((extra.drift * 1e6).rounded()) }
            }
            if !facts.dropped.isEmpty {
                channel.droppedStreams = facts.dropped.map {
                    CallIndex.DroppedStream(source: $0.source, ssrc: RTPHeader.format(ssrc: $0.ssrc), packets: $0.packets)
                }
            }
            if facts.relayCopies > 0 { channel.relayCopies = facts.relayCopies }
            let spans = undecoded[side.rawValue]
            if !spans.isEmpty {
                channel.undecoded = spans.map {
                    CallIndex.UndecodedSpan(
                        codec: $0.codec, fromS: Self.round($0.first.seconds(since: finished.start)),
                        toS: Self.round($0.last.seconds(since: finished.start) + 0.02), packets: $0.packets)
                }
            }
            if let ciphertext = facts.ciphertext {
                // Received on the leg, though not decoded.
                channel.packets += ciphertext.packets
                channel.encryptedMedia = CallIndex.EncryptedMedia(
                    packets: ciphertext.packets, fromS: Self.round(ciphertext.first.seconds(since: finished.start)),
                    toS: Self.round(ciphertext.last.seconds(since: finished.start)), entropyBits: Self.round(ciphertext.entropy))
            }
            return channel
        }
        var dtmf: [CallIndex.DTMF] = []
        for side in CallSide.allCases {
            let own = (side == .caller ? callerLeg : calleeLeg)?.digits ?? []
            let extra = (side == .caller ? callerExtra : calleeExtra)?.digits ?? []
            for digit in own + extra {
                dtmf.append(CallIndex.DTMF(
                    channel: side.rawValue, digit: digit.symbol,
                    atS: (Double(digit.position - finished.startPosition) / Double(sampleRate) * 1000).rounded() / 1000,
                    durationS: (digit.duration * 1000).rounded() / 1000))
            }
        }
        dtmf.sort { ($0.atS, $0.channel) < ($1.atS, $1.channel) }
        var index = CallIndex(
            id: id, callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
            direction: description.direction.rawValue, signalling: signalled ? "sip" : "none", start: finished.start.iso8601,
            durationS: (Double(finished.samples) / Double(sampleRate) * 1000).rounded() / 1000,
            sampleRate: sampleRate, endReason: reason.name, finalStatus: reason.finalStatus, audio: names[0], channels: channels)
        index.dtmf = dtmf
        if let keying = legSources.lazy.compactMap(\.ciphertext).first?.keying {
            index.encrypted = true
            index.encryptionKeying = keying
        }
        index.format = finished.format.rawValue
        index.layout = finished.layout.rawValue
        index.audioFiles = names
        index.overtalkS = Self.round(finished.analysis.overtalk)
        index.longestSilenceS = Self.round(finished.analysis.longestSilence)
        index.silenceShare = (finished.analysis.silenceShare * 1000).rounded() / 1000
        index.peaks = finished.analysis.peaks.map { String($0.path.split(separator: "/").last!) }
        // Said only when some audio was encoded below the configured complexity (the live recorder under overload).
        if finished.complexity.contains(where: { $0.complexity != options.opus.complexity }) {
            index.opusComplexity = finished.complexity.map {
                CallIndex.ComplexitySpan(complexity: $0.complexity, fromS: max(0, Self.round(Double($0.fromSample) / Double(sampleRate))))
            }
        }
        return index
    }

    /// Each party's media against what the signalling expects of it: from
    /// the answer (a call without signalling, or one the capture joined
    /// mid-dialog: the first media of either leg)
    /// to the hang-up (else the last media of either leg). Nil for a
    /// signalled call nobody answered: nothing was expected of it.
    private func legCoverage() -> [LegCoverage]? {
        let spans = mediaSpan.compactMap { $0 }
        guard let firstMedia = spans.map(\.first).min(), let lastMedia = spans.map(\.last).max() else { return nil }
        let from: MediaTime
        if signalled && !description.joinedMidDialog {
            guard let answered = description.answeredAt else { return nil }
            from = answered
        } else {
            from = firstMedia
        }
        let to = max(description.endedAt ?? lastMedia, from)
        // While a party's SDP held the call (or sent one way) a leg may be silent by right: each
        // span, clipped to the expected one (one still open ends with the call).
        let holds = description.holds.compactMap { hold -> ClosedRange<MediaTime>? in
            let lower = max(hold.from, from)
            let upper = min(hold.to ?? to, to)
            return lower <= upper ? lower...upper : nil
        }
        return CallSide.allCases.map { side in
            LegCoverage(
                expectedFrom: from, expectedTo: to, mediaFrom: mediaSpan[side.rawValue]?.first, mediaTo: mediaSpan[side.rawValue]?.last,
                holds: holds)
        }
    }

    /// Seconds to the millisecond.
    private static func round(_ seconds: Double) -> Double {
        (seconds * 1000).rounded() / 1000
    }

    /// Drops the recording without committing anything (its temporary file is removed).
    package func discard() {
        output?.discard()
        output = nil
    }
}
