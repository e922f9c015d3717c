import Catalog
import Sealing

/// Signs each recording's manifest and takes its place in the recorder's
/// chain: the participant of the commit that makes the manifest
/// (`RecordingCommitter` calls it inside the transaction that enters the
/// recording's row, so the row and its manifest exist together or not at all).
public struct ManifestSigner: Sendable {
    /// Whose key signs.
    public let identity: RecorderIdentity

    /// A signer with `identity`'s key.
    public init(identity: RecorderIdentity) { self.identity = identity }

    /// Gives `manifest` the next place in the recorder's chain (sequence and
    /// the previous manifest's SHA-256, read in `db`'s transaction), signs
    /// its bytes and stores it. Changes nothing outside the database, so a
    /// transaction run again (PostgreSQL) signs again, for the place it then gets.
    public func chain(_ manifest: RecordingManifest, in db: any SQLConnection) throws -> ManifestRecord {
        var manifest = manifest
        manifest.recorder = identity.id
        let key = identity.key
        return try CatalogStore.appendManifest(db, recorderID: identity.id, recordingID: manifest.recording) { sequence, previous in
            manifest.sequence = sequence
            manifest.previousSHA256 = previous
            let body = manifest.bytes
            return (body, try key.signature(for: body))
        }
    }
}
