import CallrecCore
import Catalog
import Crypto
import Foundation
import Sealing
import ZIPFoundation

extension EvidenceBundle {
    /// One step of checking a bundle, as `callrec verify-evidence` prints it.
    public struct Step: Sendable, Equatable {
        /// What is checked.
        public var title: String
        /// Whether it holds.
        public var ok: Bool
        /// What was found (the failure, or what was checked).
        public var detail: String
    }

    /// The largest file of a bundle that is read whole (everything but the
    /// recording's own files, which are hashed as they are read).
    static let maximumSmallFile = 16 << 20

    /// Checks the evidence bundle at `path` the way VERIFY.txt says to, every
    /// step reported; all hold when every step is `ok`. Reads the zip once:
    /// the recording's files are hashed as they are read, never held whole.
    public static func verify(path: String) -> [Step] {
        var steps: [Step] = []
        func step(_ title: String, _ ok: Bool, _ detail: String) { steps.append(Step(title: title, ok: ok, detail: detail)) }

        // Read every entry: small ones kept, all hashed.
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            step("the bundle opens as a zip file", false, "\(path): \(error)")
            return steps
        }
        var folder: String? = nil
        var hashes: [String: String] = [:]
        var sizes: [String: Int64] = [:]
        var small: [String: [UInt8]] = [:]
        do {
            for entry in archive {
                guard entry.type == .file else { continue }
                let parts = entry.path.split(separator: "/", maxSplits: 1)
                guard parts.count == 2, !entry.path.contains(".."), !entry.path.hasPrefix("/") else {
                    step("the bundle holds one folder", false, "an entry outside the bundle's folder: \(entry.path)")
                    return steps
                }
                if folder == nil { folder = String(parts[0]) }
                guard folder == String(parts[0]) else {
                    step("the bundle holds one folder", false, "entries in two folders: \(folder!) and \(parts[0])")
                    return steps
                }
                let name = String(parts[1])
                var hasher = SHA256()
                var bytes: [UInt8] = []
                var size: Int64 = 0
                let keep = !name.hasPrefix("recording/") || name.hasSuffix(".manifest.json") || name.hasSuffix(".manifest.sig")
                _ = try archive.extract(entry) { data in
                    hasher.update(data: data)
                    size += Int64(data.count)
                    if keep && bytes.count <= maximumSmallFile { bytes += data }
                }
                hashes[name] = Hex.lowercase(hasher.finalize())
                sizes[name] = size
                if keep {
                    guard bytes.count <= maximumSmallFile else {
                        step("the bundle's files are read", false, "\(name) is over \(maximumSmallFile >> 20) MiB, too large for what it should be")
                        return steps
                    }
                    small[name] = bytes
                }
            }
        } catch {
            step("the bundle's files are read", false, "\(path): \(error)")
            return steps
        }
        guard let folder else {
            step("the bundle holds one folder", false, "the zip file is empty")
            return steps
        }
        let info = small["bundle.json"].flatMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] } ?? [:]
        guard let id = info["recording"] as? String, AuditChain.isRecordingID(id) else {
            step("the bundle says which recording it holds", false, "bundle.json is missing or names no recording")
            return steps
        }

        // 1. The bundle manifest.
        let signerFile = small["exporter.pub.pem"] != nil ? "exporter.pub.pem" : "recorder.pub.pem"
        let signer = small[signerFile].flatMap { try? VerifyingKey(pem: String(decoding: $0, as: UTF8.self)) }
        let recorderKey = small["recorder.pub.pem"].flatMap { try? VerifyingKey(pem: String(decoding: $0, as: UTF8.self)) }
        if let signer, let sums = small["SHA256SUMS"], let signature = small["SHA256SUMS.sig"], signer.isValidSignature(signature, for: sums) {
            var problems: [String] = []
            var listed = Set<String>()
            for line in String(decoding: sums, as: UTF8.self).split(separator: "\n") {
                let fields = line.split(separator: " ", maxSplits: 1)
                guard fields.count == 2, fields[1].hasPrefix(" ") else {
                    problems.append("a line of SHA256SUMS is not sha256sum's format")
                    continue
                }
                let name = String(fields[1].dropFirst())
                listed.insert(name)
                if hashes[name] == nil {
                    problems.append("\(name) is listed but not in the bundle")
                } else if hashes[name] != String(fields[0]) {
                    problems.append("\(name) was changed: its SHA-256 is \(hashes[name]!), the signed list says \(fields[0])")
                }
            }
            for name in hashes.keys.sorted() where !listed.contains(name) && name != "SHA256SUMS" && name != "SHA256SUMS.sig" {
                problems.append("\(name) is in the bundle but not in the signed list")
            }
            step(
                "1. nothing in the bundle changed since it was exported (SHA256SUMS signed with \(signerFile), every file's SHA-256)",
                problems.isEmpty, problems.isEmpty ? "\(listed.count) files, signature verified" : problems.joined(separator: "; "))
        } else {
            step(
                "1. nothing in the bundle changed since it was exported (SHA256SUMS signed with \(signerFile), every file's SHA-256)", false,
                signer == nil ? "\(signerFile) is missing or not an Ed25519 public key" : "the signature of SHA256SUMS does not verify: the list was changed or signed with another key")
        }

        // 2. The recorder's key.
        if let recorderKey {
            let named = info["recorder_fingerprint"] as? String
            let ok = named == recorderKey.fingerprint && info["recorder"] as? String == RecorderIdentity.id(of: recorderKey)
            step(
                "2. recorder.pub.pem is recorder \(info["recorder"] as? String ?? "?")'s key", ok,
                ok ? "fingerprint \(recorderKey.fingerprint): compare it with the one the recorder printed when it started"
                    : "its fingerprint \(recorderKey.fingerprint) is not the one bundle.json names (\(named ?? "none"))")
        } else {
            step("2. recorder.pub.pem is the recorder's key", false, "recorder.pub.pem is missing or not an Ed25519 public key")
        }

        // 3. The manifest.
        let manifestName = "recording/\(id).manifest.json"
        let manifest = small[manifestName]
        let facts = manifest.flatMap(ManifestFacts.init)
        if let manifest, let signature = small["recording/\(id).manifest.sig"], let recorderKey, recorderKey.isValidSignature(signature, for: manifest),
            let facts, facts.recording == id
        {
            step("3. the recording's manifest is signed by the recorder", true, "manifest #\(facts.sequence) of recorder \(facts.recorder)")
        } else {
            step(
                "3. the recording's manifest is signed by the recorder", false,
                manifest == nil ? "\(manifestName) is missing" : "its signature does not verify with recorder.pub.pem, or it is not this recording's")
        }

        // 4. The recording's files.
        if let facts {
            var problems: [String] = []
            for file in facts.files {
                let name = "recording/" + file.name
                if hashes[name] == nil {
                    problems.append("\(file.name) is missing")
                } else if hashes[name] != file.sha256 || sizes[name] != file.bytes {
                    problems.append("\(file.name) is not the file the recorder signed (SHA-256 \(hashes[name]!), signed \(file.sha256))")
                }
            }
            step(
                "4. every file of the recording is the one its manifest lists", problems.isEmpty,
                problems.isEmpty ? facts.files.map(\.name).joined(separator: ", ") : problems.joined(separator: "; "))
        } else {
            step("4. every file of the recording is the one its manifest lists", false, "there is no readable manifest")
        }

        // 5. The checkpoint.
        let checkpoint = small["checkpoint.json"].flatMap { body in small["checkpoint.sig"].flatMap { Checkpoint.Copy(body: body, signature: $0) } }
        if let checkpoint, let signer, checkpoint.isSigned(by: signer) {
            step("5. the checkpoint is signed with \(signerFile)", true, "audit chain up to #\(checkpoint.auditSeq), \(checkpoint.at)")
        } else {
            step("5. the checkpoint is signed with \(signerFile)", false, checkpoint == nil ? "checkpoint.json or checkpoint.sig is missing" : "its signature does not verify")
        }

        // 6. and 7. The audit entries.
        let auditNames = small.keys.filter { $0.hasPrefix("audit/") && !$0.hasSuffix(".personal.json") }.sorted()
        var chainProblems: [String] = []
        var previousHash: String? = nil
        var previousSeq: Int64? = nil
        var commitmentProblems: [String] = []
        var about = 0
        for name in auditNames {
            let bytes = small[name]!
            guard let entry = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                let seq = (entry["seq"] as? NSNumber)?.int64Value, let link = entry["previous_sha256"] as? String,
                let personal = entry["personal_sha256"] as? String
            else {
                chainProblems.append("\(name) is not an audit entry")
                continue
            }
            if let previousSeq, seq != previousSeq + 1 { chainProblems.append("entry #\(previousSeq + 1) is missing before #\(seq)") }
            if let previousHash, link != previousHash { chainProblems.append("#\(seq) does not follow #\(seq - 1): its link names another entry") }
            previousSeq = seq
            previousHash = hashes[name]
            if entry["recording"] as? String == id {
                about += 1
                let personalName = name.replacingOccurrences(of: ".json", with: ".personal.json")
                if let personalHash = hashes[personalName], personalHash != personal {
                    commitmentProblems.append("#\(seq): \(personalName) is not what the entry committed to")
                }
            }
        }
        if let checkpoint {
            if previousSeq != checkpoint.auditSeq || previousHash != checkpoint.auditSHA256 {
                chainProblems.append(
                    "the last entry (#\(previousSeq.map(String.init) ?? "none")) is not the one the checkpoint signed (#\(checkpoint.auditSeq))")
            }
        } else {
            chainProblems.append("there is no checkpoint to end the chain")
        }
        step(
            "6. the audit entries form one chain, up to the signed checkpoint", chainProblems.isEmpty && !auditNames.isEmpty,
            chainProblems.isEmpty ? "\(auditNames.count) entries, #\(auditNames.first.map { String($0.dropFirst(6).prefix(12)) } ?? "?") on" : chainProblems.joined(separator: "; "))
        step(
            "7. the entries about the recording hold what they committed to", commitmentProblems.isEmpty && about > 0,
            commitmentProblems.isEmpty ? "\(about) entries about \(id)" : commitmentProblems.joined(separator: "; "))
        _ = folder
        return steps
    }

    /// VERIFY.txt: what the bundle holds and how to check each part with sha256sum and openssl.
    static func verifyText(
        id: String, recorder: RecorderRecord, exporter: RecorderIdentity, signerKeyFile: String, manifestFiles: [RecordingManifest.File],
        wav: String?, first: Int64, last: Int64, reason: String, actor: String, at now: Double
    ) -> String {
        let fingerprint = recorder.fingerprint.dropFirst("SHA256:".count)
        let names = manifestFiles.map(\.name).joined(separator: " ")
        var text = """
            Evidence bundle of recording \(id)
            exported \(ISO8601Time.seconds(now)) by \(actor); reason: \(reason.replacingOccurrences(of: "\n", with: " "))

            What it holds

              recording/        the recording's files exactly as the recorder stored them (\(names))
            """
        if let wav { text += "\n                  and \(wav): its audio decoded to WAV (16-bit PCM, 48 kHz; channel 0 the caller, 1 the callee)" }
        text += """

              recording/\(id).manifest.json   what the recorder signed when it wrote the recording: every file's
                                SHA-256, the parties, the times, the capture it came from, its place in the
                                recorder's chain of manifests; \(id).manifest.sig is the signature
              recorder.pub.pem  recorder \(recorder.id)'s public key (Ed25519)
            """
        if signerKeyFile != "recorder.pub.pem" {
            text += "\n  exporter.pub.pem  the key of recorder \(exporter.id), which made this bundle and signed SHA256SUMS and checkpoint.json"
        }
        text += """

              audit/            the catalog's audit log as a hash chain, entries #\(first) to #\(last): every entry about
                                the recording (who showed, exported, held it, and why: in its .personal.json) and
                                the entries between, whose records link each entry to the one before
              checkpoint.json   the head of the audit chain after this export, signed (checkpoint.sig)
              bundle.json       what was exported, when, by whom, why
              SHA256SUMS        the SHA-256 of every file above; SHA256SUMS.sig is its signature

            How to check it, on any machine with sha256sum and OpenSSL 1.1.1 or later, in this folder:

            1. Nothing in the bundle changed since it was exported.

                 openssl pkeyutl -verify -pubin -inkey \(signerKeyFile) -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig
                 sha256sum -c SHA256SUMS

               The first must print "Signature Verified Successfully", the second "OK" for every file.

            2. The key is the recorder's.

                 openssl pkey -pubin -in recorder.pub.pem -outform DER | sha256sum

               must print \(fingerprint), the fingerprint recorder \(recorder.id) printed when it
               started ("public key SHA256:..." in its log). The recorder id is its first 16 digits.

            3. The recording's manifest is the one the recorder signed.

                 openssl pkeyutl -verify -pubin -inkey recorder.pub.pem -rawin -in recording/\(id).manifest.json -sigfile recording/\(id).manifest.sig

               must print "Signature Verified Successfully".

            4. The recording's files are the ones the manifest lists.

                 (cd recording && sha256sum \(names))

               Each SHA-256 must be the one recording/\(id).manifest.json gives for that file under "files"
               (and its size, "bytes", that of the file: ls -l). The manifest also says which capture the
               recording was made from ("capture": its name, size and SHA-256, or the interface, and the
               packets of the call) and the previous manifest the recorder signed ("previous_sha256").

            5. The checkpoint is signed.

                 openssl pkeyutl -verify -pubin -inkey \(signerKeyFile) -rawin -in checkpoint.json -sigfile checkpoint.sig

            6. The audit entries form one unbroken chain up to the checkpoint. Each audit/<seq>.json is one entry:
               its SHA-256 is the "previous_sha256" of the next entry, and the last one's is checkpoint.json's
               "audit_sha256":

                 prev=""
                 for f in audit/[0-9]*[0-9].json; do
                   if [ -n "$prev" ] && ! grep -q "\\"previous_sha256\\":\\"$prev\\"" "$f"; then echo "BROKEN before $f"; fi
                   prev=$(sha256sum "$f" | cut -c1-64)
                 done
                 echo "last entry: $prev"; grep -o '"audit_sha256":"[0-9a-f]*"' checkpoint.json

               No line may say BROKEN, and the two hashes printed last must be the same.

            7. The entries about the recording (those with "recording":"\(id)") hold what they committed to:
               for each audit/<seq>.personal.json (the entry's target, reason and detail, with a random salt),

                 sha256sum audit/<seq>.personal.json

               must be the "personal_sha256" of audit/<seq>.json. An entry about it without a .personal.json
               had its personal fields erased (GDPR); its record and the chain are unchanged.

            What an entry says: "at_us" the time in microseconds since 1970-01-01 UTC, "actor" who ("operator:<login>"
            or a catalog user), "action" what (show, export, hold, ...), "outcome" (done, refused, failed).

            callrec verify-evidence <this bundle>.zip makes the same checks and prints each one's result.

            """
        return text
    }
}
