import CallrecCore
import Output

/// Seals recordings: one seal per recording, made when its files are about
/// to be created. Commit's `CatalogSealer` is the one (age v1 through
/// Sealing, recipients from the catalog); CallMedia sees only this protocol,
/// so the media path never imports Sealing or Catalog.
public protocol RecordingSealer: AnyObject, Sendable {
    /// The seal of the recording of a call between `caller` and `callee`
    /// (the call index's parties): its recipients as the catalog stands now.
    func seal(caller: String?, callee: String?) throws -> any RecordingSeal
    /// Whom recordings are sealed to, for the line convert and record print at start.
    var summary: String { get }
}

/// One recording's seal: the transform each of its files is written
/// through, and at commit its recipients brought up to date.
public protocol RecordingSeal: AnyObject {
    /// What a sealed file's name gets (`.age`).
    var fileNameSuffix: String { get }
    /// The recipients (`age1…`) the files are sealed to now, in header order.
    var sealedTo: [String] { get }
    /// The transform for a new file of the recording. `rewritesHeader`: the
    /// file's writer rewrites its first bytes when it finishes (WAV, FLAC,
    /// the peaks `.dat`), so they are sealed last.
    func transform(rewritesHeader: Bool) throws -> any ByteStreamTransform
    /// At commit, after every file was synced: decides the recipients again,
    /// as the catalog stands now, for `caller` and `callee`, and when they
    /// changed since the files were created writes each sealed file's
    /// header again for them (the payloads stay). Returns the recipients
    /// (`age1…`) every file is now sealed to, in header order.
    func settle(_ files: [AtomicFile], caller: String?, callee: String?) throws -> [String]
}

extension Optional where Wrapped == any RecordingSeal {
    /// A new file `name` in `directory` for a recording with this seal:
    /// sealed (its name gets the seal's suffix) or, without a seal, in the clear.
    package func file(directory: String, name: String, rewritesHeader: Bool = false, space: DiskSpaceWait?) throws -> AtomicFile {
        guard let seal = self else { return try AtomicFile(directory: directory, name: name, space: space) }
        return try AtomicFile(
            directory: directory, name: name + seal.fileNameSuffix, space: space, transform: try seal.transform(rewritesHeader: rewritesHeader))
    }
}

/// The line convert and record print once at start: whether they seal, and to whom.
public enum SealingNotice {
    /// `callrec: sealing every recording (age v1) to …`, or that they are written in the clear.
    public static func line(for sealer: (any RecordingSealer)?) -> String {
        guard let sealer else {
            return "callrec: not sealing: recordings, peaks and indexes are written in the clear (--recipient age1... seals them)"
        }
        return "callrec: sealing every recording, its peaks and its index (age v1, .age files) to \(sealer.summary)"
    }
}
