import CallrecTestSupport
import Foundation
import RTP
import Testing

/// SRTPSession on its own: libsrtp's published reference packets, and the
/// refusals a recorder relies on (a tampered, replayed or wrongly keyed
/// packet gives nil, never noise). End to end it is covered by
/// EncryptedMediaTests; these say which part broke.
@Suite struct SRTPSessionTests {
    /// libsrtp's reference key (test/srtp_driver.c, `srtp_validate`): the
    /// master key and salt of RFC 3711 Appendix B.3.
    static let referenceKey: [UInt8] = [
        0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
        0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
    ]
    /// libsrtp's reference RTP packet: SSRC 0xcafebabe, sequence 0x1234, 16 bytes of 0xab.
    static let referencePlaintext: [UInt8] =
        [0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe] + [UInt8](repeating: 0xab, count: 16)
    /// What libsrtp's `srtp_validate` expects that packet to become under
    /// AES_CM_128_HMAC_SHA1_80: the header, the encrypted payload, a 10-byte tag.
    static let referenceCiphertext80: [UInt8] = [
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c,
        0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc,
        0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
    ]
    /// libsrtp's AES-256 reference key (`srtp_validate_aes_256`): 32 bytes of key, 14 of salt.
    static let reference256Key: [UInt8] = [
        0xf0, 0xf0, 0x49, 0x14, 0xb5, 0x13, 0xf2, 0x76, 0x3a, 0x1b, 0x1f, 0xa1, 0x30, 0xf1, 0x0e, 0x29,
        0x98, 0xf6, 0xf6, 0xe4, 0x3e, 0x43, 0x09, 0xd1, 0xe6, 0x22, 0xa0, 0xe3, 0x32, 0xb9, 0xf1, 0xb6,
        0x3b, 0x04, 0x80, 0x3d, 0xe5, 0x1e, 0xe7, 0xc9, 0x64, 0x23, 0xab, 0x5b, 0x78, 0xd2,
    ]
    /// The reference packet under AES_256_CM_HMAC_SHA1_80 (`srtp_validate_aes_256`).
    static let reference256Ciphertext80: [UInt8] = [
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xf1, 0xd9, 0xde, 0x17,
        0xff, 0x25, 0x1f, 0xf1, 0xaa, 0x00, 0x77, 0x74, 0xb0, 0xb4, 0xb4, 0x0d, 0xa0, 0x8d, 0x9d, 0x9a,
        0x5b, 0x3a, 0x55, 0xd8, 0x87, 0x3b,
    ]

    /// The SDES example of RFC 4568 section 9.1 (an offer's `a=crypto` line),
    /// whose inline key decodes to the 30 bytes of master key and salt.
    static let rfc4568Line = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"

    static var rfc4568KeySalt: [UInt8] {
        let inline = rfc4568Line.split(separator: " ")[2].dropFirst("inline:".count).prefix { $0 != "|" }
        return Array(Data(base64Encoded: String(inline))!)
    }

    /// `packet` protected (a new buffer with room for the tag), or nil.
    static func protect(_ session: SRTPSession, _ packet: [UInt8]) -> [UInt8]? {
        var buffer = packet + [UInt8](repeating: 0, count: 16)
        guard let n = buffer.withUnsafeMutableBytes({ session.protect($0, count: packet.count) }) else { return nil }
        return Array(buffer[0..<n])
    }

    /// `packet` unprotected (a copy: libsrtp decrypts in place), or nil.
    static func unprotect(_ session: SRTPSession, _ packet: [UInt8]) -> [UInt8]? {
        var buffer = packet
        guard let n = buffer.withUnsafeMutableBytes({ session.unprotect($0, count: packet.count) }) else { return nil }
        return Array(buffer[0..<n])
    }

    /// Two seconds of speech-like audio, 8 kHz.
    static let speech = SpeechSynth(sampleRate: 8000, voice: .low).render(duration: 2, spurts: [(0.1, 1.9)], seed: 7)

    /// Packet `k` of a phone's stream: 20 ms of that audio (its high bytes, as
    /// 160 bytes of payload), sequence numbers from 1000.
    static func packet(_ k: Int, ssrc: UInt32 = 0x5EC0_0001) -> [UInt8] {
        let start = (k * 160) % (speech.count - 160)
        return PacketBuilder.rtp(
            payloadType: 0, sequence: UInt16(truncatingIfNeeded: 1000 + k), timestamp: UInt32(160 * k), ssrc: ssrc, marker: k == 0,
            payload: speech[start..<(start + 160)].map { UInt8(truncatingIfNeeded: $0 >> 8) })
    }

    @Test(arguments: [("AES_CM_128_HMAC_SHA1_80", 38), ("AES_CM_128_HMAC_SHA1_32", 32)])
    func protectsLibsrtpsReferencePacketAsLibsrtpPublishesIt(suite: String, length: Int) throws {
        let sender = try #require(SRTPSession(suite: suite, keySalt: Self.referenceKey, sending: true))
        let protected = try #require(Self.protect(sender, Self.referencePlaintext))
        // The _32 suite's tag is the same HMAC-SHA1 cut to 4 bytes (RFC 3711 section 4.2):
        // the first 32 bytes of the _80 packet.
        #expect(protected == Array(Self.referenceCiphertext80.prefix(length)))
        let receiver = try #require(SRTPSession(suite: suite, keySalt: Self.referenceKey))
        #expect(Self.unprotect(receiver, protected) == Self.referencePlaintext)
    }

    @Test func protectsLibsrtpsAES256ReferencePacket() throws {
        let sender = try #require(SRTPSession(suite: "AES_256_CM_HMAC_SHA1_80", keySalt: Self.reference256Key, sending: true))
        #expect(Self.protect(sender, Self.referencePlaintext) == Self.reference256Ciphertext80)
        let receiver = try #require(SRTPSession(suite: "AES_256_CM_HMAC_SHA1_80", keySalt: Self.reference256Key))
        #expect(Self.unprotect(receiver, Self.reference256Ciphertext80) == Self.referencePlaintext)
    }

    @Test(arguments: [("AES_CM_128_HMAC_SHA1_80", 10), ("AES_CM_128_HMAC_SHA1_32", 4)])
    func aStreamUnderAnSDESKeyComesBackAsItWasSent(suite: String, tag: Int) throws {
        let key = Self.rfc4568KeySalt
        #expect(key.count == 30)
        let sender = try #require(SRTPSession(suite: suite, keySalt: key, sending: true))
        let receiver = try #require(SRTPSession(suite: suite.lowercased(), keySalt: key))
        for k in 0..<100 {
            let rtp = Self.packet(k)
            let srtp = try #require(Self.protect(sender, rtp))
            #expect(srtp.count == rtp.count + tag)
            #expect(srtp[0..<12] == rtp[0..<12], "the header stays in the clear")
            #expect(srtp[12..<rtp.count] != rtp[12...], "packet \(k): the payload is encrypted")
            #expect(Self.unprotect(receiver, srtp) == rtp, "packet \(k)")
        }
    }

    @Test func aFlippedBitAnywhereFailsAuthentication() throws {
        let key = Self.rfc4568KeySalt
        let sender = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key, sending: true))
        let packets = try (0..<3).map { try #require(Self.protect(sender, Self.packet($0))) }
        let receiver = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key))
        #expect(Self.unprotect(receiver, packets[0]) != nil)
        // The header (sequence number), the payload, the tag: each is authenticated.
        for offset in [3, 12, 60, packets[1].count - 1] {
            var tampered = packets[1]
            tampered[offset] ^= 0x01
            #expect(Self.unprotect(receiver, tampered) == nil, "bit flipped at byte \(offset)")
        }
        // The untouched packet still decrypts: a forgery did not advance the replay window.
        #expect(Self.unprotect(receiver, packets[1]) == Self.packet(1))
        #expect(Self.unprotect(receiver, Array(packets[2].dropLast())) == nil, "a tag cut short")
    }

    @Test func aReplayedPacketIsRefusedButAReorderedOneIsNot() throws {
        let key = Self.rfc4568KeySalt
        let sender = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key, sending: true))
        let packets = try (0..<600).map { try #require(Self.protect(sender, Self.packet($0))) }
        let receiver = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key))
        #expect(Self.unprotect(receiver, packets[0]) == Self.packet(0))
        #expect(Self.unprotect(receiver, packets[0]) == nil, "the same packet again")
        // A capture can hold packets later than a phone's 128-packet window allows
        // (SRTPSession.replayWindow is 1024): 500 packets late still decrypts, once.
        #expect(Self.unprotect(receiver, packets[599]) == Self.packet(599))
        #expect(Self.unprotect(receiver, packets[99]) == Self.packet(99))
        #expect(Self.unprotect(receiver, packets[99]) == nil)
        #expect(Self.unprotect(receiver, packets[599]) == nil)
    }

    @Test func aWrongKeyOrSuiteDecryptsNothing() throws {
        let key = Self.rfc4568KeySalt
        let sender = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: key, sending: true))
        let srtp = try #require(Self.protect(sender, Self.packet(0)))
        var otherKey = key
        otherKey[0] ^= 0x80
        var otherSalt = key
        otherSalt[29] ^= 0x01
        for wrong in [otherKey, otherSalt, Self.referenceKey] {
            let receiver = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: wrong))
            #expect(Self.unprotect(receiver, srtp) == nil)
        }
        // The right key under the suite with the shorter tag reads 4 of the 10 tag bytes as payload.
        let short = try #require(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_32", keySalt: key))
        #expect(Self.unprotect(short, srtp) == nil)
    }

    @Test func refusesWhatItCannotDecrypt() {
        #expect(SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: Array(Self.rfc4568KeySalt.prefix(29))) == nil)
        #expect(SRTPSession(suite: "AES_256_CM_HMAC_SHA1_80", keySalt: Self.rfc4568KeySalt) == nil, "a 128-bit key for a 256-bit suite")
        #expect(SRTPSession(suite: "AEAD_AES_128_GCM", keySalt: [UInt8](repeating: 1, count: 28)) == nil)
        #expect(SRTPSession(suite: "F8_128_HMAC_SHA1_80", keySalt: Self.rfc4568KeySalt) == nil)
        // Shorter than an RTP header: refused before libsrtp sees it.
        let receiver = SRTPSession(suite: "AES_CM_128_HMAC_SHA1_80", keySalt: Self.rfc4568KeySalt)!
        #expect(Self.unprotect(receiver, [0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]) == nil)
    }
}
