import Catalog
import CallrecCore
import Foundation
import Output
import Sealing
import ZIPFoundation

/// An evidence bundle (`catalog export ID --evidence FILE.zip`; docs/FORMATS.md,
/// "Evidence bundles"): one zip file that lets anyone check, with sha256sum
/// and openssl on any machine, that a recording is the one the recorder
/// wrote and signed, and what was done with it since.
///
/// ```
/// evidence-<id>/VERIFY.txt                  how to check everything, step by step
/// evidence-<id>/SHA256SUMS                  the bundle manifest: the SHA-256 of every other file (sha256sum -c)
/// evidence-<id>/SHA256SUMS.sig              its raw Ed25519 signature
/// evidence-<id>/bundle.json                 what was exported, when, by whom, why
/// evidence-<id>/recorder.pub.pem            the key that signed the recording's manifest
/// evidence-<id>/exporter.pub.pem            the key that signed this bundle, when another recorder's
/// evidence-<id>/recording/<id>.opus ...     every file of the recording as stored (sealed or not)
/// evidence-<id>/recording/<id>.wav          its audio decoded to WAV
/// evidence-<id>/recording/<id>.manifest.json, .manifest.sig
/// evidence-<id>/audit/<seq>.json            the audit chain from the first entry about the recording to the checkpoint
/// evidence-<id>/audit/<seq>.personal.json   target, reason and detail of the entries about it
/// evidence-<id>/checkpoint.json, .sig       the chain's head as the exporter signed it, after the export's own entry
/// ```
public enum EvidenceBundle {
    /// What an export made.
    public struct Result: Sendable {
        public var path: String
        /// The files in the bundle (names inside its folder) with their SHA-256.
        public var files: [(name: String, sha256: String)]
        /// The audit entries included, first and last seq.
        public var auditRange: ClosedRange<Int64>
    }

    /// Writes the evidence bundle of `recording` to `path` (which must not
    /// exist): checks the recording first (a recording whose files or
    /// signature fail is refused, audited), decodes its audio (a sealed
    /// recording with `identities`), enters the export in the audit log with
    /// a checkpoint the exporter signs, and writes the zip under a temporary
    /// name, renamed into place when complete and synced.
    public static func export(
        recording id: String, to path: String, catalog: CatalogStore, exporter: RecorderIdentity, identities: [any AgeIdentity],
        by actor: CatalogActor, reason: String, at now: Double
    ) throws -> Result {
        let recording = try catalog.authorizedRecording(id: id, action: "export", by: actor, reason: reason, at: now)
        if System.exists(path) {
            throw CatalogError(.invalid, "\(path) exists: an evidence bundle never replaces a file (choose another name)")
        }
        let files = try catalog.files(of: id, by: actor)
        try catalog.refuseUnlessIntact(
            recording, action: "export", problems: try RecordingIntegrity.problems(of: recording, files: files, in: catalog), by: actor,
            reason: reason, at: now)
        guard let manifest = try catalog.manifest(of: id), let manifestBody = manifest.body,
            let recorder = try catalog.recorder(id: manifest.recorderID)
        else {
            throw CatalogError(.invalid, "recording \(id) was catalogued before recorders signed manifests: there is no signed evidence to export")
        }
        guard try catalog.recorder(id: exporter.id) != nil else {
            throw CatalogError(.invalid, "the exporter's key (\(exporter.keyPath), recorder \(exporter.id)) is not a recorder of this catalog")
        }
        let folder = "evidence-\(id)"
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let temporary = (directory.isEmpty ? "" : directory + "/") + "." + name + ".partial"
        let scratch = temporary + ".d"
        System.remove(temporary)
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: scratch)
            System.remove(temporary)
        }

        // The audio decoded to WAV, from the stored file (sealed: through the key, never in the clear on disk).
        let audio = files[0]
        let audioPath = catalog.filePath(audio.path)
        let audioName = EvidenceVerifier.name(of: audio.path)
        var entries: [(name: String, source: Source)] = []
        for file in files {
            let fileName = EvidenceVerifier.name(of: file.path)
            if fileName.hasSuffix(".manifest.json") || fileName.hasSuffix(".manifest.sig") { continue }
            entries.append(("recording/" + fileName, .file(catalog.filePath(file.path))))
        }
        entries.append(("recording/" + id + ".manifest.json", .bytes(manifestBody)))
        entries.append(("recording/" + id + ".manifest.sig", .bytes(manifest.signature)))
        let stem = id
        if audioName.hasSuffix(".opus") || audioName.hasSuffix(".opus.age") {
            let wav = scratch + "/" + stem + ".wav"
            if audioName.hasSuffix(".age") {
                guard !identities.isEmpty else {
                    throw CatalogError(
                        .invalid, "recording \(id) is sealed: give --identity with a key it was sealed to, so its audio can be decoded to WAV")
                }
                let reader = try AgeFileReader(path: audioPath, identities: identities)
                _ = try OpusToWAV.convert(source: reader, name: audioPath, wavPath: wav)
            } else {
                _ = try OpusToWAV.convert(opusPath: audioPath, wavPath: wav)
            }
            entries.append(("recording/" + stem + ".wav", .file(wav)))
        }
        entries.append(("recorder.pub.pem", .bytes(Array(recorder.publicKeyPEM.utf8))))
        let signerKeyFile = exporter.id == recorder.id ? "recorder.pub.pem" : "exporter.pub.pem"
        if exporter.id != recorder.id { entries.append(("exporter.pub.pem", .bytes(Array(exporter.publicKey.pem.utf8)))) }

        // The export's own audit entry and a checkpoint after it, in one transaction.
        let key = exporter.key
        let checkpoint = try catalog.write { db -> CheckpointRecord in
            try CatalogStore.appendAudit(
                db, at: now, actor: actor, action: "export", target: id, outcome: .done, reason: reason, detail: "evidence bundle \(path)")
            return try CatalogStore.appendCheckpoint(db, recorderID: exporter.id, at: now) { heads in
                let body = Checkpoint.body(recorder: exporter.id, heads: heads, at: now)
                return (body, try key.signature(for: body))
            }
        }
        let about = try catalog.auditChain(about: id)
        let first = about.first?.record.seq ?? checkpoint.auditSeq
        let chain = try catalog.auditChain(seq: first, through: checkpoint.auditSeq)
        for row in chain {
            entries.append(("audit/\(auditName(row.record.seq)).json", .bytes(row.record.bytes)))
            if row.record.recordingID == id, let personal = row.personalBytes {
                entries.append(("audit/\(auditName(row.record.seq)).personal.json", .bytes(personal)))
            }
        }
        entries.append(("checkpoint.json", .bytes(checkpoint.body)))
        entries.append(("checkpoint.sig", .bytes(checkpoint.signature)))

        var info = CanonicalJSON(multiline: true)
        info.field("audit_first", first)
        info.field("audit_last", checkpoint.auditSeq)
        info.field("exported_at", ISO8601Time.seconds(now))
        info.field("exported_by", actor.auditName)
        info.field("exporter", exporter.id)
        info.field("reason", reason)
        info.field("recorder", recorder.id)
        info.field("recorder_fingerprint", recorder.fingerprint)
        info.field("recording", id)
        info.field("v", 1)
        entries.append(("bundle.json", .bytes(info.bytes)))
        let verify = verifyText(
            id: id, recorder: recorder, exporter: exporter, signerKeyFile: signerKeyFile, manifestFiles: ManifestFacts(manifestBody)?.files ?? [],
            wav: entries.contains { $0.name == "recording/" + stem + ".wav" } ? stem + ".wav" : nil, first: first, last: checkpoint.auditSeq,
            reason: reason, actor: actor.auditName, at: now)
        entries.append(("VERIFY.txt", .bytes(Array(verify.utf8))))

        // The bundle manifest: sha256sum's own format, signed.
        var sums: [(name: String, sha256: String)] = []
        for (entryName, source) in entries {
            switch source {
            case .bytes(let bytes): sums.append((entryName, FileDigest.sha256(bytes: bytes)))
            case .file(let file): sums.append((entryName, try FileDigest.sha256(path: file)))
            }
        }
        let sumsText = sums.sorted { $0.name < $1.name }.map { "\($0.sha256)  \($0.name)\n" }.joined()
        entries.append(("SHA256SUMS", .bytes(Array(sumsText.utf8))))
        entries.append(("SHA256SUMS.sig", .bytes(try key.signature(for: Array(sumsText.utf8)))))

        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: temporary), accessMode: .create)
        } catch {
            throw CatalogError(.io, "\(temporary): cannot create: \(error)")
        }
        do {
            try archive.addEntry(with: folder + "/", type: .directory, uncompressedSize: Int64(0), provider: { _, _ in Data() })
            for (entryName, source) in entries {
                let compression: CompressionMethod = entryName.hasSuffix(".opus") || entryName.hasSuffix(".age") ? .none : .deflate
                switch source {
                case .bytes(let bytes):
                    let data = Data(bytes)
                    try archive.addEntry(
                        with: folder + "/" + entryName, type: .file, uncompressedSize: Int64(data.count), modificationDate: Date(timeIntervalSince1970: now),
                        permissions: 0o644, compressionMethod: compression,
                        provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
                case .file(let file):
                    try archive.addEntry(with: folder + "/" + entryName, fileURL: URL(fileURLWithPath: file), compressionMethod: compression)
                }
            }
        } catch {
            throw CatalogError(.io, "\(temporary): cannot write the bundle: \(error)")
        }
        withExtendedLifetime(archive) {}
        try syncAndRename(temporary, to: path)
        return Result(path: path, files: sums, auditRange: first...checkpoint.auditSeq)
    }

    enum Source {
        case bytes([UInt8])
        case file(String)
    }

    /// `000000000417`: audit file names sort in chain order.
    static func auditName(_ seq: Int64) -> String {
        let digits = String(seq)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    /// Syncs `temporary`, renames it to `path` unless that exists, syncs the folder.
    static func syncAndRename(_ temporary: String, to path: String) throws {
        do throws(SystemError) {
            let fd = try System.openForReading(temporary)
            defer { System.close(fd) }
            try System.sync(fd)
        } catch {
            throw CatalogError(.io, "\(temporary): cannot sync: \(error)")
        }
        // link() refuses an existing name: the bundle never replaces a file.
        guard link(temporary, path) == 0 else {
            throw CatalogError(.io, "\(path): cannot create: \(String(cString: strerror(errno)))")
        }
        System.remove(temporary)
        AtomicFile.syncDirectory(of: path)
    }
}
