import CallrecTestSupport
import Foundation
import Sealing
import Testing

/// Interoperability with the reference implementation, both ways: the `age`
/// command (Debian's package, installed by scripts/setup.sh) opens what
/// callrec seals, and callrec opens what `age` seals, to one or several
/// recipients, binary or armored, with a key or a passphrase.
@Suite struct AgeInteropTests {
    typealias S = SealingTestSupport
    static let chunk = AgePayload.chunkSize
    static let sizes = [0, 1, chunk, chunk + 1, 5 * chunk + 321]

    /// A key pair made by age-keygen, and the recipient it printed.
    static func keygen() throws -> (keyFile: String, recipient: String) {
        let keyFile = FixturePaths.temporaryDirectory("age-keygen") + "/key.txt"
        let run = try S.tool("age-keygen", ["-o", keyFile])
        #expect(run.status == 0, "\(run.stderr)")
        let recipient = run.stderr.components(separatedBy: "Public key: ").last!.trimmingCharacters(in: .whitespacesAndNewlines)
        return (keyFile, recipient)
    }

    @Test func ageIsInstalled() throws {
        let run = try S.tool("age", ["--version"])
        #expect(run.status == 0, "age is not installed: scripts/setup.sh installs it")
    }

    @Test(arguments: AgeInteropTests.sizes)
    func ageOpensWhatCallrecSeals(size: Int) throws {
        let (keyFile, _) = try AgeInteropTests.keygen()
        let identity = try #require(try X25519Identity.load(path: keyFile).first)
        let content = S.content(size, seed: UInt64(size) + 5)
        // Sealed to someone else as well: age finds its own stanza among others.
        let sealed = try S.seal(content, to: [X25519Identity().recipient, identity.recipient])
        let path = S.write(sealed, name: "call.opus.age")
        let result = try S.toolBytes("age", ["-d", "-i", keyFile, path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.bytes == content)
    }

    @Test(arguments: AgeInteropTests.sizes)
    func callrecOpensWhatAgeSeals(size: Int) throws {
        let (keyFile, recipient) = try AgeInteropTests.keygen()
        let (otherKey, otherRecipient) = try AgeInteropTests.keygen()
        let content = S.content(size, seed: UInt64(size) + 9)
        let input = S.write(content, name: "plain")
        let output = input + ".age"
        let run = try S.tool("age", ["-r", otherRecipient, "-r", recipient, "-o", output, input])
        #expect(run.status == 0, "\(run.stderr)")
        for key in [keyFile, otherKey] {
            let identities = try X25519Identity.load(path: key)
            let reader = try AgeFileReader(path: output, identities: identities)
            #expect(try reader.read(0..<reader.contentSize) == content)
            var streamed: [UInt8] = []
            try AgeDecryptor.decrypt(path: output, identities: identities) { streamed += $0 }
            #expect(streamed == content)
        }
    }

    @Test func callrecOpensAgesArmor() throws {
        let (keyFile, recipient) = try AgeInteropTests.keygen()
        let content = S.content(3 * AgeInteropTests.chunk + 5)
        let input = S.write(content, name: "plain")
        let run = try S.tool("age", ["-a", "-r", recipient, "-o", input + ".asc", input])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(S.read(input + ".asc").starts(with: Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)))
        var out: [UInt8] = []
        try AgeDecryptor.decrypt(path: input + ".asc", identities: try X25519Identity.load(path: keyFile)) { out += $0 }
        #expect(out == content)
    }

    /// A file cut by a crash: age gives the whole chunks and reports the rest missing.
    @Test func ageReadsACutFileUpToItsLastWholeChunk() throws {
        let (keyFile, _) = try AgeInteropTests.keygen()
        let identity = try X25519Identity.load(path: keyFile)[0]
        let writer = try AgeWriter(recipients: [identity.recipient])
        let output = StoredBytesBuffer()
        try writer.begin(into: output)
        let content = S.content(2 * AgeInteropTests.chunk + 10)
        try content.withUnsafeBytes { try writer.append($0, into: output) }
        let result = try S.toolBytes("age", ["-d", "-i", keyFile, S.write(output.bytes)])
        #expect(result.status != 0)
        #expect(result.bytes == Array(content.prefix(2 * AgeInteropTests.chunk)))
    }

    /// `age -p` asks for the passphrase on the terminal only: both directions
    /// through a pseudo-terminal. age's own work factor (18) one way, a low
    /// one (10) the other, which age accepts.
    @Test func passphrasesBothWays() throws {
        let passphrase = "a long passphrase for the interop test"
        let content = S.content(AgeInteropTests.chunk + 77)
        let input = S.write(content, name: "plain")
        let byAge = try S.inTerminal(["age", "-p", "-o", input + ".age", input], answers: [passphrase, passphrase])
        #expect(byAge.status == 0, "\(byAge.stderr)")
        let sealedByAge = S.read(input + ".age")
        #expect(String(decoding: sealedByAge.prefix(60), as: UTF8.self).contains("-> scrypt "))
        #expect(try Age.open(sealedByAge, with: [ScryptIdentity(passphrase: try Passphrase(passphrase))]) == content)

        let ours = S.write(try Age.seal(content, to: [ScryptRecipient(passphrase: try Passphrase(passphrase), workFactor: 10)]), name: "ours.age")
        let byCallrec = try S.inTerminal(["age", "-d", "-o", ours + ".out", ours], answers: [passphrase])
        #expect(byCallrec.status == 0, "\(byCallrec.stderr)")
        #expect(S.read(ours + ".out") == content)
    }

    /// A user's key wrapped with their password is an age passphrase file
    /// whose content is a key file: `age -d` gives a key file `age -i` reads.
    @Test func aWrappedKeyIsAKeyFileForAge() throws {
        let user = X25519Identity()
        let password = "alice's password"
        let wrapped = try user.sealed(to: [ScryptRecipient(passphrase: try Passphrase(password), workFactor: 10)])
        let path = S.write(wrapped, name: "alice.key.age")
        let opened = try S.inTerminal(["age", "-d", "-o", path + ".txt", path], answers: [password])
        #expect(opened.status == 0, "\(opened.stderr)")
        let keyText = String(decoding: S.read(path + ".txt"), as: UTF8.self)
        #expect(keyText.contains("# public key: \(user.recipient)"))
        // And callrec opens it again from the wrapped form.
        let back = try X25519Identity(unsealing: wrapped, with: [ScryptIdentity(passphrase: try Passphrase(password))])
        #expect(back.recipient == user.recipient)
        let wrong = SealingTestSupport.sealingError {
            _ = try X25519Identity(unsealing: wrapped, with: [ScryptIdentity(passphrase: try Passphrase("guess"))])
        }
        #expect(wrong?.code == .noMatch)
        // A team key wrapped for a supervisor opens with the supervisor's key.
        let supervisor = X25519Identity()
        let team = X25519Identity()
        let forSupervisor = try team.sealed(to: [supervisor.recipient])
        #expect(try X25519Identity(unsealing: forSupervisor, with: [supervisor]).recipient == team.recipient)
    }
}
