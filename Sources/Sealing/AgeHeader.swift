import Crypto

/// One recipient stanza of an age header: `-> TYPE ARG...` and a base64 body
/// wrapped at 64 columns. Each wraps the same file key for one recipient.
public struct AgeStanza: Sendable, Equatable {
    /// The first argument: `X25519`, `scrypt`, or another type (which readers skip).
    public var type: String
    /// The arguments after the type.
    public var arguments: [String]
    /// The decoded body.
    public var body: [UInt8]

    /// A stanza of `type` with `arguments` and `body`.
    public init(type: String, arguments: [String], body: [UInt8]) {
        self.type = type
        self.arguments = arguments
        self.body = body
    }

    /// The stanza as the header holds it: the argument line, then the body in
    /// lines of 64 base64 characters, the last one shorter (possibly empty).
    func encoded() -> [UInt8] {
        var out = Array("->".utf8)
        for argument in [type] + arguments { out += [0x20] + Array(argument.utf8) }
        out.append(0x0A)
        let text = Array(AgeBase64.encode(body).utf8)
        var start = 0
        while true {
            let end = min(start + AgeHeader.columns, text.count)
            out += text[start..<end]
            out.append(0x0A)
            if end - start < AgeHeader.columns { break }
            start = end
        }
        return out
    }
}

/// The header of an age v1 file (C2SP age, "Header"):
///
/// ```
/// age-encryption.org/v1
/// -> X25519 XEl0dJ6y3C7KZkgmgWUicg63EyXJiwBJW8PdYJ/cYBE
/// qRS0AMjdjPvZ/WT08U2KL4G+PIooA3hy38SvLpvaC1E
/// --- HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG75s
/// ```
///
/// The version line, one or more stanzas, and the MAC line: HMAC-SHA-256,
/// keyed with HKDF-SHA-256(file key, salt: empty, info: "header"), over every
/// byte from the start up to and including `---`. The binary payload follows
/// the MAC line's line feed.
public struct AgeHeader: Sendable, Equatable {
    /// The recipient stanzas, in file order.
    public var stanzas: [AgeStanza]
    /// The 32-byte header MAC.
    public var mac: [UInt8]

    /// The version line, with its line feed.
    static let versionLine = Array("age-encryption.org/v1\n".utf8)
    /// Base64 characters per full body line.
    static let columns = 64
    /// Bytes per full body line (64 characters of base64).
    static let bytesPerLine = 48
    /// The longest header callrec reads: a bound on what a hostile file can
    /// make it buffer (a header holds about 100 bytes per recipient, so this is
    /// ten thousand recipients).
    public static let maximumSize = 1 << 20

    /// A header of `stanzas` with its MAC under `fileKey`.
    init(stanzas: [AgeStanza], fileKey: FileKey) {
        self.stanzas = stanzas
        self.mac = []
        self.mac = AgeHeader.mac(over: encodedWithoutMAC(), fileKey: fileKey)
    }

    /// Bytes from the version line through the final `---`: what the MAC covers.
    func encodedWithoutMAC() -> [UInt8] {
        var out = AgeHeader.versionLine
        for stanza in stanzas { out += stanza.encoded() }
        out += Array("---".utf8)
        return out
    }

    /// The whole header, through the MAC line's line feed.
    public func encoded() -> [UInt8] {
        encodedWithoutMAC() + [0x20] + Array(AgeBase64.encode(mac).utf8) + [0x0A]
    }

    /// HMAC-SHA-256 over `bytes` keyed with HKDF-SHA-256(file key, "", "header").
    static func mac(over bytes: [UInt8], fileKey: FileKey) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: fileKey.key, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
        return Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
    }

    /// Whether `mac` is the MAC of the header's bytes under `fileKey`, compared
    /// in constant time. The bytes are the header written again, as the
    /// reference implementation computes it: the parser accepts only the one
    /// canonical form, so they are the bytes of the file.
    func verifyMAC(fileKey: FileKey) -> Bool {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: fileKey.key, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: encodedWithoutMAC(), using: key)
    }

    /// What parsing the start of a file found.
    enum ParseResult {
        /// A whole header, `length` bytes long (the payload starts there).
        case complete(AgeHeader, length: Int)
        /// The bytes end before the MAC line does: read more.
        case incomplete
    }

    /// Parses a header from the start of `bytes`, as strictly as the
    /// specification asks (canonical base64, a short final body line, no CR,
    /// arguments of visible ASCII), so that the bytes the MAC covers are the
    /// ones this parser would write again.
    /// - Throws: `SealingError(.header)` naming the byte offset of the bad line.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> ParseResult {
        var position = 0
        /// The next line without its line feed, or nil when the bytes end first.
        func nextLine() -> (start: Int, line: UnsafeRawBufferPointer)? {
            guard let lf = bytes[position...].firstIndex(of: 0x0A) else { return nil }
            let line = UnsafeRawBufferPointer(rebasing: bytes[position..<lf])
            defer { position = lf + 1 }
            return (position, line)
        }
        func malformed(_ at: Int, _ why: String) -> SealingError {
            SealingError(.header, offset: Int64(at), "malformed age header at byte \(at): \(why)")
        }

        // Version line.
        let intro = versionLine
        let prefix = Array("age-encryption.org/".utf8)
        if bytes.count < intro.count {
            guard bytes.elementsEqual(intro.prefix(bytes.count)) || bytes.elementsEqual(prefix.prefix(bytes.count)) else {
                throw SealingError(.header, offset: 0, "not an age file (it does not start with \"age-encryption.org/v1\")")
            }
            return .incomplete
        }
        guard bytes.prefix(intro.count).elementsEqual(intro) else {
            if bytes.prefix(prefix.count).elementsEqual(prefix) {
                let end = bytes.firstIndex(of: 0x0A) ?? min(bytes.count, 64)
                let version = String(decoding: bytes[prefix.count..<end], as: UTF8.self)
                throw SealingError(.header, offset: 0, "unsupported age version \"\(version.prefix(40))\" (callrec reads v1)")
            }
            throw SealingError(.header, offset: 0, "not an age file (it does not start with \"age-encryption.org/v1\")")
        }
        position = intro.count

        var stanzas: [AgeStanza] = []
        while true {
            guard bytes.count - position >= 3 else { return .incomplete }
            let lineStart = position
            if bytes[position] == 0x2D, bytes[position + 1] == 0x2D, bytes[position + 2] == 0x2D {  // "---"
                guard let (start, line) = nextLine() else {
                    if bytes.count - lineStart > 64 + 4 { throw malformed(lineStart, "the MAC line is too long") }
                    return .incomplete
                }
                let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].elementsEqual("---".utf8), let mac = AgeBase64.decode(parts[1]), mac.count == 32 else {
                    throw malformed(start, "the MAC line is not \"--- \" and 43 base64 characters")
                }
                guard !stanzas.isEmpty else { throw malformed(start, "the header has no recipient stanza") }
                return .complete(AgeHeader(stanzas: stanzas, mac: mac), length: position)
            }
            // A stanza: the argument line, then body lines up to the first short one.
            guard let (start, line) = nextLine() else { return .incomplete }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].elementsEqual("->".utf8) else {
                throw malformed(start, "expected a stanza (\"-> TYPE ...\") or the MAC line (\"--- ...\")")
            }
            let arguments = parts.dropFirst()
            guard arguments.allSatisfy({ !$0.isEmpty && $0.allSatisfy { (33...126).contains($0) } }) else {
                throw malformed(start, "a stanza argument is empty or has a character outside ASCII 33-126")
            }
            var body: [UInt8] = []
            while true {
                guard let (bodyStart, bodyLine) = nextLine() else { return .incomplete }
                guard bodyLine.count <= columns else { throw malformed(bodyStart, "a stanza body line is longer than 64 columns") }
                guard let decoded = AgeBase64.decode(bodyLine) else {
                    let why =
                        bodyLine.starts(with: "---".utf8) || bodyLine.starts(with: "->".utf8)
                        ? "a stanza body must end with a line shorter than 64 columns (it may be empty)"
                        : "a stanza body line is not canonical unpadded base64"
                    throw malformed(bodyStart, why)
                }
                body += decoded
                if decoded.count < bytesPerLine { break }
            }
            stanzas.append(
                AgeStanza(
                    type: String(decoding: arguments.first!, as: UTF8.self),
                    arguments: arguments.dropFirst().map { String(decoding: $0, as: UTF8.self) }, body: body))
        }
    }

    /// Parses the header at the start of an input, asking `start(n)` for its
    /// first `n` bytes (fewer at its end) and asking for more, up to
    /// `maximumSize`, until the header is whole.
    /// - Returns: the header and its length (where the payload nonce starts).
    static func read(start: (Int) throws -> [UInt8]) throws -> (AgeHeader, Int) {
        var want = 4096
        while true {
            let bytes = try start(want)
            if case .complete(let header, let length) = try bytes.withUnsafeBytes({ try parse($0) }) { return (header, length) }
            if bytes.count < want {
                throw SealingError(
                    .header, offset: Int64(bytes.count),
                    bytes.isEmpty ? "the file is empty" : "the file ends inside the age header (after \(bytes.count) bytes): it was cut short")
            }
            guard want < maximumSize else { throw SealingError(.header, "the age header is longer than \(maximumSize) bytes") }
            want = min(want * 4, maximumSize)
        }
    }

    /// A header as parsed (the MAC as found, not computed).
    init(stanzas: [AgeStanza], mac: [UInt8]) {
        self.stanzas = stanzas
        self.mac = mac
    }

    /// The file key, from the first identity that opens a stanza, with the
    /// header's MAC checked. Applies the rule that an scrypt stanza must be
    /// the only one, whatever identities are given.
    /// - Throws: `.header` (a malformed stanza, scrypt beside others),
    ///   `.noMatch` (no identity opens it), `.headerMAC` (the header was altered).
    func unwrap(with identities: [any AgeIdentity]) throws -> FileKey {
        if stanzas.contains(where: { $0.type == ScryptRecipient.stanzaType }), stanzas.count != 1 {
            throw SealingError(.header, "malformed age header: an scrypt (passphrase) stanza must be the only stanza")
        }
        for identity in identities {
            if let fileKey = try identity.unwrap(stanzas) {
                guard verifyMAC(fileKey: fileKey) else {
                    throw SealingError(.headerMAC, "the header's MAC does not match: the header was altered after it was written")
                }
                return fileKey
            }
        }
        throw SealingError(.noMatch, noMatchMessage(identities))
    }

    /// Says what the file is sealed to (stanza types only: X25519 stanzas do not name their recipient).
    private func noMatchMessage(_ identities: [any AgeIdentity]) -> String {
        if stanzas.count == 1, stanzas[0].type == ScryptRecipient.stanzaType {
            return identities.contains { $0 is ScryptIdentity }
                ? "the passphrase is wrong (the file is sealed with a passphrase)"
                : "the file is sealed with a passphrase, and no passphrase was given"
        }
        var counts: [(String, Int)] = []
        for stanza in stanzas {
            if let i = counts.firstIndex(where: { $0.0 == stanza.type }) { counts[i].1 += 1 } else { counts.append((stanza.type, 1)) }
        }
        let kinds = counts.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
        let given = identities.isEmpty ? "no key was given" : "none of the \(identities.count) given key(s) opens it"
        return "\(given) (the file is sealed to: \(kinds))"
    }
}
