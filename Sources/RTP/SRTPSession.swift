import CSRTP

/// Decrypts and authenticates the SRTP packets one party sends (RFC 3711),
/// with the master key and salt that party announced in its SDP (SDES,
/// RFC 4568). One libsrtp context per session; any SSRC is accepted.
///
/// A packet is returned only if its authentication tag verifies: a wrong
/// key, a tampered or replayed packet yields nil, never noise. The key is
/// copied into libsrtp and never kept, printed or written by callrec.
///
/// The corresponding C functions are `srtp_create`, `srtp_unprotect` and `srtp_dealloc`.
public final class SRTPSession {
    /// The SDES crypto suites callrec decrypts, by their SDP names.
    public enum Suite: String, Sendable, CaseIterable {
        case aes128HMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
        case aes128HMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"
        case aes256HMACSHA1_80 = "AES_256_CM_HMAC_SHA1_80"
        case aes256HMACSHA1_32 = "AES_256_CM_HMAC_SHA1_32"

        /// Bytes of master key and salt together (`inline:` decodes to this many).
        public var keySaltLength: Int {
            switch self {
            case .aes128HMACSHA1_80, .aes128HMACSHA1_32: 30
            case .aes256HMACSHA1_80, .aes256HMACSHA1_32: 46
            }
        }

        func apply(to policy: inout srtp_crypto_policy_t) {
            switch self {
            case .aes128HMACSHA1_80: callrec_srtp_policy_aes_cm_128_hmac_sha1_80(&policy)
            case .aes128HMACSHA1_32: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy)
            case .aes256HMACSHA1_80: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&policy)
            case .aes256HMACSHA1_32: srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&policy)
            }
        }
    }

    /// Packets in the replay window: a capture may reorder more than a receiver would.
    static let replayWindow: UInt = 1024

    /// libsrtp is initialised once per process.
    private static let initialised: Bool = srtp_init() == srtp_err_status_ok

    private var context: srtp_t?

    /// A session for `suite` with `keySalt` (master key followed by master
    /// salt), or nil when the suite is not one callrec decrypts or the key
    /// has the wrong length. `sending` makes a session that protects instead
    /// (for generating test captures).
    public init?(suite name: String, keySalt: [UInt8], sending: Bool = false) {
        guard SRTPSession.initialised, let suite = Suite(rawValue: name.uppercased()), keySalt.count == suite.keySaltLength
        else { return nil }
        var policy = srtp_policy_t()
        suite.apply(to: &policy.rtp)
        suite.apply(to: &policy.rtcp)
        policy.ssrc.type = sending ? ssrc_any_outbound : ssrc_any_inbound
        policy.window_size = SRTPSession.replayWindow
        policy.next = nil
        var key = keySalt
        let status = key.withUnsafeMutableBufferPointer { buffer -> srtp_err_status_t in
            policy.key = buffer.baseAddress
            return srtp_create(&context, &policy)
        }
        // Scrub the copy; libsrtp holds its own.
        for k in key.indices { key[k] = 0 }
        guard status == srtp_err_status_ok, context != nil else { return nil }
    }

    deinit {
        if let context { srtp_dealloc(context) }
    }

    /// Encrypts the RTP packet in the first `count` bytes of `packet` in
    /// place and appends its tag (`packet` needs room for it). Returns the
    /// SRTP length, or nil. The corresponding C function is `srtp_protect`.
    public func protect(_ packet: UnsafeMutableRawBufferPointer, count: Int) -> Int? {
        guard let context, let base = packet.baseAddress, count >= 12, count + 16 <= packet.count else { return nil }
        var length = Int32(count)
        guard srtp_protect(context, base, &length) == srtp_err_status_ok else { return nil }
        return Int(length)
    }

    /// Decrypts the SRTP packet in the first `count` bytes of `packet` in
    /// place. Returns the length of the RTP packet it became (header and
    /// payload, the tag removed), or nil when it does not authenticate.
    public func unprotect(_ packet: UnsafeMutableRawBufferPointer, count: Int) -> Int? {
        guard let context, let base = packet.baseAddress, count >= 12, count <= packet.count else { return nil }
        var length = Int32(count)
        guard srtp_unprotect(context, base, &length) == srtp_err_status_ok else { return nil }
        return Int(length)
    }
}
