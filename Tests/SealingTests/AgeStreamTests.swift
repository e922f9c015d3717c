import CallrecTestSupport
import Foundation
import Sealing
import Testing

/// Sealing and opening age files: sizes around the chunk boundary, several
/// recipients, random access that touches only the chunks a range spans,
/// and every kind of damage failing with one line that names the file, the
/// chunk and its byte offset.
@Suite struct AgeStreamTests {
    typealias S = SealingTestSupport
    static let chunk = AgePayload.chunkSize

    /// Content lengths at and around the chunk boundaries.
    static let sizes = [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 7, 300_000]

    @Test(arguments: AgeStreamTests.sizes)
    func roundTrip(size: Int) throws {
        let alice = X25519Identity()
        let content = S.content(size)
        let sealed = try S.seal(content, to: [alice.recipient])
        // The stored length is the header, the nonce, the content and one tag per chunk.
        let chunks = max(1, (size + AgeStreamTests.chunk - 1) / AgeStreamTests.chunk)
        let headerLength = try #require(S.headerLength(sealed))
        #expect(sealed.count == headerLength + 16 + size + 16 * chunks)
        #expect(AgePayload.storedSize(contentSize: Int64(size)) == Int64(16 + size + 16 * chunks))
        #expect(try Age.open(sealed, with: [alice]) == content)

        let path = S.write(sealed)
        let reader = try AgeFileReader(path: path, identities: [alice])
        #expect(reader.contentSize == Int64(size))
        #expect(reader.chunkCount == Int64(chunks))
        #expect(try reader.read(0..<Int64(size)) == content)
    }

    @Test func bothLayoutsGiveTheSameContent() throws {
        let alice = X25519Identity()
        for size in [10, AgeStreamTests.chunk, AgeStreamTests.chunk + 10, 5 * AgeStreamTests.chunk + 3] {
            let content = S.content(size, seed: UInt64(size))
            let streamed = try S.seal(content, to: [alice.recipient], layout: .streaming)
            let held = try S.seal(content, to: [alice.recipient], layout: .firstChunkLast)
            #expect(streamed.count == held.count)
            #expect(try Age.open(held, with: [alice]) == content)
            #expect(try Age.open(streamed, with: [alice]) == content)
        }
    }

    @Test func everyRecipientOpensTheFileAndNobodyElse() throws {
        let people = (0..<3).map { _ in X25519Identity() }
        let content = S.content(100_000)
        let sealed = try S.seal(content, to: people.map(\.recipient))
        for person in people { #expect(try Age.open(sealed, with: [person]) == content) }
        let stranger = X25519Identity()
        let error = S.sealingError { _ = try Age.open(sealed, with: [stranger]) }
        #expect(error?.code == .noMatch)
        #expect(error?.message == "none of the 1 given key(s) opens it (the file is sealed to: 3 X25519)")
        // Among several identities, the one that matches opens it.
        #expect(try Age.open(sealed, with: [stranger, people[2]]) == content)
    }

    @Test func writesAreSealedInPiecesOfAnySize() throws {
        let alice = X25519Identity()
        let content = S.content(4 * AgeStreamTests.chunk + 123)
        let writer = try AgeWriter(recipients: [alice.recipient])
        let output = StoredBytesBuffer()
        try writer.begin(into: output)
        var offset = 0
        var step = 1
        while offset < content.count {
            let n = min(step, content.count - offset)
            try content[offset..<(offset + n)].withUnsafeBytes { try writer.append($0, into: output) }
            offset += n
            step = step * 3 + 1
        }
        try writer.finish(into: output)
        #expect(try Age.open(output.bytes, with: [alice]) == content)
        #expect(writer.storedSize == Int64(output.bytes.count))
    }

    /// The header is on disk from the start and each full chunk as soon as
    /// the next byte comes: a file cut by a crash opens up to its last whole
    /// chunk and then says it was cut short.
    @Test func aFileCutByACrashOpensUpToItsLastWholeChunk() throws {
        let alice = X25519Identity()
        let writer = try AgeWriter(recipients: [alice.recipient])
        let output = StoredBytesBuffer()
        try writer.begin(into: output)
        #expect(output.bytes.count == writer.header.count + 16)
        let content = S.content(3 * AgeStreamTests.chunk + 500)
        try content.withUnsafeBytes { try writer.append($0, into: output) }
        // No finish: chunks 0...2 are stored, the last 500 bytes are still in memory.
        #expect(output.bytes.count == writer.header.count + 16 + 3 * AgePayload.sealedChunkSize)
        let path = S.write(output.bytes)
        var released: [UInt8] = []
        let error = S.sealingError { try AgeDecryptor.decrypt(path: path, identities: [alice]) { released += $0 } }
        #expect(released == Array(content.prefix(3 * AgeStreamTests.chunk)))
        #expect(error?.code == .payload)
        #expect(error?.chunk == 3)
        #expect(error?.description.contains("without a final chunk: it was cut short") == true)
    }

    @Test func overwritesReachOnlyUnsealedContent() throws {
        let alice = X25519Identity()
        // Streaming: the unsealed tail may change, a sealed chunk may not.
        let writer = try AgeWriter(recipients: [alice.recipient])
        let output = StoredBytesBuffer()
        try writer.begin(into: output)
        try S.content(AgeStreamTests.chunk + 100).withUnsafeBytes { try writer.append($0, into: output) }
        try [UInt8]([0xAA, 0xBB]).withUnsafeBytes { try writer.overwrite($0, at: Int64(AgeStreamTests.chunk + 10), into: output) }
        let error = S.sealingError { try [UInt8]([0xCC]).withUnsafeBytes { try writer.overwrite($0, at: 4, into: output) } }
        #expect(error?.code == .usage)
        #expect(error?.chunk == 0)
        #expect(error?.message.contains("chunk 0 is already sealed") == true)
        try writer.finish(into: output)
        let opened = try Age.open(output.bytes, with: [alice])
        #expect(opened[AgeStreamTests.chunk + 10] == 0xAA && opened[AgeStreamTests.chunk + 11] == 0xBB)

        // First chunk last: a header in the first 64 KiB is rewritten at the end, as libsndfile does.
        let held = try AgeWriter(recipients: [alice.recipient], layout: .firstChunkLast)
        let heldOutput = StoredBytesBuffer()
        try held.begin(into: heldOutput)
        var content = S.content(3 * AgeStreamTests.chunk)
        try content.withUnsafeBytes { try held.append($0, into: heldOutput) }
        let patch: [UInt8] = Array("RIFF".utf8) + [1, 2, 3, 4]
        try patch.withUnsafeBytes { try held.overwrite($0, at: 0, into: heldOutput) }
        try held.finish(into: heldOutput)
        content.replaceSubrange(0..<8, with: patch)
        #expect(try Age.open(heldOutput.bytes, with: [alice]) == content)
    }

    @Test func aPassphraseRecipientMustBeAlone() throws {
        let passphrase = ScryptRecipient(passphrase: try Passphrase("correct horse"), workFactor: 10)
        let error = S.sealingError { _ = try AgeWriter(recipients: [passphrase, X25519Identity().recipient]) }
        #expect(error?.code == .usage)
        let empty = S.sealingError { _ = try AgeWriter(recipients: []) }
        #expect(empty?.code == .usage)
    }

    @Test func aPassphraseSealsAndOpens() throws {
        let passphrase = try Passphrase("correct horse battery staple")
        let content = S.content(70_000)
        let sealed = try Age.seal(content, to: [ScryptRecipient(passphrase: passphrase, workFactor: 10)])
        #expect(String(decoding: sealed.prefix(40), as: UTF8.self).contains("-> scrypt "))
        #expect(try Age.open(sealed, with: [ScryptIdentity(passphrase: passphrase)]) == content)
        let wrong = S.sealingError { _ = try Age.open(sealed, with: [ScryptIdentity(passphrase: try Passphrase("wrong"))]) }
        #expect(wrong?.code == .noMatch)
        #expect(wrong?.message == "the passphrase is wrong (the file is sealed with a passphrase)")
        // A limit below the file's work factor refuses to spend the time.
        let limited = S.sealingError { _ = try Age.open(sealed, with: [ScryptIdentity(passphrase: passphrase, maximumWorkFactor: 9)]) }
        #expect(limited?.code == .header)
    }

    // MARK: Random access

    @Test func anyRangeReadsOnlyTheChunksItSpans() throws {
        let alice = X25519Identity()
        let size = 20 * AgeStreamTests.chunk + 1234
        let content = S.content(size, seed: 7)
        let path = S.write(try S.seal(content, to: [alice.recipient]))
        let reader = try AgeFileReader(path: path, identities: [alice])
        // Opening decrypts the final chunk, to know the file's end is real.
        #expect(reader.chunksDecrypted == 1)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let start = Int64.random(in: 0..<Int64(size), using: &generator)
            let length = Int64.random(in: 0...min(Int64(size) - start, 3 * Int64(AgeStreamTests.chunk)), using: &generator)
            let before = reader.chunksDecrypted
            let bytes = try reader.read(start..<(start + length))
            #expect(bytes == Array(content[Int(start)..<Int(start + length)]))
            let spanned = length == 0 ? 0 : (start + length - 1) / Int64(AgeStreamTests.chunk) - start / Int64(AgeStreamTests.chunk) + 1
            // At most the chunks spanned (one fewer when the first is the one kept from the last read).
            #expect(reader.chunksDecrypted - before <= Int(spanned))
            #expect(reader.chunksDecrypted - before >= Int(max(0, spanned - 1)))
        }
        // A read into a buffer past the end is short, as pread is.
        var tail = [UInt8](repeating: 0, count: 5000)
        let n = try tail.withUnsafeMutableBytes { try reader.read(into: $0, at: Int64(size - 100)) }
        #expect(n == 100 && Array(tail[..<100]) == Array(content.suffix(100)))
        #expect(S.sealingError { _ = try reader.read(0..<Int64(size + 1)) }?.code == .usage)
    }

    @Test func smallReadsInARowDecryptEachChunkOnce() throws {
        let alice = X25519Identity()
        let content = S.content(4 * AgeStreamTests.chunk)
        let reader = try AgeFileReader(path: S.write(try S.seal(content, to: [alice.recipient])), identities: [alice])
        var out: [UInt8] = []
        var offset: Int64 = 0
        while offset < reader.contentSize {
            let n = min(Int64(1000), reader.contentSize - offset)
            out += try reader.read(offset..<(offset + n))
            offset += n
        }
        #expect(out == content)
        // Chunks 0...3 once each, and the final chunk once more at open (it was evicted since).
        #expect(reader.chunksDecrypted == 5)
    }

    // MARK: Damage

    /// A sealed file of four chunks and a bit, with the identity that opens it.
    static func sample() throws -> (identity: X25519Identity, content: [UInt8], sealed: [UInt8], payloadStart: Int) {
        let alice = X25519Identity()
        let content = S.content(4 * chunk + 1000, seed: 3)
        let sealed = try S.seal(content, to: [alice.recipient])
        return (alice, content, sealed, try #require(S.headerLength(sealed)) + 16)
    }

    static func chunkOffset(_ payloadStart: Int, _ index: Int) -> Int { payloadStart + index * AgePayload.sealedChunkSize }

    /// Both readers on damaged bytes: the sequential one hands out only chunks
    /// before the damage and ends with the error; the random-access one fails
    /// at open or at the read that touches it.
    static func open(_ bytes: [UInt8], with identity: X25519Identity) -> (released: [UInt8], sequential: SealingError?, random: SealingError?, path: String) {
        let path = S.write(bytes, name: "call.opus.age")
        var released: [UInt8] = []
        let sequential = S.sealingError { try AgeDecryptor.decrypt(path: path, identities: [identity]) { released += $0 } }
        let random = S.sealingError {
            let reader = try AgeFileReader(path: path, identities: [identity])
            _ = try reader.read(0..<reader.contentSize)
        }
        return (released, sequential, random, path)
    }

    @Test func truncatedAtAChunkBoundary() throws {
        let (alice, content, sealed, start) = try AgeStreamTests.sample()
        let cut = Array(sealed.prefix(AgeStreamTests.chunkOffset(start, 3)))
        let result = AgeStreamTests.open(cut, with: alice)
        #expect(result.released == Array(content.prefix(3 * AgeStreamTests.chunk)))
        let offset = AgeStreamTests.chunkOffset(start, 3)
        #expect(
            result.sequential?.description
                == "\(result.path): the file ends after chunk 2, before byte offset \(offset), without a final chunk: it was cut short")
        #expect(
            result.random?.description
                == "\(result.path): the file ends after chunk 2, at byte offset \(offset), without a final chunk: it was cut short")
        #expect(result.random?.chunk == 3 && result.sequential?.chunk == 3)
    }

    @Test func truncatedInsideAChunk() throws {
        let (alice, content, sealed, start) = try AgeStreamTests.sample()
        let cut = Array(sealed.prefix(AgeStreamTests.chunkOffset(start, 2) + 30_000))
        let result = AgeStreamTests.open(cut, with: alice)
        #expect(result.released == Array(content.prefix(2 * AgeStreamTests.chunk)))
        let offset = AgeStreamTests.chunkOffset(start, 2)
        #expect(
            result.sequential?.description
                == "\(result.path): chunk 2 at byte offset \(offset) (the last 30000 bytes of the file) does not authenticate: the file was cut inside this chunk, or altered")
        #expect(
            result.random?.description
                == "\(result.path): chunk 2 at byte offset \(offset), the final chunk, does not authenticate: the file was cut inside it, or altered")
        // Cut inside the last tag: no whole number of chunks has that length.
        let inTag = AgeStreamTests.open(Array(sealed.dropLast(5)), with: alice)
        #expect(inTag.sequential?.code == .payload && inTag.sequential?.chunk == 4)
        #expect(inTag.random?.code == .payload && inTag.random?.chunk == 4)
    }

    @Test func twoChunksSwapped() throws {
        let (alice, content, sealed, start) = try AgeStreamTests.sample()
        var swapped = sealed
        let a = AgeStreamTests.chunkOffset(start, 1), b = AgeStreamTests.chunkOffset(start, 2)
        let size = AgePayload.sealedChunkSize
        swapped.replaceSubrange(a..<(a + size), with: sealed[b..<(b + size)])
        swapped.replaceSubrange(b..<(b + size), with: sealed[a..<(a + size)])
        let result = AgeStreamTests.open(swapped, with: alice)
        #expect(result.released == Array(content.prefix(AgeStreamTests.chunk)))
        let message = "\(result.path): chunk 1 at byte offset \(a) does not authenticate: the file was altered, or its chunks reordered"
        #expect(result.sequential?.description == message)
        #expect(result.random?.description == message)
    }

    @Test func aFlippedPayloadBit() throws {
        let (alice, content, sealed, start) = try AgeStreamTests.sample()
        var flipped = sealed
        flipped[AgeStreamTests.chunkOffset(start, 3) + 777] ^= 0x10
        let result = AgeStreamTests.open(flipped, with: alice)
        #expect(result.released == Array(content.prefix(3 * AgeStreamTests.chunk)))
        #expect(result.sequential?.chunk == 3 && result.sequential?.offset == Int64(AgeStreamTests.chunkOffset(start, 3)))
        #expect(result.random?.chunk == 3)
        // The chunks before it still read at random.
        let reader = try AgeFileReader(path: result.path, identities: [alice])
        #expect(try reader.read(0..<100) == Array(content.prefix(100)))
        // The flipped final chunk fails already at open.
        var last = sealed
        last[last.count - 3] ^= 1
        #expect(AgeStreamTests.open(last, with: alice).random?.chunk == 4)
    }

    @Test func aFlippedHeaderByte() throws {
        let (alice, _, sealed, _) = try AgeStreamTests.sample()
        // The version line.
        var version = sealed
        version[19] = UInt8(ascii: "w")
        let v = AgeStreamTests.open(version, with: alice)
        #expect(v.sequential?.code == .header && v.random?.code == .header)
        #expect(v.sequential?.message == "unsupported age version \"w1\" (callrec reads v1)")
        // A character of the MAC.
        let macLine = try #require(S.lineStart(sealed, prefix: "--- "))
        var mac = sealed
        mac[macLine + 10] = mac[macLine + 10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let m = AgeStreamTests.open(mac, with: alice)
        #expect(m.sequential?.code == .headerMAC && m.random?.code == .headerMAC)
        #expect(m.sequential?.message == "the header's MAC does not match: the header was altered after it was written")
        // A byte of the payload nonce (right after the header) changes every chunk's key.
        var nonce = sealed
        nonce[macLine + 48] ^= 1
        let n = AgeStreamTests.open(nonce, with: alice)
        #expect(n.sequential?.code == .payload && n.sequential?.chunk == 0)
        #expect(n.released.isEmpty)
    }

    @Test func anAlteredStanzaBody() throws {
        // Sealed to Alice and Bob; Bob's stanza altered. Alice still finds hers,
        // but the header's MAC shows the change.
        let alice = X25519Identity(), bob = X25519Identity()
        let sealed = try S.seal(S.content(1000), to: [alice.recipient, bob.recipient])
        let bodies = S.stanzaBodyLines(sealed)
        #expect(bodies.count == 2)
        var altered = sealed
        altered[bodies[1] + 5] = altered[bodies[1] + 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let byAlice = AgeStreamTests.open(altered, with: alice)
        #expect(byAlice.sequential?.code == .headerMAC && byAlice.random?.code == .headerMAC)
        // Bob's own stanza no longer opens for him.
        let byBob = AgeStreamTests.open(altered, with: bob)
        #expect(byBob.sequential?.code == .noMatch)
    }

    @Test func theWrongKey() throws {
        let (_, _, sealed, _) = try AgeStreamTests.sample()
        let result = AgeStreamTests.open(sealed, with: X25519Identity())
        #expect(result.sequential?.description == "\(result.path): none of the 1 given key(s) opens it (the file is sealed to: 1 X25519)")
        #expect(result.random?.code == .noMatch)
        #expect(result.released.isEmpty)
    }

    @Test func notAnAgeFile() throws {
        let path = S.write(Array("OggS\0\u{2}".utf8) + S.content(100), name: "call.opus")
        let error = S.sealingError { _ = try AgeFileReader(path: path, identities: [X25519Identity()]) }
        #expect(error?.description == "\(path): not an age file (it does not start with \"age-encryption.org/v1\")")
        let missing = S.sealingError { _ = try AgeFileReader(path: path + ".missing", identities: []) }
        #expect(missing?.code == .io)
    }

    @Test func keysDoNotPrintThemselves() throws {
        let identity = X25519Identity()
        let secret = identity.secretKeyText
        #expect(!"\(identity)".contains(secret) && !String(reflecting: identity).contains(secret))
        var dumped = ""
        dump(identity, to: &dumped)
        #expect(!dumped.contains(secret.dropFirst(16)))
        #expect("\(identity)" == "X25519Identity(\(identity.recipient))")
        let passphrase = try Passphrase("hunter2")
        var dumpedPassphrase = ""
        dump(ScryptIdentity(passphrase: passphrase), to: &dumpedPassphrase)
        #expect(!"\(passphrase)".contains("hunter2") && !dumpedPassphrase.contains("hunter2"))
    }
}

extension SealingTestSupport {
    /// Where the payload nonce starts: just after the MAC line.
    static func headerLength(_ sealed: [UInt8]) -> Int? {
        guard let mac = lineStart(sealed, prefix: "--- ") else { return nil }
        return sealed[mac...].firstIndex(of: 0x0A).map { $0 + 1 }
    }

    /// The offset of the first line starting with `prefix`.
    static func lineStart(_ bytes: [UInt8], prefix: String) -> Int? {
        let p = Array(prefix.utf8)
        var start = 0
        while start < bytes.count {
            if bytes[start...].starts(with: p) { return start }
            guard let lf = bytes[start...].firstIndex(of: 0x0A) else { return nil }
            start = lf + 1
        }
        return nil
    }

    /// The offsets of each stanza's first body line.
    static func stanzaBodyLines(_ bytes: [UInt8]) -> [Int] {
        var out: [Int] = []
        var start = 0
        let end = lineStart(bytes, prefix: "--- ") ?? 0
        while start < end {
            let lf = bytes[start...].firstIndex(of: 0x0A)!
            if bytes[start...].starts(with: Array("-> ".utf8)) { out.append(lf + 1) }
            start = lf + 1
        }
        return out
    }
}
