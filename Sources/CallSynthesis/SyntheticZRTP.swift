import CallrecCore
import RTP

/// ZRTP (RFC 6189) on a call's media path, for `SyntheticCall.zrtpAt`: the
/// handshake the phones run on their RTP ports although the SDP says plain
/// RTP/AVP, and the SRTP that follows, keyed by it (so by nothing the
/// capture shows).
public enum SyntheticZRTP {
    /// Seconds from the handshake's first packet to the first SRTP packet.
    public static let handshakeLength = 0.4
    /// The SRTP suite the parties agree on: AES-CM with a 32-bit tag (payload + 4 bytes).
    public static let suite = "AES_CM_128_HMAC_SHA1_32"

    /// The handshake in order: who sends which message, its length in 32-bit
    /// words (RFC 6189 section 5: Hello with one algorithm of each kind,
    /// Commit, DHPart1/2 for EC25, Confirm1/2, the ACKs), and when (seconds
    /// from the handshake's start). The caller is the initiator.
    public static let messages: [(party: SyntheticCall.Party, type: String, words: Int, at: Double)] = [
        (.caller, "Hello   ", 27, 0.000), (.callee, "HelloACK", 3, 0.030), (.callee, "Hello   ", 27, 0.031),
        (.caller, "HelloACK", 3, 0.061), (.caller, "Commit  ", 29, 0.090), (.callee, "DHPart1 ", 37, 0.150),
        (.caller, "DHPart2 ", 37, 0.210), (.callee, "Confirm1", 19, 0.270), (.caller, "Confirm2", 19, 0.330),
        (.callee, "Conf2ACK", 3, 0.360),
    ]

    /// One ZRTP packet: version-0 header with the sequence number, the magic
    /// cookie `ZRTP` and the sender's SSRC; the message (preamble 0x505a, its
    /// length in words, the 8-byte type, a body of random bytes: keys, hashes,
    /// nonces); the CRC-32c of all of it (RFC 3309, as the RFC asks).
    static func packet(type: String, words: Int, sequence: UInt16, ssrc: UInt32, rng: inout SeededRandom) -> [UInt8] {
        var bytes: [UInt8] = [0x10, 0x00, UInt8(sequence >> 8), UInt8(sequence & 0xFF), 0x5A, 0x52, 0x54, 0x50]
        bytes += [UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
        bytes += [0x50, 0x5A, UInt8(words >> 8), UInt8(words & 0xFF)]
        bytes += Array(type.utf8.prefix(8))
        func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        if type == "Hello   " {
            // Version, client identifier, H3, ZID; flags and one algorithm of each kind
            // (hash, cipher, auth tag, key agreement, SAS); the MAC.
            bytes += Array("1.10".utf8) + Array("callrec synth   ".utf8) + random(32) + random(12)
            bytes += [0x00, 0x01, 0x11, 0x11] + Array("S256AES1HS32EC25B32 ".utf8) + random(8)
        }
        bytes += random(12 + words * 4 - bytes.count)
        // Stored least significant byte first, as SCTP's (RFC 3309) and as tshark checks it.
        let crc = crc32c(bytes)
        bytes += [UInt8(crc & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8((crc >> 16) & 0xFF), UInt8(crc >> 24)]
        return bytes
    }

    /// CRC-32c (Castagnoli, reflected 0x82F63B78), as SCTP and ZRTP use it; a test fixture's checksum.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    /// The SRTP session `party` encrypts with after the handshake: a key made
    /// from the seed (the handshake's DH result in real life), in no SDP.
    static func session(for party: SyntheticCall.Party, seed: UInt64) -> SRTPSession? {
        var rng = SeededRandom(seed: seed &+ (party == .caller ? 501 : 502))
        return SRTPSession(suite: suite, keySalt: (0..<30).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, sending: true)
    }
}
