import Catalog
import CallrecCore
import Foundation
import Sealing

/// A checkpoint: a recorder's signature over the heads of the audit chain and
/// of its own manifest chain at one moment (docs/FORMATS.md, "Checkpoints").
/// Stored in the catalog and printed where others keep a copy (record's JSON
/// lines, standard error and so the journal), so that a catalog rewritten
/// from some point on — hashes recomputed, rows and all — no longer matches
/// what was signed and copied before.
///
/// The signed bytes are one line of canonical JSON:
/// `{"at":"2026-11-29T08:15:30Z","audit_seq":412,"audit_sha256":"...","manifest_sequence":97,"manifest_sha256":"...","recorder":"3f9a1c2e5b7d9e01","v":1}`.
public enum Checkpoint {
    /// The bytes signed for `heads` of `recorder` at `epoch`.
    public static func body(recorder: String, heads: ChainHeads, at epoch: Double) -> [UInt8] {
        var json = CanonicalJSON()
        json.field("at", ISO8601Time.seconds(epoch))
        json.field("audit_seq", heads.auditSeq)
        json.field("audit_sha256", heads.auditSHA256)
        json.field("manifest_sequence", heads.manifestSequence)
        json.field("manifest_sha256", heads.manifestSHA256)
        json.field("recorder", recorder)
        json.field("v", 1)
        return json.bytes
    }

    /// Signs and stores a checkpoint of the heads now.
    public static func make(_ catalog: CatalogStore, identity: RecorderIdentity, at now: Double) throws -> CheckpointRecord {
        let key = identity.key
        return try catalog.appendCheckpoint(recorderID: identity.id, at: now) { heads in
            let body = body(recorder: identity.id, heads: heads, at: now)
            return (body, try key.signature(for: body))
        }
    }

    /// The line record prints among its JSON lines: `{"checkpoint":"<the signed
    /// bytes>","signature":"<base64>"}` (keys sorted, one line).
    public static func jsonLine(_ checkpoint: CheckpointRecord) -> String {
        var json = CanonicalJSON()
        json.field("checkpoint", String(decoding: checkpoint.body, as: UTF8.self))
        json.field("signature", Data(checkpoint.signature).base64EncodedString())
        return String(decoding: json.bytes, as: UTF8.self)
    }

    /// The line for standard error (and so the journal): the signed bytes as
    /// they are, then the signature, so a copy of the log is a copy of the checkpoint:
    /// `callrec: checkpoint {"at":...,"v":1} signature <base64>`.
    public static func messageLine(_ checkpoint: CheckpointRecord) -> String {
        "callrec: checkpoint " + String(decoding: checkpoint.body, as: UTF8.self) + " signature "
            + Data(checkpoint.signature).base64EncodedString()
    }

    /// Every checkpoint in `text`: record's JSON lines, or standard error's
    /// lines (a journal's, with its own prefix before `callrec:`). Other lines are skipped.
    public static func copies(in text: String) -> [Copy] {
        var found: [Copy] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("{"), let copy = Copy(jsonLine: String(line)) {
                found.append(copy)
                continue
            }
            guard let start = line.range(of: "callrec: checkpoint {"), let end = line.range(of: "} signature ", options: .backwards) else { continue }
            let body = line[line.index(before: start.upperBound)..<line.index(after: end.lowerBound)]
            let signature = line[end.upperBound...].trimmingCharacters(in: .whitespaces)
            if let raw = Data(base64Encoded: signature), let copy = Copy(body: Array(body.utf8), signature: Array(raw)) { found.append(copy) }
        }
        return found
    }

    /// A checkpoint read back from a copy (a JSON line, or the stored bytes
    /// and signature): its fields, the bytes and the signature.
    public struct Copy: Sendable, Equatable {
        public var body: [UInt8]
        public var signature: [UInt8]
        public var recorder: String
        public var auditSeq: Int64
        public var auditSHA256: String
        public var manifestSequence: Int64
        public var manifestSHA256: String?
        public var at: String

        /// The checkpoint whose signed bytes are `body`, or nil when they are not one.
        public init?(body: [UInt8], signature: [UInt8]) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                (object["v"] as? NSNumber)?.intValue == 1, let recorder = object["recorder"] as? String,
                let auditSeq = (object["audit_seq"] as? NSNumber)?.int64Value, let auditSHA = object["audit_sha256"] as? String,
                let manifestSequence = (object["manifest_sequence"] as? NSNumber)?.int64Value, let at = object["at"] as? String
            else { return nil }
            self.body = body
            self.signature = signature
            self.recorder = recorder
            self.auditSeq = auditSeq
            self.auditSHA256 = auditSHA
            self.manifestSequence = manifestSequence
            self.manifestSHA256 = object["manifest_sha256"] as? String
            self.at = at
        }

        /// The checkpoint on a line record printed (`{"checkpoint":...,"signature":...}`), or nil for any other line.
        public init?(jsonLine: String) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(jsonLine.utf8)) as? [String: Any],
                let text = object["checkpoint"] as? String, let signature = (object["signature"] as? String).flatMap({ Data(base64Encoded: $0) })
            else { return nil }
            self.init(body: Array(text.utf8), signature: Array(signature))
        }

        /// Whether `key` signed it.
        public func isSigned(by key: VerifyingKey) -> Bool { key.isValidSignature(signature, for: body) }
    }
}
