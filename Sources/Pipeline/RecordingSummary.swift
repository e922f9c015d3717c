import Catalog
import CallrecCore
import Output

/// What one finished call produced, for the command line and the catalog.
public struct RecordingSummary: Sendable {
    /// The recording id.
    public var id: String
    /// The files written, final paths.
    public var audioPath: String
    public var indexPath: String
    /// The index as written.
    public var index: CallIndex
    /// Bytes of the audio file.
    public var audioBytes: Int64
    /// Time zero of the recording.
    public var start: MediaTime
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
