import CallrecCore
import Foundation

extension X25519Identity {
    /// The key file age-keygen writes, which `age -i FILE` and
    /// `callrec --identity FILE` read:
    ///
    /// ```
    /// # created: 2026-11-29T08:15:30Z
    /// # public key: age1…
    /// AGE-SECRET-KEY-1…
    /// ```
    public func keyFileText(created: Date = Date()) -> String {
        return "# created: \(ISO8601Time.seconds(created.timeIntervalSince1970))\n# public key: \(recipient)\n\(secretKeyText)\n"
    }

    /// Writes this identity as a new key file, mode 0600 (never over an existing file).
    public func save(to path: String, created: Date = Date()) throws {
        try KeyFile.create(path, text: keyFileText(created: created), access: .owner)
    }

    /// The identities in a key file (age-keygen's format: one
    /// `AGE-SECRET-KEY-1…` per line, `#` comments and blank lines ignored),
    /// refused when others may read it.
    /// - Throws: `SealingError(.permissions)`, `.io`, or `.key` naming the line.
    public static func load(path: String) throws -> [X25519Identity] {
        try parse(keyFile: KeyFile.readPrivate(path), path: path)
    }

    /// The identities in the text of a key file.
    public static func parse(keyFile text: String, path: String? = nil) throws -> [X25519Identity] {
        var identities: [X25519Identity] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = String(line).trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do {
                identities.append(try X25519Identity(trimmed))
            } catch let error as SealingError {
                throw SealingError(.key, path: path, "line \(number + 1): \(error.message)")
            }
        }
        guard !identities.isEmpty else { throw SealingError(.key, path: path, "holds no AGE-SECRET-KEY-1… identity") }
        return identities
    }

    /// This identity sealed in an age file to `recipients`: the content is its
    /// key file text, so `age -d` (with the key, or the passphrase for an
    /// `ScryptRecipient`) gives a key file `age -i` reads. How the catalog
    /// keeps a user's key wrapped with their password, and a team's key
    /// wrapped for each supervisor.
    public func sealed(to recipients: [any AgeRecipient]) throws -> [UInt8] {
        try Age.seal(Array(keyFileText().utf8), to: recipients)
    }

    /// The identity in an age file made by `sealed(to:)`, opened with `identities`.
    /// - Throws: `SealingError(.noMatch)` for a wrong password or key.
    public init(unsealing file: [UInt8], with identities: [any AgeIdentity]) throws {
        let text = String(decoding: try Age.open(file, with: identities), as: UTF8.self)
        let found = try X25519Identity.parse(keyFile: text)
        guard found.count == 1 else { throw SealingError(.key, "the sealed key file holds \(found.count) identities, not one") }
        self = found[0]
    }
}

extension X25519Recipient {
    /// The recipients in a recipients file (`age -R`): one `age1…` per line,
    /// `#` comments and blank lines ignored. A key file (age-keygen's output)
    /// is read too, for its `# public key:` lines, so the compliance officer
    /// may hand over either.
    public static func load(path: String) throws -> [X25519Recipient] {
        let text = try KeyFile.readPublic(path)
        var recipients: [X25519Recipient] = []
        var sawSecret = false
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var trimmed = String(line).trimmingWhitespace()
            if trimmed.hasPrefix("# public key:") {
                trimmed = String(trimmed.dropFirst("# public key:".count)).trimmingWhitespace()
            } else if trimmed.isEmpty || trimmed.hasPrefix("#") {
                continue
            } else if trimmed.uppercased().hasPrefix("AGE-SECRET-KEY-") {
                sawSecret = true
                continue
            }
            do {
                recipients.append(try X25519Recipient(trimmed))
            } catch let error as SealingError {
                throw SealingError(.key, path: path, "line \(number + 1): \(error.message)")
            }
        }
        if sawSecret {
            // A private key where a public one was asked for: the recorder must never hold it.
            throw SealingError(
                .key, path: path,
                "holds a private key (AGE-SECRET-KEY-1…): give the recorder only the public key (callrec keys public \(path) > recipient.txt)")
        }
        guard !recipients.isEmpty else { throw SealingError(.key, path: path, "holds no age1… recipient") }
        return recipients
    }
}

/// Sealing and opening small things held in memory.
public enum Age {
    /// `content` sealed to `recipients` as a binary age file.
    public static func seal(_ content: [UInt8], to recipients: [any AgeRecipient]) throws -> [UInt8] {
        let writer = try AgeWriter(recipients: recipients)
        let output = StoredBytesBuffer()
        try writer.begin(into: output)
        try content.withUnsafeBytes { try writer.append($0, into: output) }
        try writer.finish(into: output)
        return output.bytes
    }

    /// The content of the age file `file` (binary or armored), opened with `identities`.
    public static func open(_ file: [UInt8], with identities: [any AgeIdentity]) throws -> [UInt8] {
        try AgeDecryptor.decrypt(file, identities: identities)
    }
}
