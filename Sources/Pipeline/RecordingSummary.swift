import Catalog
import CallrecCore
import Output

/// What one finished call produced, for the command line and the catalog.
public struct RecordingSummary: Sendable {
    /// One audio file of the recording.
    public struct AudioFile: Sendable, Equatable {
        /// The final path.
        public var path: String
        /// Its size in bytes.
        public var bytes: Int64
    }

    /// The recording id.
    public var id: String
    /// The audio files written: one (stereo or mono), or one per party in
    /// channel order (split).
    public var audioFiles: [AudioFile]
    /// The call index's final path.
    public var indexPath: String
    /// The index as written.
    public var index: CallIndex
    /// Time zero of the recording.
    public var start: MediaTime

    /// The first (for stereo and mono, the only) audio file.
    public var audioPath: String { audioFiles[0].path }
    /// Bytes of all audio files together.
    public var audioBytes: Int64 { audioFiles.reduce(0) { $0 + $1.bytes } }
}

extension RecordingSummary {
    /// The catalog row for this recording, with paths relative to the output folder.
    func catalogRecording(relativeTo outputDirectory: String) -> CatalogRecording {
        func relative(_ path: String) -> String {
            let prefix = outputDirectory.hasSuffix("/") ? outputDirectory : outputDirectory + "/"
            return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
        }
        return CatalogRecording(
            id: id, callID: index.callID, caller: index.caller, callee: index.callee, direction: index.direction,
            start: index.start, startEpoch: start.seconds, durationS: index.durationS,
            audioPath: relative(audioPath), indexPath: relative(indexPath), audioBytes: audioBytes,
            codecs: index.channels.map { $0.codec ?? "-" }.joined(separator: ","), endReason: index.endReason)
    }
}
