import CallrecTestSupport
import Foundation
import Testing

/// `callrec keys`, through the built binary, checked with the reference
/// tools: age-keygen and age read the identity, OpenSSL the signing key.
@Suite struct KeysCLITests {
    func callrec(_ arguments: [String]) throws -> CommandRunner.Run { try CommandRunner.callrec(arguments) }
    func tool(_ arguments: [String]) throws -> CommandRunner.Run { try CommandRunner.run("/usr/bin/env", arguments) }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1
    }

    @Test func anAgeIdentityForTheComplianceOfficer() throws {
        let folder = FixturePaths.temporaryDirectory("keys-cli")
        let key = folder + "/compliance.key"
        let made = try callrec(["keys", "new", "--out", key])
        #expect(made.status == 0, "\(made.stderr)")
        let recipient = made.stdout.trimmingCharacters(in: .newlines)
        #expect(recipient.hasPrefix("age1") && recipient.count == 62)
        #expect(made.stderr.contains("keep it off the recorder"))
        #expect(KeysCLITests.mode(key) == 0o600)
        // age-keygen derives the same recipient; `keys public` prints it again.
        #expect(try tool(["age-keygen", "-y", key]).stdout == recipient + "\n")
        #expect(try callrec(["keys", "public", key]).stdout == recipient + "\n")
        // age seals to it, age opens with the file.
        let plain = folder + "/note.txt"
        _ = FileManager.default.createFile(atPath: plain, contents: Data("the call".utf8))
        #expect(try tool(["age", "-r", recipient, "-o", plain + ".age", plain]).status == 0)
        let opened = try tool(["age", "-d", "-i", key, plain + ".age"])
        #expect(opened.stdout == "the call")

        // Never over an existing key.
        let again = try callrec(["keys", "new", "--out", key])
        #expect(again.status == 1)
        #expect(again.stderr == "callrec: \(key): already exists: callrec never replaces a key file (move it away first if you mean to)\n")
    }

    @Test func aPrivateKeyOthersCanReadIsRefused() throws {
        let key = FixturePaths.temporaryDirectory("keys-cli") + "/k.key"
        #expect(try callrec(["keys", "new", "--out", key]).status == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        let run = try callrec(["keys", "public", key])
        #expect(run.status == 1)
        #expect(
            run.stderr
                == "callrec: \(key): private key file has mode 0644: its group and others can access it; a private key must be readable by its owner only (run: chmod 600 \(key))\n"
        )
    }

    @Test func aSigningKeyForTheRecorder() throws {
        let folder = FixturePaths.temporaryDirectory("keys-cli")
        let key = folder + "/recorder.key"
        let made = try callrec(["keys", "new", "--signing", "--out", key])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        #expect(KeysCLITests.mode(key) == 0o600)
        #expect(KeysCLITests.mode(folder + "/recorder.pub.pem") == 0o644)
        let publicPEM = String(decoding: FileManager.default.contents(atPath: folder + "/recorder.pub.pem") ?? Data(), as: UTF8.self)
        #expect(made.stdout == publicPEM)
        #expect(try callrec(["keys", "public", key]).stdout == publicPEM)
        #expect(try callrec(["keys", "public", folder + "/recorder.pub.pem"]).stdout == publicPEM)
        // OpenSSL reads the private key and derives the same public key.
        #expect(try tool(["openssl", "pkey", "-in", key, "-pubout"]).stdout == publicPEM)
    }

    @Test func helpTeachesWhoKeepsWhichKey() throws {
        let help = try callrec(["keys", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("It must never be on the\n") && help.stdout.contains("recorder: whoever holds it hears every call."))
        #expect(help.stdout.contains("callrec keys new --out compliance.key"))
        #expect(help.stdout.contains("recorder.key -> recorder.pub.pem"))
        #expect(try callrec(["keys", "new"]).status == 2)
        #expect(try callrec(["--help"]).stdout.contains("keys"))
    }
}
