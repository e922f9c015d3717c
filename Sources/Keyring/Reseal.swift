import CallrecCore
import Catalog
import Evidence
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
/// A recording its recorder signed is resealed under a new manifest: its
/// manifest names each file's SHA-256, which a new header changes, so the
/// manifest in force is withdrawn as `resealed` and `signer` (the recorder
/// key of the machine that holds the files) signs the next one in its chain,
/// naming the new files and the manifest it supersedes — in the one
/// transaction that also records every file's next checksum. From then on
/// the reseal is decided: after a crash `verify` finishes it on disk.
public enum Reseal {
    /// The steps of a signed reseal, for tests that stop one half-way (a crash).
    public enum Step: Sendable, Equatable {
        /// The new manifest is signed and the next checksums recorded; nothing renamed yet.
        case manifestSigned
        /// The first file has been renamed over its old self.
        case firstFileRenamed
    }

    /// What resealing one recording did.
    public struct Outcome: Sendable, Equatable {
        public var id: String
        /// Who was added (empty: it was sealed to everyone it should be already).
        public var added: [KeyDirectory.Holder]
        /// Sealed files given a new header.
        public var files: Int
    }

    /// Reseals recording `id` with `identities` (one of which must open its
    /// files), acting as `actor` (admin: resealing changes files); a signed
    /// recording gets a new manifest signed by `signer` (registered in the
    /// catalog). Holds the catalog's writer lock while it works, so verify
    /// does not run meanwhile.
    /// - Throws: `CatalogError` (refused — a signed recording and no signer —,
    ///   not found, damaged, not sealed); `SealingError` naming the file (the
    ///   key does not open it, a chunk is damaged).
    public static func reseal(
        id: String, identities: [X25519Identity], catalog: CatalogStore, signer: ManifestSigner? = nil, by actor: CatalogActor,
        reason: String?, at now: Double, afterStep: ((Step) throws -> Void)? = nil
    ) throws -> Outcome {
        let recording = try catalog.authorizedRecording(id: id, action: "reseal", minimumRole: .admin, by: actor, reason: reason, at: now)
        let lock = try catalog.writerLock()
        defer { withExtendedLifetime(lock) {} }
        let files = try catalog.files(of: id)
        guard files.contains(where: \.isSealed) else {
            throw CatalogError(.invalid, "recording \(id) is not sealed (it was written in the clear); nothing to reseal")
        }
        // A recording its recorder signed: its manifest names each file's SHA-256, which a new
        // header changes. It is resealed only under a new manifest, signed here.
        let current = try catalog.manifest(of: id)
        var signed: RecordingManifest? = nil
        if let current {
            guard signer != nil else {
                try catalog.refuse(
                    actor, action: "reseal", target: id, reason: reason, at: now,
                    because: "its files are signed as they are (manifest #\(current.sequence) of recorder \(current.recorderID)); "
                        + "resealing it signs a new manifest, and no recorder key was given to sign it")
            }
            guard let body = current.body, let manifest = RecordingManifest(parsing: body) else {
                throw CatalogError(
                    .damaged, "recording \(id): its manifest (#\(current.sequence) of recorder \(current.recorderID)) cannot be read; not resealed (run callrec catalog verify)")
            }
            signed = manifest
        }
        let directory = try catalog.keyDirectory()
        let holders = directory.holders(caller: recording.caller, callee: recording.callee)

        var written: [(file: CatalogFile, temporary: AtomicFile, next: CatalogStore.ResealedFile)] = []
        var added: [KeyDirectory.Holder] = []
        // Discarded on failure — unless the reseal was decided (a signed one): verify then needs them.
        var decided = false
        var manifestFiles: [AtomicFile] = []
        defer {
            for file in written.map(\.temporary) + manifestFiles {
                if decided { file.abandon() } else { file.discard() }
            }
        }
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
        let names = added.map(\.description).joined(separator: ", ")
        var detail = "added \(names) to \(written.count) file\(written.count == 1 ? "" : "s") (headers only; payloads unchanged)"

        guard let current, var manifest = signed, let signer else {
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
            try catalog.finishReseal(id: id, by: actor, at: now, reason: reason, detail: detail)
            return Outcome(id: id, added: added, files: written.count)
        }

        // A signed recording: the next manifest says what the current one says, with the new files.
        let next = Dictionary(written.map { (fileName($0.file.path), $0.next) }, uniquingKeysWith: { a, _ in a })
        manifest.files = manifest.files.map { file in
            guard let changed = next[file.name] else { return file }
            return RecordingManifest.File(name: file.name, bytes: changed.bytes, sha256: changed.sha256)
        }
        manifest.supersedes = .init(recorder: current.recorderID, sequence: current.sequence, sha256: current.sha256)
        try signer.identity.register(in: catalog, label: RecorderIdentity.label(outputDirectory: catalog.folder), by: actor, at: now)
        let record = try catalog.beginSignedReseal(id: id, files: written.map(\.next), replacing: current, at: now) { db in
            try signer.chain(manifest, in: db)
        }
        // Decided: from here on, what is not done is finished by verify, from the temporary files kept.
        decided = true
        detail += "; manifest \(record.recorderID)#\(record.sequence) supersedes \(current.recorderID)#\(current.sequence)"
        do {
            try afterStep?(.manifestSigned)
            for file in try catalog.files(of: id) {
                let bytes: [UInt8]
                if file.path.hasSuffix(".manifest.json") {
                    bytes = record.body ?? []
                } else if file.path.hasSuffix(".manifest.sig") {
                    bytes = record.signature
                } else {
                    continue
                }
                let temporary = try AtomicFile(path: catalog.filePath(file.path))
                try temporary.write(bytes)
                try temporary.sync()
                manifestFiles.append(temporary)
            }
            for (k, temporary) in (written.map(\.temporary) + manifestFiles).enumerated() {
                try temporary.replace()
                if k == 0 { try afterStep?(.firstFileRenamed) }
            }
            try catalog.finishReseal(id: id, by: actor, at: now, reason: reason, detail: detail)
        } catch {
            throw CatalogError(
                .io, "recording \(id): its reseal is signed (manifest \(record.recorderID)#\(record.sequence)) but was not finished on disk "
                    + "(\(error)); callrec catalog verify finishes it")
        }
        return Outcome(id: id, added: added, files: written.count)
    }

    static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
