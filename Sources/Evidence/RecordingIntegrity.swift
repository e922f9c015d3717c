import Catalog
import Sealing

/// Checks one recording before it is presented (`catalog show`, `export`,
/// an evidence bundle, `serve`): every file on disk against the SHA-256 the
/// catalog holds, the catalog's files against the signed manifest, and the
/// manifest's signature against its recorder's key.
public enum RecordingIntegrity {
    /// What is wrong with `recording`, one line each; empty when it is intact.
    public static func problems(of recording: CatalogRecording, files: [CatalogFile], in catalog: CatalogStore) throws -> [String] {
        var problems: [String] = []
        for file in files {
            let path = catalog.filePath(file.path)
            guard let sum = try? FileDigest.sha256(path: path) else {
                problems.append("\(file.path) is missing")
                continue
            }
            if let known = file.sha256, known != sum {
                problems.append("\(file.path): its SHA-256 is \(sum), the catalog's \(known)")
            }
        }
        guard let manifest = try catalog.manifest(of: recording.id) else {
            if try catalog.unsignedRecordingIDs().contains(recording.id) { return problems }
            problems.append("it has no signed manifest")
            return problems
        }
        guard let body = manifest.body, FileDigest.sha256(bytes: body) == manifest.sha256 else {
            problems.append("its manifest (\(manifest.recorderID)#\(manifest.sequence)) was altered")
            return problems
        }
        guard let recorder = try catalog.recorder(id: manifest.recorderID), let key = try? VerifyingKey(pem: recorder.publicKeyPEM),
            RecorderIdentity.id(of: key) == recorder.id
        else {
            problems.append("its manifest names recorder \(manifest.recorderID), which the catalog does not know")
            return problems
        }
        guard key.isValidSignature(manifest.signature, for: body) else {
            problems.append("its manifest's signature does not verify with recorder \(recorder.id)'s key")
            return problems
        }
        guard let facts = ManifestFacts(body), facts.recording == recording.id else {
            problems.append("its manifest is for another recording")
            return problems
        }
        let byName = Dictionary(files.map { (EvidenceVerifier.name(of: $0.path), $0) }, uniquingKeysWith: { a, _ in a })
        for signed in facts.files {
            guard let known = byName[signed.name] else {
                problems.append("\(signed.name), which its manifest names, is not in the catalog")
                continue
            }
            if known.sha256 != signed.sha256 {
                problems.append("\(known.path): the catalog's SHA-256 is not the one its manifest signed (\(signed.sha256))")
            }
        }
        let signedNames = Set(facts.files.map(\.name))
        for file in files where !signedNames.contains(EvidenceVerifier.name(of: file.path)) {
            let name = EvidenceVerifier.name(of: file.path)
            if name.hasSuffix(".manifest.json") || name.hasSuffix(".manifest.sig") { continue }
            problems.append("\(file.path) is not in its signed manifest")
        }
        return problems
    }
}
