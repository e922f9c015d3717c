import CallrecCore
import SIP
import Testing

@Suite struct SIPMessageTests {
    static let invite = """
        INVITE sip:bob@biloxi.example.com SIP/2.0\r
        Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r
        Max-Forwards: 70\r
        To: Bob <sip:bob@biloxi.example.com>\r
        From: "Alice Liddell" <sip:+4681234@atlanta.example.com;user=phone>;tag=1928301774\r
        Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r
        CSeq: 314159 INVITE\r
        Contact: <sip:alice@pc33.atlanta.example.com>\r
        Content-Type: application/sdp\r
        Content-Length: 142\r
        \r
        v=0\r
        o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r
        s=-\r
        c=IN IP4 192.0.2.101\r
        t=0 0\r
        m=audio 49172 RTP/AVP 0\r
        a=rtpmap:0 PCMU/8000\r

        """

    static func parse(_ text: String) -> SIPMessage? {
        Array(text.utf8).withUnsafeBytes { SIPMessage.parse($0)?.message }
    }

    @Test func parsesAnInviteWithSDP() throws {
        let message = try #require(Self.parse(Self.invite))
        #expect(message.method == "INVITE")
        #expect(message.callID == "a84b4c76e66710@pc33.atlanta.example.com")
        #expect(message.cseq?.number == 314159)
        #expect(message.cseq?.method == "INVITE")
        #expect(message.from?.user == "+4681234")
        #expect(message.from?.displayName == "Alice Liddell")
        #expect(message.from?.tag == "1928301774")
        #expect(message.to?.user == "bob")
        #expect(message.to?.tag == nil)
        #expect(message.hasSDP)
        let sdp = try #require(SessionDescription(message.body))
        let audio = try #require(sdp.audio)
        #expect(audio.connection == IPAddress("192.0.2.101"))
        #expect(audio.port == 49172)
        #expect(audio.format(for: 0)?.encoding == "PCMU")
    }

    @Test func compactFormsCaseAndFolding() throws {
        let text = "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP host\r\nf: <sip:a@h>;tag=x\r\nT: <sip:b@h>\r\n ;tag=y\r\n"
            + "I: abc@h\r\ncSeq: 2 INVITE\r\nl: 0\r\n\r\n"
        let message = try #require(Self.parse(text))
        #expect(message.statusCode == 200)
        #expect(message.callID == "abc@h")
        #expect(message.to?.tag == "y")
        #expect(message.from?.user == "a")
        #expect(message.cseq?.method == "INVITE")
    }

    @Test(arguments: [
        "",
        "HELLO WORLD\r\n\r\n",
        "SIP/2.0 99 Too Low\r\n\r\n",
        "INVITE sip:a\u{0}@b SIP/2.0\r\nCall-ID: x\r\n\r\n",
        "INVITE sip:a@b SIP/2.0",
    ])
    func rejectsWhatDoesNotStartLikeSIP(text: String) {
        #expect(Self.parse(text) == nil)
    }

    /// Liberal in what it reads: one bad header is left out (or mended) and
    /// counted, and the message keeps everything else.
    @Test(arguments: [
        // (the bad header line, what becomes of it: dropped or repaired)
        ("User-Agent: phone\u{0}1.0", "dropped"),
        ("No colon here", "dropped"),
        (": no name", "dropped"),
        ("X-\u{1}Bad: name", "dropped"),
        ("Content-Length: -4", "dropped"),
        ("Content-Length: 99999999999999999999999", "dropped"),
        ("X-Junk: " + String(repeating: "j", count: 64 * 1024), "dropped"),
        ("Subject: a bare\rCR", "dropped"),
        ("From: \"Al\u{0}ice\" <sip:+4681234@a.example.com>;tag=9", "repaired"),
    ])
    func aBadHeaderIsLeftOutAndCountedAndTheMessageKept(line: String, fate: String) throws {
        let text = "INVITE sip:bob@b.example.com SIP/2.0\r\n\(line)\r\nFrom: <sip:+4681234@a.example.com>;tag=9\r\n"
            + "To: <sip:bob@b.example.com>\r\nCall-ID: abc@a\r\nCSeq: 1 INVITE\r\n\r\n"
        let message = try #require(Self.parse(text))
        #expect(message.method == "INVITE")
        #expect(message.callID == "abc@a")
        #expect(message.cseq?.number == 1)
        #expect(message.from?.user == "+4681234")
        #expect(message.from?.tag == "9")
        #expect(message.to?.user == "bob")
        #expect(message.headersDropped == (fate == "dropped" ? 1 : 0))
        #expect(message.headersRepaired == (fate == "repaired" ? 1 : 0))
        if fate == "repaired" {
            #expect(message.from?.displayName == "Al\u{FFFD}ice")
        }
        // Nothing kept holds a control character.
        #expect(message.headers.allSatisfy { !$0.value.utf8.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F } })
    }

    @Test func anOversizedCallIDIsDroppedAndTheMessageHasNone() throws {
        let junk = String(repeating: "j", count: 64 * 1024)
        let message = try #require(Self.parse("INVITE sip:a@b SIP/2.0\r\nCall-ID: \(junk)\r\nCSeq: 1 INVITE\r\n\r\n"))
        // The tracker counts a message without a Call-ID as malformed.
        #expect(message.callID == nil)
        #expect(message.headersDropped == 1)
    }

    @Test func pastTheHeaderCapOnlyTheHeadersCallrecReadsAreKept() throws {
        // 16 000 headers (the most a 64 KiB datagram holds is about that), the ones callrec reads last.
        let flood = String(repeating: "X-A: 1\r\n", count: 16_000)
        let text = "INVITE sip:bob@b SIP/2.0\r\n" + flood + "From: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>\r\n"
            + "Call-ID: flood@a\r\nCall-ID: second@a\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
        let message = try #require(Self.parse(text))
        #expect(message.headers.count == SIPMessage.maxHeaders + 5)
        #expect(message.callID == "flood@a")
        #expect(message.from?.user == "alice" && message.to?.user == "bob" && message.cseq?.number == 7)
        // The floods past the cap and the second Call-ID.
        #expect(message.headersDropped == 16_000 - SIPMessage.maxHeaders + 1)
    }

    @Test func foldedHeadersWithAControlCharacterOnAContinuationLine() throws {
        let text = "SIP/2.0 200 OK\r\nCall-ID: x@h\r\nCSeq: 1 INVITE\r\nTo: <sip:b@h>\r\n ;tag=\u{7F}y\r\nX-Folded: a\r\n\t\u{0}b\r\n\r\n"
        let message = try #require(Self.parse(text))
        #expect(message.to?.tag == "\u{FFFD}y")
        #expect(message.header("x-folded") == nil)
        #expect(message.headersRepaired == 1 && message.headersDropped == 1)
    }

    @Test func contentLengthFramesTheBody() throws {
        let text = "MESSAGE sip:a@b SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 5\r\n\r\nhelloNEXT"
        let (message, length) = try #require(Array(text.utf8).withUnsafeBytes { SIPMessage.parse($0) })
        #expect(String(decoding: message.body, as: UTF8.self) == "hello")
        #expect(length == text.utf8.count - 4)
    }

    @Test func bodyShorterThanContentLengthIsIncomplete() throws {
        let text = "INVITE sip:a@b SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 500\r\n\r\nv=0\r\n"
        let message = try #require(Self.parse(text))
        #expect(message.bodyIsIncomplete)
        #expect(!message.hasSDP)
    }

    @Test func detectsSIPCheaply() {
        func looks(_ s: String) -> Bool { Array(s.utf8).withUnsafeBytes { SIPMessage.looksLikeSIP($0) } }
        #expect(looks("INVITE sip:a@b SIP/2.0\r\n"))
        #expect(looks("SIP/2.0 200 OK\r\n\r\n"))
        #expect(!looks("\u{80}\u{00}abcdefghijklmnop"))
        #expect(!looks("short"))
        // Other text protocols on the same links: MGCP, MSN, POP, HTTP.
        #expect(!looks("RQNT 1201 aaln/1@rgw-2567.whatever.net MGCP 1.0\r\n"))
        #expect(!looks("VER 1 MSNP8 CVR0\r\n"))
        #expect(!looks("USER alice\r\n"))
        #expect(!looks("GET /index.html HTTP/1.1\r\n"))
    }

    @Test func telURIsAndBareAddresses() throws {
        #expect(SIPAddress(header: "<tel:+46812345;phone-context=x>;tag=9")?.user == "+46812345")
        #expect(SIPAddress(header: "sip:100@pbx.example;tag=abc")?.tag == "abc")
        #expect(SIPAddress(header: "sip:100@pbx.example;tag=abc")?.user == "100")
        #expect(SIPAddress(header: "<sip:[2001:db8::1]:5060>")?.host == "2001:db8::1")
        #expect(SIPAddress(header: "<sip:[2001:db8::1]:5060>")?.party == "2001:db8::1")
    }
}

@Suite struct SessionDescriptionTests {
    @Test func mediaLevelConnectionDirectionAndDynamicTypes() throws {
        let body = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n"
            + "m=audio 4000 RTP/AVP 9 101\r\nc=IN IP6 2001:db8::5\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:30\r\n"
            + "m=video 0 RTP/AVP 96\r\n"
        let sdp = try #require(SessionDescription(Array(body.utf8)))
        #expect(sdp.media.count == 2)
        let audio = try #require(sdp.audio)
        #expect(audio.connection == IPAddress("2001:db8::5"))
        #expect(audio.ptime == 30)
        #expect(audio.direction == .sendonly)
        #expect(audio.format(for: 101)?.encoding == "TELEPHONE-EVENT")
        #expect(audio.format(for: 9)?.clockRate == 8000)
        #expect(sdp.media[1].port == 0)
    }

    @Test func theFirstEnabledAudioStreamIsFollowed() throws {
        let body = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\nm=video 5000 RTP/AVP 96\r\nm=audio 4002 RTP/AVP 8\r\nc=IN IP4 10.0.0.9\r\n"
        let audio = try #require(SessionDescription(Array(body.utf8))?.audio)
        #expect(audio.port == 4002)
        #expect(audio.connection == IPAddress("10.0.0.9"))
        let disabled = try #require(SessionDescription(Array("v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n".utf8))?.audio)
        #expect(!disabled.isEnabled)
    }

    @Test(arguments: [
        ("c=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n", false),
        ("c=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", true),
        ("c=IN IP4 10.0.0.1\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n", true),
        ("c=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n", true),
        ("c=IN IP6 ::\r\nm=audio 4000 RTP/AVP 0\r\n", true),
        ("c=IN IP6 2001:db8::1\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n", true),
    ])
    func holdForms(lines: String, hold: Bool) throws {
        let audio = try #require(SessionDescription(Array(("v=0\r\n" + lines).utf8))?.audio)
        #expect(audio.isHold == hold)
    }

    @Test func secureProfileAndCrypto() throws {
        let body = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"
        let audio = try #require(SessionDescription(Array(body.utf8))?.audio)
        #expect(audio.isSecure)
        #expect(audio.hasCrypto)
        #expect(audio.cryptoSuites == ["AES_CM_128_HMAC_SHA1_80"])
    }
}

@Suite struct SIPFrameTests {
    static func frames(_ text: String) -> [SIPFrame] {
        let bytes = Array(text.utf8)
        var out: [SIPFrame] = []
        var offset = 0
        while offset < bytes.count {
            let frame = bytes[offset...].withUnsafeBytes { SIPFrame.next(in: $0) }
            out.append(frame)
            switch frame {
            case .incomplete: return out
            case .message(let n), .skip(let n), .keepAlive(let n): offset += n
            }
        }
        return out
    }

    static let options = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    static let message = "MESSAGE sip:a@b SIP/2.0\r\ni: 2\r\nCSeq: 1 MESSAGE\r\nl: 5\r\n\r\nhello"

    @Test func severalMessagesInOneSegment() {
        let text = Self.options + Self.message + Self.options
        #expect(Self.frames(text) == [
            .message(length: Self.options.utf8.count), .message(length: Self.message.utf8.count),
            .message(length: Self.options.utf8.count),
        ])
    }

    @Test func aMessageCutAnywhereIsIncomplete() {
        let whole = Self.message.utf8.count
        for cut in [5, 20, whole - 6, whole - 1] {
            let text = String(decoding: Array(Self.message.utf8)[..<cut], as: UTF8.self)
            #expect(Self.frames(text) == [.incomplete], "cut at \(cut)")
        }
    }

    @Test func keepAlivesAndGarbageAreSkipped() {
        let text = "\r\n\r\n" + "ody of something cut\r\n" + Self.options
        #expect(Self.frames(text) == [.keepAlive(count: 4), .skip(count: 22), .message(length: Self.options.utf8.count)])
    }

    /// The framer and the parser agree on where a message ends (an invariant
    /// of the `sip` fuzz target): a folded line (` l: 7`) continues the header
    /// before it for both, and is no Content-Length header for the framer.
    @Test func aFoldedLineIsNotAContentLengthHeader() throws {
        let text = "MESSAGE sip:a@b SIP/2.0\r\nSubject: hi\r\n l: 7\r\nContent-Length: 3\r\n\r\nabcNEXT"
        let length = text.utf8.count - 4
        #expect(Self.frames(text).first == .message(length: length))
        let (message, used) = try #require(Array(text.utf8).withUnsafeBytes { SIPMessage.parse($0) })
        #expect(used == length)
        #expect(message.header("subject") == "hi l: 7")
    }

    @Test func contentLengthNameIsCaseInsensitive() {
        let text = "MESSAGE sip:a@b SIP/2.0\r\ncontent-LENGTH:  3\r\n\r\nabc"
        #expect(Self.frames(text) == [.message(length: text.utf8.count)])
    }

    @Test func unreadableOrOversizedContentLengthDropsTheHeaders() {
        let headers = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n"
        #expect(Self.frames(headers + "x").first == .skip(count: headers.utf8.count))
        let bad = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"
        #expect(Self.frames(bad).first == .skip(count: bad.utf8.count))
    }

    @Test func anEndlessHeaderBlockIsSkippedAtTheLimit() {
        let line = "X-Junk: " + String(repeating: "a", count: 1000) + "\r\n"
        let text = "INVITE sip:a@b SIP/2.0\r\n" + String(repeating: line, count: 70)
        let first = Array(text.utf8).withUnsafeBytes { SIPFrame.next(in: $0) }
        #expect(first == .skip(count: "INVITE sip:a@b SIP/2.0\r\n".utf8.count))
    }
}
