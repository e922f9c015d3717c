import Catalog
import CallrecCore
import Foundation
import Output

/// Rebuilds catalog rows from call indexes on disk, for `catalog verify`
/// when it finds a complete recording without a row.
public enum CatalogImport {
    /// The row and files of the recording whose call index is at `indexPath`,
    /// or nil when the index does not decode or its audio file is missing.
    /// The recording gets the default retention (the rule that chose it is not known).
    public static func recording(indexPath: String, catalog: CatalogStore) throws -> (CatalogRecording, [CatalogFile])? {
        guard let bytes = FileManager.default.contents(atPath: indexPath),
            let index = try? CallIndex.decode(Array(bytes)),
            !index.audio.contains("/"), !index.audio.hasPrefix(".")
        else { return nil }
        let folder = String(indexPath[..<(indexPath.lastIndex(of: "/") ?? indexPath.startIndex)])
        let audioPath = folder + "/" + index.audio
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: audioPath),
            let audioBytes = (attributes[.size] as? NSNumber)?.int64Value,
            let start = ISO8601.parse(index.start)
        else { return nil }
        var summary = RecordingSummary(
            id: index.id, audioPath: audioPath, indexPath: indexPath, index: index, audioBytes: audioBytes,
            start: MediaTime(nanoseconds: Int64((start * 1000).rounded()) * 1_000_000))
        summary.audioSHA256 = try FileDigest.sha256(path: audioPath)
        var row = summary.catalogRecording(relativeTo: catalog.folder)
        row.state = .committed
        let files = [
            CatalogFile(recordingID: index.id, position: 0, path: row.audioPath, bytes: audioBytes, sha256: summary.audioSHA256),
            CatalogFile(
                recordingID: index.id, position: 1, path: row.indexPath, bytes: Int64(bytes.count),
                sha256: FileDigest.sha256(bytes: Array(bytes))),
        ]
        return (row, files)
    }
}

/// ISO 8601 UTC times as callrec writes them (`2026-11-29T08:15:30.120Z`).
enum ISO8601 {
    /// Unix seconds, or nil.
    static func parse(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }
}
