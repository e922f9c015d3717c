import CallrecCore

#if canImport(Glibc)
import Glibc
#endif

/// Tells ciphertext from G.711 and G.722 audio in RTP payloads, so that
/// media an SDP calls plain RTP but that was encrypted after all (SRTP keyed
/// by a ZRTP handshake on the media path, RFC 6189) is never decoded and
/// written as noise.
///
/// Evidence, per packet of an audio payload type:
/// - the ZRTP handshake: packets on the media ports that are not RTP version 2
///   but carry ZRTP's magic cookie `ZRTP` at byte 4 (`isZRTP`);
/// - a tag-sized length: an SRTP packet is its codec's payload plus a 4- or
///   10-byte authentication tag, and G.711 and G.722 payloads are whole
///   multiples of 10 ms (80 bytes), so a payload of 80n + 4 or 80n + 10 bytes
///   carries a tag;
/// - the bytes themselves (`looksRandom`). G.711 codes are sign, segment
///   (3 bits) and step: within one packet real audio uses few segments (its
///   level changes little in 20 ms) and neighbouring samples are correlated
///   (a phone's band ends at 3.4 kHz); ciphertext uses all eight segments
///   evenly and has no correlation. Both must hold. G.722 codes are ADPCM
///   indices whose spread is wide for real audio too, so for G.722 the
///   test is the number of distinct byte values, well above what real
///   G.722 reaches.
///
/// A stream is taken for encrypted at the first packet that has a tag and
/// random bytes (once a ZRTP handshake was seen on the call, the tag alone
/// does), and from then on every packet is dropped until `plainToLeave`
/// packets in a row have no tag and do not look random: the plaintext before
/// the handshake (and after it, if the media fall back to clear) is kept,
/// the ciphertext never reaches a decoder. A packet without a tag-sized
/// length never starts it, so audio of the usual lengths (whole 10 ms) is
/// never dropped however noise-like it is.
///
/// Calibrated on every G.711 and G.722 packet of the real captures in
/// ../shared/data (none looks random, the ones with the flattest segment use
/// still correlate by 0.41 or more) and on generated speech, silence, tones
/// and loud noise; the SRTP packets of a real capture (AES-CM) all look
/// random. Per packet it reads the payload once; nothing is allocated.
public struct CiphertextDetector: Sendable {
    /// How a payload's bytes code audio.
    public enum Coding: Sendable {
        case ulaw, alaw, g722
    }

    /// Packets in a row that must look like audio before an encrypted stream is decoded again.
    public static let plainToLeave = 3
    /// The largest |autocorrelation| (lags 1-8) random G.711 reaches; real audio exceeds it.
    static let maxRandomCorrelation = 0.35

    /// Whether the stream is now taken for encrypted.
    public private(set) var encrypted = false
    /// Packets dropped as ciphertext.
    public private(set) var packets = 0
    /// Byte counts of the dropped payloads, for their entropy.
    private var histogram = [Int](repeating: 0, count: 256)
    private var bytes = 0
    private var plainInARow = 0

    public init() {}

    /// How payloads of `encoding` (an SDP encoding name in upper case) code audio; nil for anything but G.711 and G.722.
    public static func coding(of encoding: String) -> Coding? {
        switch encoding {
        case "PCMU": .ulaw
        case "PCMA": .alaw
        case "G722": .g722
        default: nil
        }
    }

    /// The entropy of the bytes dropped as ciphertext, in bits per byte (8 for perfect ciphertext); nil when none.
    public var entropy: Double? {
        guard bytes > 0 else { return nil }
        let n = Double(bytes)
        return -histogram.reduce(0.0) { sum, count in count == 0 ? sum : sum + Double(count) / n * log2(Double(count) / n) }
    }

    /// Whether the packet whose payload is `payload` (coded as `coding`) is
    /// ciphertext, to be dropped; `zrtp`: a ZRTP handshake was seen on the call.
    public mutating func isCiphertext(_ payload: UnsafeRawBufferPointer, coding: Coding, zrtp: Bool) -> Bool {
        let tag = Self.tagLength(payload.count)
        let body = UnsafeRawBufferPointer(rebasing: payload[0..<(payload.count - (tag ?? 0))])
        if encrypted {
            if tag == nil && !Self.looksRandom(payload, coding: coding) {
                plainInARow += 1
                if plainInARow >= Self.plainToLeave {
                    encrypted = false
                    plainInARow = 0
                    return false
                }
            } else {
                plainInARow = 0
            }
            drop(payload)
            return true
        }
        // Without a tag-sized length nothing is ciphertext: noise-like audio (a
        // fax tone, loud noise) may look random, but is never so long.
        guard tag != nil, zrtp || Self.looksRandom(body, coding: coding) else { return false }
        encrypted = true
        plainInARow = 0
        drop(payload)
        return true
    }

    /// Whether a packet of a payload type that is not G.711 or G.722 audio
    /// (RFC 4733 events, comfort noise) is to be dropped: it is while the
    /// stream is taken for encrypted, since its payload is ciphertext too.
    public mutating func isCiphertextWhileEncrypted(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard encrypted else { return false }
        drop(payload)
        return true
    }

    private mutating func drop(_ payload: UnsafeRawBufferPointer) {
        packets += 1
        for b in payload { histogram[Int(b)] += 1 }
        bytes += payload.count
    }

    /// The SRTP authentication tag a payload of `count` bytes carries: 4 or
    /// 10 when it is that much longer than a whole number of 10 ms of G.711 or
    /// G.722 (80 bytes), else nil.
    public static func tagLength(_ count: Int) -> Int? {
        guard count > 80 else { return nil }
        switch count % 80 {
        case 4: return 4
        case 10: return 10
        default: return nil
        }
    }

    /// Whether `datagram` is a ZRTP packet (RFC 6189 section 5): version bits
    /// 0 (not RTP), the magic cookie `ZRTP` (0x5A525450) at byte 4.
    public static func isZRTP(_ datagram: UnsafeRawBufferPointer) -> Bool {
        datagram.count >= 12 && datagram[0] >> 6 == 0 && datagram.u32be(at: 4) == 0x5A52_5450
    }

    /// Whether `payload` looks like ciphertext rather than audio coded as `coding`.
    public static func looksRandom(_ payload: UnsafeRawBufferPointer, coding: Coding) -> Bool {
        let n = payload.count
        guard n >= 64 else { return false }
        switch coding {
        case .ulaw, .alaw:
            // Every segment used, each by at least 1/40 of the samples (4 of 160;
            // ciphertext: 20 on average, below 4 once in 10^5 packets).
            let segments = segmentCounts(payload)
            guard (segments &* 40).min() >= Int32(n) else { return false }
            return maxCorrelation(payload, coding: coding) < maxRandomCorrelation
        case .g722:
            return distinctBytes(payload) * 1000 >= distinctThreshold(n)
        }
    }

    /// Distinct byte values among `payload`.
    static func distinctBytes(_ payload: UnsafeRawBufferPointer) -> Int {
        var seen = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        for b in payload {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: seen.0 |= bit
            case 1: seen.1 |= bit
            case 2: seen.2 |= bit
            default: seen.3 |= bit
            }
        }
        return seen.0.nonzeroBitCount + seen.1.nonzeroBitCount + seen.2.nonzeroBitCount + seen.3.nonzeroBitCount
    }

    /// The distinct-value count (times 1000) a random payload of `n` bytes
    /// reaches but real G.722 speech does not: 90 % of the expected count for
    /// random bytes, 256 (1 - (255/256)^n) (109 of 160; real G.722 reaches 102).
    static func distinctThreshold(_ n: Int) -> Int {
        Int(256_000 * (1 - pow(255.0 / 256.0, Double(n))) * 0.9)
    }

    /// How many of the codes use each of the eight G.711 segments (bits 4-6;
    /// A-law's even-bit inversion only permutes them).
    static func segmentCounts(_ payload: UnsafeRawBufferPointer) -> SIMD8<Int32> {
        var segments = SIMD8<Int32>(repeating: 0)
        for b in payload { segments[Int(b >> 4) & 7] &+= 1 }
        return segments
    }

    /// The largest |normalised autocorrelation| at lags 1 to 8 of the decoded
    /// G.711 samples (decoded again per lag rather than stored: nothing is allocated).
    static func maxCorrelation(_ payload: UnsafeRawBufferPointer, coding: Coding) -> Double {
        let n = payload.count
        func sample(_ i: Int) -> Double { Double(coding == .ulaw ? ulaw(payload[i]) : alaw(payload[i])) }
        var mean = 0.0
        for i in 0..<n { mean += sample(i) }
        mean /= Double(n)
        var variance = 0.0
        for i in 0..<n { variance += (sample(i) - mean) * (sample(i) - mean) }
        guard variance > 0 else { return 1 }
        var largest = 0.0
        for lag in 1...8 {
            var sum = 0.0
            for i in 0..<(n - lag) { sum += (sample(i) - mean) * (sample(i + lag) - mean) }
            largest = max(largest, abs(sum / variance))
        }
        return largest
    }

    /// ITU-T G.711 u-law to linear (14-bit scale).
    static func ulaw(_ code: UInt8) -> Int {
        let c = ~code
        let magnitude = ((Int(c & 0x0F) << 3) + 0x84) << Int((c >> 4) & 7) - 0x84
        return c & 0x80 != 0 ? -magnitude : magnitude
    }

    /// ITU-T G.711 A-law to linear (13-bit scale).
    static func alaw(_ code: UInt8) -> Int {
        let c = code ^ 0x55
        let segment = Int((c >> 4) & 7)
        let step = Int(c & 0x0F) << 4
        let magnitude = segment == 0 ? step + 8 : (step + 0x108) << (segment - 1)
        return c & 0x80 != 0 ? magnitude : -magnitude
    }
}
