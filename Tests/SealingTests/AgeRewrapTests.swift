import CallrecTestSupport
import Foundation
import Output
import Sealing
import Testing

/// Adding recipients to a sealed file: a new header, the payload byte for
/// byte, written to a new file; the old one untouched.
@Suite struct AgeRewrapTests {
    typealias S = SealingTestSupport

    @Test func aRecipientAddedLaterOpensTheFileAndThePayloadStaysAsItWas() throws {
        let compliance = X25519Identity(), agent = X25519Identity()
        let content = S.content(3 * AgePayload.chunkSize + 99)
        let original = try S.seal(content, to: [compliance.recipient])
        let source = S.write(original, name: "call.opus.age")
        #expect(S.sealingError { _ = try Age.open(original, with: [agent]) }?.code == .noMatch)

        let target = (source as NSString).deletingLastPathComponent + "/call.opus.age.resealed"
        let file = try AtomicFile(path: target)
        let written = try AgeRewrap.addingRecipients([agent.recipient], toFileAt: source, identities: [compliance]) { try file.write($0) }
        try file.commit()
        let resealed = S.read(target)
        #expect(Int64(resealed.count) == written)

        // Both open it, to the same content; the old header's stanzas are kept as they were.
        #expect(try Age.open(resealed, with: [agent]) == content)
        #expect(try Age.open(resealed, with: [compliance]) == content)
        let oldHeader = try #require(S.headerLength(original)), newHeader = try #require(S.headerLength(resealed))
        let oldMAC = try #require(S.lineStart(original, prefix: "--- "))
        #expect(resealed.starts(with: original[..<oldMAC]))
        // The payload (nonce and chunks) is the same bytes.
        #expect(Array(resealed[newHeader...]) == Array(original[oldHeader...]))
        // The source is untouched; age reads the new file.
        #expect(S.read(source) == original)
        let keyFile = FixturePaths.temporaryDirectory("keys") + "/agent.key"
        try agent.save(to: keyFile)
        let byAge = try S.toolBytes("age", ["-d", "-i", keyFile, target])
        #expect(byAge.status == 0 && byAge.bytes == content)
    }

    @Test func aDamagedFileIsNotGivenANewHeader() throws {
        let compliance = X25519Identity()
        var sealed = try S.seal(S.content(2 * AgePayload.chunkSize + 10), to: [compliance.recipient])
        let start = try #require(S.headerLength(sealed)) + 16
        sealed[start + AgePayload.sealedChunkSize + 5] ^= 0x80
        let source = S.write(sealed)
        var out: [UInt8] = []
        let error = S.sealingError {
            try AgeRewrap.addingRecipients([X25519Identity().recipient], toFileAt: source, identities: [compliance]) { out += $0 }
        }
        #expect(error?.code == .payload && error?.chunk == 1)
        #expect(error?.description.hasPrefix(source + ": chunk 1 at byte offset") == true)
    }

    @Test func onlyAnIdentityThatOpensItCanReseal() throws {
        let source = S.write(try S.seal(S.content(10), to: [X25519Identity().recipient]))
        let error = S.sealingError {
            try AgeRewrap.addingRecipients([X25519Identity().recipient], toFileAt: source, identities: [X25519Identity()]) { _ in }
        }
        #expect(error?.code == .noMatch)
        // A passphrase file admits no other recipient.
        let passphrase = try Passphrase("pw")
        let scrypt = S.write(try Age.seal(S.content(10), to: [ScryptRecipient(passphrase: passphrase, workFactor: 10)]))
        let mixed = S.sealingError {
            try AgeRewrap.addingRecipients([X25519Identity().recipient], toFileAt: scrypt, identities: [ScryptIdentity(passphrase: passphrase)]) { _ in }
        }
        #expect(mixed?.code == .usage)
    }
}
