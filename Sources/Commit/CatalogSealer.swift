import CallMedia
import Catalog
import CallrecCore
import Output
import Sealing

/// Seals recordings as age v1 files (Sealing's `AgeWriter`) to the
/// compliance recipients and to whom the catalog says a call belongs: the
/// users whose numbers are its parties and their teams' current keys
/// (`KeyDirectory.holders`). It reads public keys only: nothing it holds
/// opens a recording once written (each file's key lives in its writer
/// until the recording is committed, and goes with it).
///
/// A recording's recipients are decided when its files are created and
/// again when it is committed (`RecordingSeal.settle`), from the catalog's
/// users and numbers as they stand then: a user added or a team key made
/// during the call is in the header of a call committed after it.
public final class CatalogSealer: RecordingSealer {
    /// The compliance recipients: every recording is sealed to them first.
    public let compliance: [X25519Recipient]
    private let catalog: CatalogStore

    /// A sealer to `compliance` (at least one) and the holders `catalog` names.
    /// - Throws: `SealingError(.key)` for a recipient that is not `age1…`.
    public init(catalog: CatalogStore, compliance: [String]) throws {
        precondition(!compliance.isEmpty, "sealing needs at least one compliance recipient")
        self.catalog = catalog
        var unique: [X25519Recipient] = []
        for text in compliance {
            let recipient = try X25519Recipient(text)
            if !unique.contains(recipient) { unique.append(recipient) }
        }
        self.compliance = unique
    }

    public var summary: String {
        let keys = compliance.map { Self.short($0.description) }.joined(separator: ", ")
        return "\(compliance.count) compliance key\(compliance.count == 1 ? "" : "s") (\(keys)) and the keys of the catalog's users and teams whose numbers are a call's parties"
    }

    /// The sealer `options` ask for, on `catalog`: nil (in the clear) without compliance recipients.
    public static func forOptions(_ options: ConvertOptions, catalog: CatalogStore) throws -> CatalogSealer? {
        options.complianceRecipients.isEmpty ? nil : try CatalogSealer(catalog: catalog, compliance: options.complianceRecipients)
    }

    /// `age1qyqszqgp…3zt7` for messages.
    static func short(_ recipient: String) -> String {
        recipient.count > 20 ? String(recipient.prefix(12)) + "…" + String(recipient.suffix(4)) : recipient
    }

    /// The recipients of a call between `caller` and `callee` now: the
    /// compliance keys, then the holders by name (users, then teams).
    func recipients(caller: String?, callee: String?) throws -> [X25519Recipient] {
        var recipients = compliance
        for holder in try catalog.keyDirectory().holders(caller: caller, callee: callee) {
            let recipient = try X25519Recipient(holder.recipient)
            if !recipients.contains(recipient) { recipients.append(recipient) }
        }
        return recipients
    }

    public func seal(caller: String?, callee: String?) throws -> any RecordingSeal {
        CallSeal(sealer: self, recipients: try recipients(caller: caller, callee: callee))
    }
}

/// One recording's seal: an `AgeWriter` per file, all to the same recipients.
final class CallSeal: RecordingSeal {
    private let sealer: CatalogSealer
    /// Whom the files were created for.
    private(set) var recipients: [X25519Recipient]

    init(sealer: CatalogSealer, recipients: [X25519Recipient]) {
        self.sealer = sealer
        self.recipients = recipients
    }

    var fileNameSuffix: String { ".age" }

    var sealedTo: [String] { recipients.map(\.description) }

    func transform(rewritesHeader: Bool) throws -> any ByteStreamTransform {
        try AgeWriter(recipients: recipients, layout: rewritesHeader ? .firstChunkLast : .streaming)
    }

    func settle(_ files: [AtomicFile], caller: String?, callee: String?) throws -> [String] {
        let now = try sealer.recipients(caller: caller, callee: callee)
        if now != recipients {
            for file in files {
                guard let writer = file.transform as? AgeWriter else { continue }
                let (old, header) = try writer.rewrapHeader(for: now)
                try file.replaceStoredPrefix(length: old, with: header)
            }
            recipients = now
        }
        return recipients.map(\.description)
    }
}
