import CallMedia
import Catalog
import CallrecCore
import Evidence
import Foundation
import Output

/// Keeps what a crash left of a recording (a `PartialSalvager` for
/// `CatalogStore.recover` at the recorder's start and for `catalog verify`).
///
/// A call in flight is streamed to its hidden temporary files
/// (`.<id>.opus.partial`, the peaks and the index come at its end). After a
/// kill -9, a power loss or an out-of-memory kill, the recording's files
/// are one of:
///
/// - complete: the crash came between the files' sync and the catalog row.
///   The index is there and decodes, every file it names is there (the audio
///   ends with its end-of-stream page): the files are committed as they are;
/// - cut short: only the audio, written up to its last complete Ogg page.
///   The audio is closed there (`OggOpusSalvage`: end of stream set, granule
///   right, the torn page cut off), decoded (`OggOpusDecoder`) to rebuild the
///   speech segments and peaks exactly as a finished call's are made, and the
///   index is rebuilt from the file's OpusTags (Call-ID, parties, direction,
///   start) and the audio (duration, speech, talk time). It is committed with
///   `end_reason: crashed`. What the index cannot know from the audio (codec,
///   packet, loss and jitter counts, DTMF digits) is absent or zero.
///
/// At most one flush interval (`OpusSettings.flushInterval`) of encoded
/// audio is lost, plus what had not yet been encoded (the jitter window).
/// Only Ogg Opus audio is salvaged: a WAV or FLAC file's header is written at
/// its end, and a sealed file (`.age`) cannot be read without its key, so
/// those are removed as before (see README, "Crashes").
///
/// A recording whose id already has a catalog row is never committed again.
public struct RecordingSalvage: Sendable {
    /// How the rebuilt peaks are written.
    public var peaks: PeaksOptions
    /// Waits out a full disk; nil: fail at once.
    public var space: DiskSpaceWait?
    /// Signs the manifest of each recording salvaged (the folder's recorder;
    /// its manifest names the capture as unknown). Nil: none (tests only).
    public var signer: ManifestSigner?

    public init(peaks: PeaksOptions = .default, space: DiskSpaceWait? = nil, signer: ManifestSigner?) {
        self.peaks = peaks
        self.space = space
        self.signer = signer
    }

    /// The `PartialSalvager` for `CatalogStore.recover` and `verify`.
    public var salvager: PartialSalvager {
        { files, catalog in try self.salvage(files, into: catalog) }
    }

    /// Salvages the recording whose temporary files are `temporaryFiles`
    /// (relative to `catalog`'s folder, one recording id); see the type.
    public func salvage(_ temporaryFiles: [String], into catalog: CatalogStore) throws -> SalvagedRecording? {
        guard let first = temporaryFiles.first, let slash = first.lastIndex(of: "/") else { return nil }
        let day = String(first[..<slash])
        let directory = catalog.folder + "/" + day
        // Final names: `<id>.opus`, `<id>-caller.opus`, `<id>.peaks.json`, `<id>.json`.
        var names: [String: String] = [:]
        for relative in temporaryFiles {
            let name = relative[relative.index(after: relative.lastIndex(of: "/")!)...]
            guard name.hasPrefix("."), name.hasSuffix(AtomicFile.temporarySuffix) else { continue }
            names[String(name.dropFirst().dropLast(AtomicFile.temporarySuffix.count))] = relative
        }
        guard let id = names.keys.first.map({ String($0.prefix(25)) }), names.keys.allSatisfy({ $0.hasPrefix(id) }) else { return nil }
        // Nothing is committed twice: a recording of this id is already in the catalog.
        if try catalog.recording(id: id) != nil { return nil }
        if let complete = try commitComplete(id: id, names: names, directory: directory, catalog: catalog) { return complete }
        return try commitCut(id: id, names: names, directory: directory, catalog: catalog)
    }

    /// The files of a recording whose commit a crash interrupted before its row: committed as they are.
    private func commitComplete(id: String, names: [String: String], directory: String, catalog: CatalogStore) throws -> SalvagedRecording? {
        guard names[id + ".json"] != nil,
              let bytes = FileManager.default.contents(atPath: directory + "/." + id + ".json" + AtomicFile.temporarySuffix),
              let index = try? CallIndex.decode(Array(bytes)), index.id == id, let audio = index.audio,
              let start = ISO8601Time.parse(index.start)
        else { return nil }
        let audioNames = index.audioFiles ?? [audio]
        let ordered = audioNames + index.peaks + [id + ".json"]
        guard ordered.allSatisfy({ names[$0] != nil }) else { return nil }
        for name in audioNames where name.hasSuffix(".opus") {
            // The audio must end with its end-of-stream page: else it is cut, and salvaged as such.
            guard let closed = try OggOpusSalvage.close(path: directory + "/." + name + AtomicFile.temporarySuffix), closed.wasComplete
            else { return nil }
        }
        let files = try ordered.map { try AtomicFile(adopting: $0, in: directory, space: space) }
        let summary = RecordingSummary(
            id: id, audioFiles: zip(audioNames, files).map { RecordingSummary.AudioFile(path: $0.1.path, bytes: $0.1.size) },
            indexPath: files.last!.path, index: index, start: MediaTime(nanoseconds: Int64((start * 1000).rounded()) * 1_000_000))
        try commit(FinishedRecording(summary: summary, files: files), catalog: catalog)
        return SalvagedRecording(
            id: id, detail: "complete (\(Self.seconds(index.durationS)) of audio), its commit finished",
            consumed: ordered.compactMap { names[$0] })
    }

    /// The audio of a call in flight, cut by the crash: closed, indexed from its tags and audio, committed as `crashed`.
    private func commitCut(id: String, names: [String: String], directory: String, catalog: CatalogStore) throws -> SalvagedRecording? {
        // One stereo or mono file, or one per party (split), in channel order.
        let layout: String
        let audioNames: [String]
        if names[id + ".opus"] != nil {
            audioNames = [id + ".opus"]
            layout = ""
        } else if names[id + "-caller.opus"] != nil || names[id + "-callee.opus"] != nil {
            audioNames = [id + "-caller.opus", id + "-callee.opus"].filter { names[$0] != nil }
            layout = "split"
        } else {
            return nil
        }
        var closed: [OggOpusSalvage.Closed] = []
        for name in audioNames {
            guard let c = try OggOpusSalvage.close(path: directory + "/." + name + AtomicFile.temporarySuffix) else { return nil }
            closed.append(c)
        }
        let rate = closed[0].inputRate
        guard closed.allSatisfy({ $0.inputRate == rate }), let tagged = closed.first,
              let callID = tagged.tag("CALL_ID"), let startText = tagged.tag("START"), let startEpoch = ISO8601Time.parse(startText)
        else { return nil }
        let start = MediaTime(nanoseconds: Int64((startEpoch * 1000).rounded()) * 1_000_000)
        let fileLayout = layout.isEmpty ? (closed[0].channels == 1 ? "mono" : "stereo") : layout
        let channels = 2
        // The audio, decoded, through the same taps as a finished call's frames.
        let analysis = try CallAnalysis(channels: channels, sampleRate: rate, options: peaks, directory: directory, id: id, space: space)
        var total: Int64 = 0
        do {
            let decoded = try audioNames.map { name in
                var pcm: [Int16] = []
                var fileChannels = 1
                try OggOpusDecoder.decode(path: directory + "/." + name + AtomicFile.temporarySuffix) { layout, frame in
                    fileChannels = layout.channels
                    pcm.append(contentsOf: frame)
                }
                return (pcm, fileChannels)
            }
            total = decoded.map { Int64($0.0.count / $0.1) }.max() ?? 0
            let frame = rate / 50
            var buffer = [Int16](repeating: 0, count: frame * channels)
            var at: Int64 = 0
            while at < total {
                for i in 0..<frame {
                    for c in 0..<channels {
                        // Stereo: channel c of the file; mono: the one channel on both; split: file c's only channel.
                        let (pcm, fileChannels) = decoded.count == channels ? decoded[c] : decoded[0]
                        let sourceChannel = decoded.count == channels ? 0 : min(c, fileChannels - 1)
                        let k = (Int(at) + i) * fileChannels + sourceChannel
                        buffer[i * channels + c] = k < pcm.count ? pcm[k] : 0
                    }
                }
                try buffer.withUnsafeBufferPointer { try analysis.process($0) }
                at += Int64(frame)
            }
        } catch {
            analysis.discard()
            throw error
        }
        let result = try analysis.finish(total: total)
        let durationS = (Double(total) / Double(rate) * 1000).rounded() / 1000
        let speakers = ["caller", "callee"]
        let indexChannels = speakers.enumerated().map { c, speaker in
            var channel = CallIndex.Channel(speaker: speaker, codec: nil, ssrcs: [], packets: 0, lost: 0, duplicates: 0, late: 0, jitterMs: 0)
            channel.speech = result.speech[c].map { [Self.round($0.start), Self.round($0.end)] }
            channel.talkTimeS = Self.round(result.talkTime[c])
            return channel
        }
        let caller = tagged.tag("CALLER"), callee = tagged.tag("CALLEE")
        let signalling = tagged.tag("SIGNALLING") ?? (caller == nil && callee == nil && callID.hasPrefix("rtp:") ? "none" : "sip")
        var index = CallIndex(
            id: id, callID: callID, caller: caller, callee: callee, direction: tagged.tag("DIRECTION") ?? "unknown",
            signalling: signalling, start: start.iso8601, durationS: durationS, sampleRate: rate, endReason: "crashed",
            audio: audioNames[0], channels: indexChannels)
        index.format = "opus"
        index.layout = fileLayout
        index.audioFiles = audioNames
        index.overtalkS = Self.round(result.overtalk)
        index.longestSilenceS = Self.round(result.longestSilence)
        index.silenceShare = (result.silenceShare * 1000).rounded() / 1000
        index.peaks = result.peaks.map { String($0.path.split(separator: "/").last!) }
        let indexFile = try AtomicFile(directory: directory, name: id + ".json", space: space)
        let audioFiles: [AtomicFile]
        do {
            try indexFile.write(try index.encoded())
            try indexFile.sync()
            audioFiles = try audioNames.map { try AtomicFile(adopting: $0, in: directory, space: space) }
        } catch {
            indexFile.discard()
            for peaks in result.peaks { peaks.discard() }
            throw error
        }
        let summary = RecordingSummary(
            id: id, audioFiles: audioFiles.map { RecordingSummary.AudioFile(path: $0.path, bytes: $0.size) }, indexPath: indexFile.path,
            index: index, start: start)
        let files = audioFiles + result.peaks + [indexFile]
        try commit(FinishedRecording(summary: summary, files: files), catalog: catalog)
        let cut = closed.reduce(0) { $0 + $1.bytesCut }
        return SalvagedRecording(
            id: id, detail: "\(Self.seconds(durationS)) of audio kept up to its last complete page" + (cut > 0 ? ", \(cut) bytes of a torn page cut" : ""),
            consumed: files.compactMap { names[String($0.path.split(separator: "/").last!)] })
    }

    private func commit(_ finished: FinishedRecording, catalog: CatalogStore) throws {
        var finished = finished
        // What the rules decided when the call began died with the process: the call is judged
        // against the catalog's rules now, so a required call cut by the crash is a coverage failure.
        let index = finished.summary.index
        let decision = try catalog.ruleSet().decide(
            CallFacts(
                callID: index.callID, caller: index.caller, callee: index.callee,
                direction: CallDirection(rawValue: index.direction) ?? .unknown, start: finished.summary.start))
        // So is how long it is kept: the matching rule's retention, as if the call had ended
        // normally, not the default (a rule keeping calls seven years must not lose a crashed one at two).
        if decision.records {
            finished.summary.ruleID = decision.ruleID
            finished.summary.required = decision.required
            finished.summary.retainUntilEpoch = decision.retention.until(from: finished.summary.start.seconds)
            finished.summary.onDemand = decision.onDemand
        }
        let committer = RecordingCommitter(catalog: catalog, outputDirectory: catalog.folder, signer: signer, options: nil, space: space)
        let diagnostics = Diagnostics()
        guard try committer.commit(finished, capture: .unknown, diagnostics: diagnostics) != nil else {
            throw OutputError(code: .io, path: finished.summary.indexPath, message: diagnostics.notes.first ?? "not committed")
        }
    }

    /// Seconds to the millisecond.
    private static func round(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }

    private static func seconds(_ value: Double) -> String { String(format: "%.1f s", value) }
}
