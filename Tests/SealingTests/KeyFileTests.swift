import CallrecTestSupport
import Foundation
import Sealing
import Testing

/// Key files: age-keygen's format both ways, Ed25519 keys in the PEM files
/// OpenSSL reads, permissions enforced on private keys, and no key ever replaced.
@Suite struct KeyFileTests {
    typealias S = SealingTestSupport

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1
    }

    @Test func anIdentityFileIsAge_keygensFormat() throws {
        let identity = X25519Identity()
        let path = FixturePaths.temporaryDirectory("keys") + "/compliance.key"
        try identity.save(to: path, created: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(KeyFileTests.mode(path) == 0o600)
        let lines = String(decoding: S.read(path), as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == "# created: 2026-11-18T11:06:40Z")
        #expect(lines[1] == "# public key: \(identity.recipient)")
        #expect(lines[2].hasPrefix("AGE-SECRET-KEY-1") && lines[2].count == 74)
        #expect(try X25519Identity.load(path: path).map(\.recipient) == [identity.recipient])
        // age -i reads it: it opens a file sealed to it.
        let sealed = S.write(try Age.seal(Array("hello".utf8), to: [identity.recipient]))
        let opened = try S.toolBytes("age", ["-d", "-i", path, sealed])
        #expect(opened.status == 0 && opened.bytes == Array("hello".utf8), "\(opened.stderr)")
        // age-keygen -y (public key from a key file) agrees with ours.
        let y = try S.tool("age-keygen", ["-y", path])
        #expect(y.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == identity.recipient.description)
    }

    @Test func recipientsComeFromARecipientsFileOrAKeyFilesComment() throws {
        let a = X25519Identity(), b = X25519Identity()
        let list = S.write(Array("# compliance\n\(a.recipient)\n\n\(b.recipient)\n".utf8), name: "recipients.txt")
        #expect(try X25519Recipient.load(path: list) == [a.recipient, b.recipient])
        // A private key given where a public one belongs is refused: the recorder must not hold it.
        let keyFile = FixturePaths.temporaryDirectory("keys") + "/a.key"
        try a.save(to: keyFile)
        let error = S.sealingError { _ = try X25519Recipient.load(path: keyFile) }
        #expect(error?.code == .key)
        #expect(error?.message.contains("holds a private key") == true)
        let bad = S.write(Array("age1notakey\n".utf8), name: "bad.txt")
        #expect(S.sealingError { _ = try X25519Recipient.load(path: bad) }?.message.hasPrefix("line 1: ") == true)
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o602])
    func aPrivateKeyOthersCanAccessIsRefused(mode: Int) throws {
        let path = FixturePaths.temporaryDirectory("keys") + "/key.txt"
        try X25519Identity().save(to: path)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        let error = S.sealingError { _ = try X25519Identity.load(path: path) }
        #expect(error?.code == .permissions)
        let octal = "0" + String(mode, radix: 8)
        #expect(error?.description.hasPrefix("\(path): private key file has mode \(octal): ") == true, "\(error?.description ?? "")")
        #expect(error?.description.hasSuffix("(run: chmod 600 \(path))") == true)
        // The same for a signing key.
        let signing = FixturePaths.temporaryDirectory("keys") + "/recorder.key"
        try SigningKey().save(to: signing)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: signing)
        #expect(S.sealingError { _ = try SigningKey.load(path: signing) }?.code == .permissions)
    }

    @Test func age_keygensOwnFilesAreRead() throws {
        let path = FixturePaths.temporaryDirectory("keys") + "/k.txt"
        let run = try S.tool("age-keygen", ["-o", path])
        #expect(run.status == 0)
        #expect(KeyFileTests.mode(path) == 0o600)
        let identity = try #require(try X25519Identity.load(path: path).first)
        #expect(run.stderr.contains(identity.recipient.description))
    }

    @Test func aKeyIsNeverReplaced() throws {
        let path = FixturePaths.temporaryDirectory("keys") + "/key.txt"
        let first = X25519Identity()
        try first.save(to: path)
        let error = S.sealingError { try X25519Identity().save(to: path) }
        #expect(error?.description == "\(path): already exists: callrec never replaces a key file (move it away first if you mean to)")
        #expect(try X25519Identity.load(path: path)[0].recipient == first.recipient)
        // No temporary file is left beside it.
        let folder = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["key.txt"])
    }

    @Test func aSigningKeyIsPKCS8AndItsPublicKeyVerifiesWithOpenSSL() throws {
        let folder = FixturePaths.temporaryDirectory("keys")
        let key = SigningKey()
        let publicPath = try key.save(to: folder + "/recorder.key")
        #expect(publicPath == folder + "/recorder.pub.pem")
        #expect(KeyFileTests.mode(folder + "/recorder.key") == 0o600)
        #expect(KeyFileTests.mode(publicPath) == 0o644)
        #expect(String(decoding: S.read(folder + "/recorder.key"), as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(String(decoding: S.read(publicPath), as: UTF8.self).hasPrefix("-----BEGIN PUBLIC KEY-----\n"))

        // What issue 15's manifests need: a raw Ed25519 signature OpenSSL checks with the public PEM alone.
        let manifest = Array("{\"id\":\"20261129T081530Z-3f9a1c2e\"}\n".utf8)
        let manifestPath = S.write(manifest, name: "m.json")
        let signaturePath = manifestPath + ".sig"
        _ = FileManager.default.createFile(atPath: signaturePath, contents: Data(try key.signature(for: manifest)))
        #expect(S.read(signaturePath).count == 64)
        let verify = try S.tool(
            "openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", publicPath, "-rawin", "-in", manifestPath, "-sigfile", signaturePath])
        #expect(verify.status == 0 && verify.stdout.contains("Signature Verified Successfully"), "\(verify.stdout) \(verify.stderr)")
        // A changed byte fails.
        var altered = manifest
        altered[3] ^= 1
        let alteredPath = S.write(altered, name: "m2.json")
        let refused = try S.tool(
            "openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", publicPath, "-rawin", "-in", alteredPath, "-sigfile", signaturePath])
        #expect(refused.status != 0)

        // OpenSSL reads the private key, derives the same public key, and its signatures verify here.
        let derived = try S.tool("openssl", ["pkey", "-in", folder + "/recorder.key", "-pubout"])
        #expect(derived.stdout == String(decoding: S.read(publicPath), as: UTF8.self))
        let bySSL = try S.toolBytes("openssl", ["pkeyutl", "-sign", "-inkey", folder + "/recorder.key", "-rawin", "-in", manifestPath])
        #expect(try VerifyingKey.load(path: publicPath).isValidSignature(bySSL.bytes, for: manifest))
        #expect(try SigningKey.load(path: folder + "/recorder.key").publicKey == key.publicKey)
        // And a key OpenSSL generated loads here.
        let genpkey = folder + "/openssl.key"
        #expect(try S.tool("openssl", ["genpkey", "-algorithm", "ed25519", "-out", genpkey]).status == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: genpkey)
        _ = try SigningKey.load(path: genpkey)
    }

    @Test func publicKeyPaths() {
        #expect(SigningKey.publicKeyPath(forPrivateKeyAt: "recorder.key") == "recorder.pub.pem")
        #expect(SigningKey.publicKeyPath(forPrivateKeyAt: "/etc/callrec/recorder.pem") == "/etc/callrec/recorder.pub.pem")
        #expect(SigningKey.publicKeyPath(forPrivateKeyAt: "recorder") == "recorder.pub.pem")
    }

    @Test func signingKeysDoNotPrintThemselves() {
        let key = SigningKey()
        let pemBody = key.privateKeyPEM.split(separator: "\n")[1]
        var dumped = ""
        dump(key, to: &dumped)
        #expect(!"\(key)".contains(pemBody) && !dumped.contains(pemBody))
        #expect("\(key)".hasPrefix("SigningKey(SHA256:"))
    }
}
