import CallMedia
import Catalog
import CallrecCore
import Foundation
import Output
import Sealing

/// Rebuilds catalog rows from call indexes on disk, for `catalog verify`
/// when it finds a complete recording without a row.
public enum CatalogImport {
    /// What `catalog verify` rebuilds rows with; `identities` open sealed
    /// recordings (without one that opens it, a sealed recording is kept as it is).
    public static func importer(identities: [X25519Identity]) -> OrphanImporter {
        { indexPath, catalog in try recording(indexPath: indexPath, catalog: catalog, identities: identities) }
    }

    /// `recording(indexPath:catalog:identities:)` without keys: sealed recordings are kept, not catalogued.
    public static func recording(indexPath: String, catalog: CatalogStore) throws -> (CatalogRecording, [CatalogFile])? {
        try recording(indexPath: indexPath, catalog: catalog, identities: [])
    }

    /// The row and files of the recording whose call index is at `indexPath`
    /// (`<id>.json`, or sealed `<id>.json.age`, opened with `identities`),
    /// or nil when the index does not decode or its audio file is missing.
    /// The recording gets the default retention (the rule that chose it is not
    /// known); `catalog verify` then keeps it as the rules now say (`applyRetention(of:)`).
    /// - Throws: `CatalogError(.sealed)` when the index is sealed and no identity opens it.
    public static func recording(
        indexPath: String, catalog: CatalogStore, identities: [X25519Identity]
    ) throws -> (CatalogRecording, [CatalogFile])? {
        guard let stored = FileManager.default.contents(atPath: indexPath) else { return nil }
        var bytes = Array(stored)
        var sealedTo: [String]? = nil
        if indexPath.hasSuffix(".age") {
            do {
                bytes = try Age.open(bytes, with: identities)
            } catch let error as SealingError where error.code == .noMatch {
                throw CatalogError(.sealed, "\(indexPath): \(error.message)")
            } catch {
                return nil
            }
            // Whom it is sealed to beyond the key that opened it is not written in the file.
            let opener = identities.first { (try? Age.open(Array(stored), with: [$0])) != nil }
            sealedTo = opener.map { [$0.recipient.description] } ?? []
        }
        guard let index = try? CallIndex.decode(bytes),
            let audio = index.audio,
            let start = ISO8601Time.parse(index.start)
        else { return nil }
        // Every file the index names, in commit order; names from the index never leave its folder.
        let names = (index.audioFiles ?? [audio]) + index.extraFiles
        guard names.allSatisfy({ !$0.isEmpty && !$0.contains("/") && !$0.hasPrefix(".") }) else { return nil }
        let folder = String(indexPath[..<(indexPath.lastIndex(of: "/") ?? indexPath.startIndex)])
        var audioFiles: [RecordingSummary.AudioFile] = []
        var files: [CatalogFile] = []
        for (position, name) in names.enumerated() {
            let path = folder + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let size = (attributes[.size] as? NSNumber)?.int64Value
            else { return nil }
            if position < (index.audioFiles ?? [audio]).count { audioFiles.append(.init(path: path, bytes: size)) }
            files.append(CatalogFile(
                recordingID: index.id, position: position, path: RecordingSummary.relative(path, to: catalog.folder), bytes: size,
                sha256: try FileDigest.sha256(path: path), sealedTo: sealedTo))
        }
        // Its signed manifest, when it was written: claimed with the recording (the catalog's
        // chain still holds it, unless the catalog lost it too; verify says which).
        for name in AuditChain.isRecordingID(index.id) ? [index.id + ".manifest.json", index.id + ".manifest.sig"] : [] {
            let path = folder + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                let size = (attributes[.size] as? NSNumber)?.int64Value
            else { continue }
            files.append(CatalogFile(
                recordingID: index.id, position: files.count, path: RecordingSummary.relative(path, to: catalog.folder), bytes: size,
                sha256: try FileDigest.sha256(path: path)))
        }
        var summary = RecordingSummary(
            id: index.id, audioFiles: audioFiles, indexPath: indexPath, index: index,
            start: MediaTime(nanoseconds: Int64((start * 1000).rounded()) * 1_000_000))
        summary.audioSHA256 = files.first?.sha256
        var row = summary.catalogRecording(relativeTo: catalog.folder)
        row.state = .committed
        files.append(CatalogFile(
            recordingID: index.id, position: files.count, path: row.indexPath, bytes: Int64(stored.count),
            sha256: FileDigest.sha256(bytes: Array(stored)), sealedTo: sealedTo))
        return (row, files)
    }
}
