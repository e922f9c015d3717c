import ArgumentParser
import Sealing

/// `callrec keys`: make the key pairs sealing and signing use, and print their public halves.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make key pairs for sealing recordings and signing them; print public keys.",
        discussion: """
            Sealed recordings are age files (age-encryption.org/v1): only the holder \
            of a private key a file was sealed to can open it. Who keeps which key:

              compliance  An X25519 key pair, made here or by age-keygen. Its public
                          key (age1...) is what the recorder seals every call to;
                          its private key stays with the firm's compliance officer,
                          on another machine or offline. It must never be on the
                          recorder: whoever holds it hears every call.
              recorder    An Ed25519 signing key (--signing), one per recorder, kept
                          on the recorder. It signs each recording's manifest so a
                          changed or swapped file shows; it opens nothing.
              users       Personal and team keys live in the catalog, wrapped with
                          each user's password; nobody handles their files.

            Private key files are created readable by their owner only (mode 0600), \
            and callrec refuses to read one that its group or others can access. \
            A key file is never overwritten.

            The files:
              keys new --out FILE            age-keygen's format (# created,
                                             # public key, AGE-SECRET-KEY-1...);
                                             age -d -i FILE reads it.
              keys new --signing --out FILE  FILE: the private key, PKCS#8 PEM.
                                             Beside it the public key, SPKI PEM:
                                             recorder.key -> recorder.pub.pem
                                             (recorder.pem and recorder likewise).

            A signature checks with OpenSSL alone:
              openssl pkeyutl -verify -pubin -inkey recorder.pub.pem -rawin \\
                -in FILE -sigfile FILE.sig

            Examples:
              callrec keys new --out compliance.key    # on the officer's machine
              callrec keys public compliance.key > compliance.pub
              callrec keys new --signing --out /etc/callrec/recorder.key
              age -d -i compliance.key -o call.opus 2026/11/29/<id>.opus.age
            """,
        subcommands: [New.self, Public.self]
    )

    /// `callrec keys new`.
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new key pair: an age X25519 identity, or with --signing an Ed25519 signing key.",
            discussion: """
                Prints the public key on standard output: the age1... recipient that \
                recordings are sealed to, or the signing key's public PEM. The private \
                key goes only to --out, mode 0600; an existing file is never replaced.
                """
        )

        @Option(name: .shortAndLong, help: ArgumentHelp("The private key file to create (must not exist).", valueName: "file"))
        var out: String

        @Flag(help: "An Ed25519 signing key (the recorder's identity) instead of an age identity.")
        var signing = false

        func run() throws {
            try reportingKeyErrors {
                if signing {
                    let key = SigningKey()
                    let publicPath = try key.save(to: out)
                    FileHandleOutput.standardError.write("callrec: signing key written to \(out) (keep it on the recorder, mode 0600); public key: \(publicPath)\n")
                    FileHandleOutput.standardOutput.write(key.publicKey.pem)
                } else {
                    let identity = X25519Identity()
                    try identity.save(to: out)
                    FileHandleOutput.standardError.write("callrec: private key written to \(out) (mode 0600): keep it off the recorder\n")
                    FileHandleOutput.standardOutput.write("\(identity.recipient)\n")
                }
            }
        }
    }

    /// `callrec keys public`.
    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the public key of a key file: age1... for an age identity, PEM for a signing key.",
            discussion: """
                Reads an age identity file (age-keygen's format), an Ed25519 private \
                key (PKCS#8 PEM) or public key (SubjectPublicKeyInfo PEM). A private \
                key file that its group or others can read is refused.
                """
        )

        @Argument(help: ArgumentHelp("The key file.", valueName: "file"))
        var file: String

        func run() throws {
            try reportingKeyErrors {
                let text = try KeyFile.readPublic(file)
                if text.contains("-----BEGIN PUBLIC KEY-----") {
                    FileHandleOutput.standardOutput.write(try VerifyingKey.load(path: file).pem)
                } else if text.contains("-----BEGIN PRIVATE KEY-----") {
                    FileHandleOutput.standardOutput.write(try SigningKey.load(path: file).publicKey.pem)
                } else {
                    for identity in try X25519Identity.load(path: file) {
                        FileHandleOutput.standardOutput.write("\(identity.recipient)\n")
                    }
                }
            }
        }
    }
}

/// Runs a keys command: a key error prints one line and exits with status 1.
private func reportingKeyErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as SealingError {
        FileHandleOutput.standardError.write("callrec: \(error)\n")
        throw PartialFailure()
    }
}
