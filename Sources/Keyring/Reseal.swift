import CallrecCore
import Catalog
import Output
import Sealing

/// `catalog reseal`: adds to an older recording the recipients it would
/// get if it were committed now — the users whose numbers are its parties
/// and their teams' current keys — so a user added later hears it too.
/// Only each sealed file's header changes: the file key, opened with a key
/// that opens the file (the compliance key), is wrapped for the new
/// recipients as well; the payload is copied byte for byte, every chunk
/// authenticated on the way (a damaged file is not given a new header).
///
/// Atomic per file, crash-safe per recording (`CatalogStore.beginReseal`):
/// the new files are written and synced under temporary names, the catalog
/// records their next SHA-256, each is renamed over its file, then the
/// catalog's checksums and recipients become the new ones and the reseal
/// is audited. `catalog verify` settles a reseal a crash interrupted.
///
/// Only recordings without a signed manifest (catalogued before recorders
/// signed them) can be resealed: a signed recording's manifest names each
/// file's SHA-256, so a reseal is refused until it can sign a new manifest.
public enum Reseal {
    /// What resealing one recording did.
    public struct Outcome: Sendable, Equatable {
        public var id: String
        /// Who was added (empty: it was sealed to everyone it should be already).
        public var added: [KeyDirectory.Holder]
        /// Sealed files given a new header.
        public var files: Int
    }

    /// Reseals recording `id` with `identities` (one of which must open its
    /// files), acting as `actor` (admin: resealing changes files). Holds the
    /// catalog's writer lock while it works, so verify does not run meanwhile.
    /// - Throws: `CatalogError` (refused, not found, damaged, not sealed);
    ///   `SealingError` naming the file (the key does not open it, a chunk is damaged).
    public static func reseal(
        id: String, identities: [X25519Identity], catalog: CatalogStore, by actor: CatalogActor, reason: String?, at now: Double
    ) throws -> Outcome {
        let recording = try catalog.authorizedRecording(id: id, action: "reseal", minimumRole: .admin, by: actor, reason: reason, at: now)
        let lock = try catalog.writerLock()
        defer { withExtendedLifetime(lock) {} }
        let files = try catalog.files(of: id)
        guard files.contains(where: \.isSealed) else {
            throw CatalogError(.invalid, "recording \(id) is not sealed (it was written in the clear); nothing to reseal")
        }
        // A recording its recorder signed: its manifest names each file's SHA-256, which a new
        // header changes. Until a reseal signs a new manifest in the chain, it is refused (audited)
        // rather than leave a recording that no longer matches what was signed.
        if let manifest = try catalog.manifest(of: id) {
            try catalog.refuse(
                actor, action: "reseal", target: id, reason: reason, at: now,
                because: "its files are signed as they are (manifest #\(manifest.sequence) of recorder \(manifest.recorderID)), "
                    + "and a new header would change what was signed; resealing signed recordings is not supported yet")
        }
        let directory = try catalog.keyDirectory()
        let holders = directory.holders(caller: recording.caller, callee: recording.callee)

        var written: [(file: CatalogFile, temporary: AtomicFile, next: CatalogStore.ResealedFile)] = []
        var added: [KeyDirectory.Holder] = []
        defer { for entry in written { entry.temporary.discard() } }
        for file in files where file.isSealed {
            let current = file.sealedTo ?? []
            let missing = holders.filter { !current.contains($0.recipient) }
            guard !missing.isEmpty else { continue }
            for holder in missing where !added.contains(holder) { added.append(holder) }
            let path = catalog.filePath(file.path)
            if let known = file.sha256, try FileDigest.sha256(path: path) != known {
                throw CatalogError(.damaged, "\(path): its SHA-256 differs from the catalog's; not resealed (run callrec catalog verify)")
            }
            let temporary = try AtomicFile(path: path)
            let recipients = try missing.map { try X25519Recipient($0.recipient) }
            try AgeRewrap.addingRecipients(recipients, toFileAt: path, identities: identities) { try temporary.write($0) }
            try temporary.sync()
            let next = CatalogStore.ResealedFile(
                position: file.position, sha256: try FileDigest.sha256(path: temporary.temporaryPath), bytes: temporary.size,
                sealedTo: current + missing.map(\.recipient))
            written.append((file, temporary, next))
        }
        guard !written.isEmpty else { return Outcome(id: id, added: [], files: 0) }

        try catalog.beginReseal(id: id, files: written.map(\.next))
        var renamed = 0
        do {
            for entry in written {
                try entry.temporary.replace()
                renamed += 1
            }
        } catch {
            // Nothing renamed: the reseal did not happen. Otherwise verify settles each file by what is on disk.
            if renamed == 0 { try? catalog.abandonReseal(id: id) }
            throw error
        }
        let names = added.map(\.description).joined(separator: ", ")
        try catalog.finishReseal(
            id: id, by: actor, at: now, reason: reason,
            detail: "added \(names) to \(written.count) file\(written.count == 1 ? "" : "s") (headers only; payloads unchanged)")
        return Outcome(id: id, added: added, files: written.count)
    }
}
