import ArgumentParser
import CallrecCore
import Catalog
import Keyring
import Sealing

/// Where a password comes from: a file (`--password-file`, for scripts; it
/// must be readable by its owner only, as a private key file) or, without
/// one, the terminal, asked without echo. Never an argument: a password on
/// the command line is in every `ps` listing and the shell's history.
enum PasswordInput {
    /// The first line of `path` (its line end dropped; nothing else trimmed).
    static func read(file path: String) throws -> String {
        let text = try KeyFile.readPrivate(path)
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return line.hasSuffix("\r") ? String(line.dropLast()) : line
    }

    /// The password of `user` to open their keys: from `file`, or asked at the terminal.
    static func existing(for user: String, file: String?, what: String = "password") throws -> Passphrase {
        if let file { return try passphrase(try read(file: file), file: file) }
        guard let typed = try ask("\(user)'s \(what): ") else {
            throw CatalogError(.invalid, "\(user)'s \(what) is needed: give --password-file FILE (mode 0600) or run at a terminal")
        }
        return try passphrase(typed, file: nil)
    }

    /// A new password for `user`: from `file`, or typed twice at the terminal.
    static func new(for user: String, file: String?) throws -> Passphrase {
        if let file { return try UserKeys.checkNewPassword(try read(file: file)) }
        guard let first = try ask("New password for \(user): ") else {
            throw CatalogError(.invalid, "a password for \(user) is needed: give --password-file FILE (mode 0600) or run at a terminal")
        }
        let password = try UserKeys.checkNewPassword(first)
        guard try ask("Again: ") == first else { throw CatalogError(.invalid, "the two passwords differ; nothing was changed") }
        return password
    }

    private static func ask(_ prompt: String) throws -> String? {
        do {
            return try Terminal.readSecret(prompt: prompt)
        } catch {
            throw CatalogError(.io, "cannot read the password at the terminal: \(error)")
        }
    }

    private static func passphrase(_ text: String, file: String?) throws -> Passphrase {
        guard !text.isEmpty else { throw CatalogError(.invalid, "\(file.map { "\($0): " } ?? "")the password is empty") }
        return try Passphrase(text)
    }
}

/// The keys a catalog command opens sealed recordings with: the `--as`
/// user's, unlocked with their password, or identity files (`--identity`).
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("password-file"), help: ArgumentHelp(
        "Read the --as user's password from this file (first line; mode 0600) instead of asking at the terminal.", valueName: "file"))
    var passwordFile: String?

    @Option(name: .customLong("identity"), help: ArgumentHelp(
        "Open sealed recordings with the key in this file (age-keygen's format, mode 0600; repeatable): the compliance key.",
        valueName: "file"))
    var identities: [String] = []

    /// The keys for `actor` doing `action` on `target`: the identity
    /// files', or the user's (asking their password; a wrong one is an
    /// audited refusal) when `needed` (the recording is sealed) or a password
    /// file was given; nil otherwise (the operator without keys, a recording
    /// in the clear).
    func keys(
        for actor: CatalogActor, catalog: CatalogStore, action: String, target: String?, reason: String?, at now: Double, needed: Bool = true
    ) throws -> RecordingKeys? {
        if !identities.isEmpty { return try RecordingKeys.keyFiles(identities) }
        guard case .user(let user) = actor else {
            if passwordFile != nil { throw ValidationError("--password-file is the --as user's password: give --as USER") }
            return nil
        }
        guard user.recipient != nil, needed || passwordFile != nil else { return nil }
        let password = try PasswordInput.existing(for: user.name, file: passwordFile)
        return try UserKeys.unlock(user.name, password: password, catalog: catalog, action: action, target: target, reason: reason, at: now)
    }
}
