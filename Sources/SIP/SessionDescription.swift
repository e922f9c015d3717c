import CallrecCore

/// The parts of an SDP body (RFC 4566, RFC 3264) that say where media goes
/// and how it is coded.
public struct SessionDescription: Sendable, Equatable {
    /// The session-level `c=` address.
    public var connection: IPAddress?
    /// Every `m=` line in order.
    public var media: [MediaDescription]

    /// Most `m=` lines kept.
    public static let maxMedia = 16
    /// Most payload formats kept per `m=` line.
    public static let maxFormats = 32

    public init(connection: IPAddress? = nil, media: [MediaDescription] = []) {
        self.connection = connection
        self.media = media
    }

    /// Parses an SDP body. Unknown lines are ignored; a line that cannot be
    /// parsed is skipped. Returns nil if the body is not SDP at all.
    public init?(_ body: [UInt8]) {
        guard body.starts(with: Array("v=".utf8)) else { return nil }
        connection = nil
        media = []
        var sessionDirection: MediaDirection? = nil
        let text = String(decoding: body, as: UTF8.self)
        for rawLine in text.split(whereSeparator: { $0.isNewline }) {
            guard rawLine.count >= 2, rawLine.dropFirst().first == "=" else { continue }
            let kind = rawLine.first!
            let value = rawLine.dropFirst(2)
            switch kind {
            case "c":
                let address = SessionDescription.connectionAddress(value)
                if media.isEmpty {
                    connection = address
                } else {
                    media[media.count - 1].connection = address
                }
            case "m":
                guard media.count < SessionDescription.maxMedia,
                      let m = MediaDescription(mLine: value) else { continue }
                media.append(m)
            case "a":
                if media.isEmpty {
                    // Session-level direction applies to every m= line that does not set its own.
                    if let d = MediaDirection(rawValue: String(value)) { sessionDirection = d }
                } else {
                    media[media.count - 1].apply(attribute: value)
                }
            default:
                continue
            }
        }
        if let d = sessionDirection {
            for k in media.indices where !media[k].directionIsExplicit { media[k].direction = d }
        }
    }

    /// `IN IP4 10.0.0.1` or `IN IP6 2001:db8::1` (a multicast `/ttl` suffix is dropped).
    static func connectionAddress(_ value: Substring) -> IPAddress? {
        let parts = value.split(separator: " ")
        guard parts.count >= 3, parts[0] == "IN" else { return nil }
        let address = parts[2].split(separator: "/").first ?? ""
        return IPAddress(address)
    }

    /// The audio stream callrec follows, with the session-level address
    /// filled in: the first `m=audio` line that is enabled (port not 0), else
    /// the first `m=audio` line (disabled).
    public var audio: MediaDescription? {
        let audio = media.filter { $0.kind == "audio" }
        guard var m = audio.first(where: { $0.port != 0 }) ?? audio.first else { return nil }
        if m.connection == nil { m.connection = connection }
        return m
    }
}

/// The direction attribute of a media stream (RFC 3264).
public enum MediaDirection: String, Sendable, Equatable {
    case sendrecv, sendonly, recvonly, inactive
}

/// One `m=` section of SDP.
public struct MediaDescription: Sendable, Equatable {
    /// `audio`, `video`, ...
    public var kind: String
    /// The media port; 0 means the stream is disabled.
    public var port: UInt16
    /// `RTP/AVP`, `RTP/SAVP`, ...
    public var transportProtocol: String
    /// The payload types offered, in preference order.
    public var payloadTypes: [UInt8]
    /// The media-level `c=` address (nil: use the session's).
    public var connection: IPAddress?
    /// `a=rtpmap` entries.
    public var rtpmap: [RTPMap]
    /// `a=ptime` in milliseconds.
    public var ptime: Int?
    /// The stream's direction (default sendrecv).
    public var direction: MediaDirection = .sendrecv
    /// Whether `a=sendonly` and friends appeared at this level.
    public var directionIsExplicit = false
    /// Whether `a=crypto` appeared (SDES keys for SRTP).
    public var hasCrypto = false
    /// The `a=crypto` lines (SDES, RFC 4568), at most 4.
    public var crypto: [SDESCrypto] = []
    /// Their crypto suites (`AES_CM_128_HMAC_SHA1_80`).
    public var cryptoSuites: [String] { crypto.map(\.suite) }

    /// Parses the value of an `m=` line: `audio 49170 RTP/AVP 0 8 101`.
    public init?(mLine value: Substring) {
        let parts = value.split(separator: " ")
        guard parts.count >= 3 else { return nil }
        kind = String(parts[0].prefix(16))
        let portText = parts[1].split(separator: "/").first ?? ""
        guard let p = UInt16(portText) else { return nil }
        port = p
        transportProtocol = String(parts[2].prefix(32))
        payloadTypes = parts.dropFirst(3).prefix(SessionDescription.maxFormats).compactMap { UInt8($0) }.filter { $0 < 128 }
        connection = nil
        rtpmap = []
        ptime = nil
    }

    mutating func apply(attribute value: Substring) {
        let nameEnd = value.firstIndex(of: ":") ?? value.endIndex
        let name = value[..<nameEnd]
        let arg = nameEnd < value.endIndex ? value[value.index(after: nameEnd)...] : ""
        switch name {
        case "rtpmap":
            if rtpmap.count < SessionDescription.maxFormats, let map = RTPMap(arg) { rtpmap.append(map) }
        case "ptime":
            if let p = Int(arg.trimmingSpaces()), (1...1000).contains(p) { ptime = p }
        case "sendrecv", "sendonly", "recvonly", "inactive":
            direction = MediaDirection(rawValue: String(name))!
            directionIsExplicit = true
        case "crypto":
            hasCrypto = true
            if crypto.count < 4, let line = SDESCrypto(arg) { crypto.append(line) }
        default:
            break
        }
    }

    /// Whether the transport is SRTP (`RTP/SAVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVP`).
    public var isSecure: Bool { transportProtocol.uppercased().contains("SAVP") }

    /// Whether the stream is enabled: a non-zero port (RFC 3264 section 6).
    public var isEnabled: Bool { port != 0 }

    /// Whether the connection address is the unspecified address (`0.0.0.0`,
    /// `::`): the RFC 2543 way to put a stream on hold. No media goes there.
    public var isUnspecifiedAddress: Bool {
        guard let connection else { return false }
        return connection == IPAddress(ipv4: 0) || connection == IPAddress(high: 0, low: 0)
    }

    /// Whether the party asks to stop receiving or sending: sendonly,
    /// recvonly, inactive, or the RFC 2543 hold address.
    public var isHold: Bool { direction != .sendrecv || isUnspecifiedAddress }

    /// The encoding for `payloadType`: from `a=rtpmap`, else the static table of RFC 3551.
    public func format(for payloadType: UInt8) -> RTPMap? {
        if let map = rtpmap.first(where: { $0.payloadType == payloadType }) { return map }
        return RTPMap.staticPayloadType(payloadType)
    }
}

/// An `a=rtpmap` entry: `101 telephone-event/8000`.
public struct RTPMap: Sendable, Equatable {
    public var payloadType: UInt8
    /// The encoding name in upper case (`PCMU`, `G722`, `TELEPHONE-EVENT`).
    public var encoding: String
    /// The RTP clock rate as declared (G.722 declares 8000 though it is 16 kHz audio).
    public var clockRate: Int
    public var channels: Int

    public init(payloadType: UInt8, encoding: String, clockRate: Int, channels: Int = 1) {
        self.payloadType = payloadType
        self.encoding = encoding
        self.clockRate = clockRate
        self.channels = channels
    }

    init?(_ arg: Substring) {
        let parts = arg.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, let pt = UInt8(parts[0]), pt < 128 else { return nil }
        let enc = parts[1].trimmingSpaces().split(separator: "/")
        guard enc.count >= 2, let rate = Int(enc[1]), rate > 0, rate <= 192_000 else { return nil }
        payloadType = pt
        encoding = String(enc[0].prefix(32)).uppercased()
        clockRate = rate
        channels = enc.count > 2 ? Int(enc[2]) ?? 1 : 1
    }

    /// RFC 3551 static audio payload types that callrec knows by number.
    public static func staticPayloadType(_ pt: UInt8) -> RTPMap? {
        switch pt {
        case 0: RTPMap(payloadType: 0, encoding: "PCMU", clockRate: 8000)
        case 3: RTPMap(payloadType: 3, encoding: "GSM", clockRate: 8000)
        case 4: RTPMap(payloadType: 4, encoding: "G723", clockRate: 8000)
        case 8: RTPMap(payloadType: 8, encoding: "PCMA", clockRate: 8000)
        case 9: RTPMap(payloadType: 9, encoding: "G722", clockRate: 8000)
        case 13: RTPMap(payloadType: 13, encoding: "CN", clockRate: 8000)
        case 18: RTPMap(payloadType: 18, encoding: "G729", clockRate: 8000)
        default: nil
        }
    }
}

/// One `a=crypto` line (SDES, RFC 4568 section 9.1):
/// `a=crypto:<tag> <crypto-suite> inline:<base64 key||salt>[|lifetime][|MKI:length]`.
///
/// The key is what the party that wrote the SDP encrypts its own media
/// with. It is secret: `description` leaves it out, and callrec never
/// writes, prints or logs it.
public struct SDESCrypto: Sendable, Equatable, CustomStringConvertible {
    /// The tag the answer uses to pick this line.
    public var tag: Int
    /// The crypto suite (`AES_CM_128_HMAC_SHA1_80`).
    public var suite: String
    /// The master key followed by the master salt, from the first `inline:` key.
    public var keySalt: [UInt8]

    /// Parses the value after `a=crypto:`; nil when it has no usable inline key.
    init?(_ value: Substring) {
        let parts = value.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard parts.count >= 3, let tag = Int(parts[0]), tag >= 0 else { return nil }
        // key-params: several may follow, separated by ';'; the first inline key is used.
        guard let first = parts[2].split(separator: ";").first, first.hasPrefix("inline:") else { return nil }
        let base64 = first.dropFirst("inline:".count).prefix { $0 != "|" }
        guard base64.utf8.count <= 128, let key = Base64.decode(base64.utf8) else { return nil }
        self.tag = tag
        self.suite = String(parts[1].prefix(64)).uppercased()
        self.keySalt = key
    }

    public var description: String { "crypto:\(tag) \(suite) (key withheld)" }
}

/// Standard base64 (RFC 4648 section 4), padding optional: enough for SDES keys.
enum Base64 {
    static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text {
            let v: UInt32
            switch c {
            case 0x41...0x5A: v = UInt32(c - 0x41)
            case 0x61...0x7A: v = UInt32(c - 0x61 + 26)
            case 0x30...0x39: v = UInt32(c - 0x30 + 52)
            case 0x2B: v = 62
            case 0x2F: v = 63
            case 0x3D: continue
            default: return nil
            }
            buffer = buffer << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
