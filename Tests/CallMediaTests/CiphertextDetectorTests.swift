import CallrecCore
import CallrecTestSupport
import Capture
import Codecs
import Foundation
import RTP
import Testing

/// Encrypted media never becomes noise, and audio is never taken for
/// ciphertext (issue 17, item 3): the detector on every real G.711 and
/// G.722 packet of ../shared/data, on real SRTP, and on generated audio of
/// every kind a line carries.
@Suite struct CiphertextDetectorTests {
    static func coding(_ pt: UInt8) -> CiphertextDetector.Coding? {
        switch pt {
        case 0: .ulaw
        case 8: .alaw
        case 9: .g722
        default: nil
        }
    }

    /// Every RTP payload of `path` with a G.711 or G.722 payload type: coding and bytes.
    static func payloads(_ path: String) throws -> [(CiphertextDetector.Coding, [UInt8])] {
        var out: [(CiphertextDetector.Coding, [UInt8])] = []
        let slicer = PacketSlicer(diagnostics: Diagnostics())
        try CaptureSource(path: path).forEachPacket { packet in
            guard let d = slicer.slice(packet), d.transport == .udp, let h = RTPHeader(d.payload), let coding = coding(h.payloadType),
                  h.payloadLength >= 64
            else { return }
            out.append((coding, Array(d.payload[h.payloadOffset..<(h.payloadOffset + h.payloadLength)])))
        }
        return out
    }

    static let plainCaptures = [
        "asterisk-testsuite__40msalaw.pcap", "asterisk-testsuite__ulaw-2013785496.pcap", "heplify__rtp_rtcp_sip_ipv4_udp.pcap",
        "heplify__sip_ipv4_tcp.pcap", "mediastreamer2__audio-80-75-0c60.pcapng", "projectrtp__440hzinbackgroundg722.pcap",
        "projectrtp__ivr_dtmf_issue_9_1_9_9_3.pcap", "rtp-pcap__sip-rtp-g722.pcap", "sipnab__b2bua-asterisk.pcapng",
        "sipnab__sip-rtp-g711.pcap", "sipp__g711a.pcap",
    ]

    @Test(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"), arguments: plainCaptures)
    func noRealAudioPacketLooksLikeCiphertext(capture: String) throws {
        let payloads = try Self.payloads(FixturePaths.shared("captures/" + capture))
        #expect(payloads.count > 50)
        var detector = CiphertextDetector()
        for (coding, bytes) in payloads {
            bytes.withUnsafeBytes { b in
                #expect(!CiphertextDetector.looksRandom(b, coding: coding))
                // Even with a ZRTP handshake on the call, real audio is decoded.
                let dropped = detector.isCiphertext(b, coding: coding, zrtp: true)
                #expect(!dropped)
            }
        }
        #expect(detector.packets == 0)
    }

    @Test(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
    func realSRTPLooksLikeCiphertext() throws {
        // AES-CM ciphertext of PCMU with an 80-bit tag: 160 + 10 bytes.
        let payloads = try Self.payloads(FixturePaths.shared("captures/voipshark__SIP-SRTP-Normal_Call_two_parties.pcap"))
        let srtp = payloads.filter { $0.1.count == 170 }
        #expect(srtp.count > 4000)
        var detector = CiphertextDetector()
        var random = 0
        for (coding, bytes) in srtp {
            bytes.withUnsafeBytes { b in
                if CiphertextDetector.looksRandom(UnsafeRawBufferPointer(rebasing: b[0..<160]), coding: coding) { random += 1 }
                let dropped = detector.isCiphertext(b, coding: coding, zrtp: false)
                #expect(dropped)
            }
        }
        #expect(random * 1000 >= srtp.count * 999, "\(random) of \(srtp.count)")
        #expect(detector.packets == srtp.count)
        #expect((detector.entropy ?? 0) > 7.99)
    }

    /// Generated audio of every kind: speech at several levels, silence, digital
    /// silence, tones, full-scale square waves, loud white and clipped noise.
    static func generatedAudio() -> [(String, [Int16])] {
        var list: [(String, [Int16])] = []
        let spurts = SpeechSynth.conversation(duration: 20, seed: 4)
        for (k, voice) in [SpeechSynth.Voice.low, .high, SpeechSynth.Voice(pitch: 150, formantScale: 1, level: 0.95)].enumerated() {
            list.append(("speech \(k)", SpeechSynth(sampleRate: 8000, voice: voice).render(duration: 20, spurts: spurts.caller, seed: UInt64(k))))
        }
        list.append(("digital silence", [Int16](repeating: 0, count: 8000)))
        var rng = SeededRandom(seed: 9)
        list.append(("line noise -60 dBFS", (0..<8000).map { _ in Int16(rng.uniform(-33...33)) }))
        for amplitude in [1000.0, 8000, 32000] {
            list.append(("white noise \(Int(amplitude))", (0..<16000).map { _ in Int16(clamping: Int(rng.uniform(-amplitude...amplitude))) }))
            // Gaussian-like noise, clipped: the closest audio comes to evenly used codes.
            list.append(("gaussian noise \(Int(amplitude))", (0..<16000).map { _ in
                let g = (0..<6).reduce(0.0) { s, _ in s + rng.uniform(-1...1) } / 1.41
                return Int16(clamping: Int(g * amplitude))
            }))
        }
        for hz in [350.0, 1000, 2600, 3900] {
            list.append(("tone \(Int(hz))", (0..<8000).map { Int16(30000 * sin(2 * .pi * hz * Double($0) / 8000)) }))
        }
        list.append(("square", (0..<8000).map { $0 % 16 < 8 ? 32000 : -32000 }))
        // Noise whose level sweeps over 60 dB within each packet: every segment used.
        list.append(("level sweep", (0..<16000).map { i in
            let level = pow(10, Double(i % 160) / 160 * 3)
            return Int16(clamping: Int(rng.uniform(-1...1) * 30 * level))
        }))
        return list
    }

    /// Audio whose bytes never look random: speech, silence, line noise and
    /// tones coded as G.711, and speech and silence as G.722. Loud noise and a
    /// sweep through every level may (as may a tone in G.722): that is why a
    /// packet must also carry a tag-sized length to start ciphertext.
    static func neverLooksRandom(_ name: String, _ coding: CiphertextDetector.Coding) -> Bool {
        if name.hasPrefix("speech") || name.hasSuffix("silence") || name.hasPrefix("line noise") { return true }
        return coding != .g722 && (name.hasPrefix("tone") || name == "square")
    }

    @Test(arguments: generatedAudio().map(\.0))
    func noGeneratedAudioIsTakenForCiphertext(name: String) throws {
        let audio = try #require(Self.generatedAudio().first { $0.0 == name }?.1)
        for coding in [CiphertextDetector.Coding.ulaw, .alaw, .g722] {
            var bytes: [UInt8] = []
            switch coding {
            case .ulaw: bytes = audio.map(G711.ulawCompress)
            case .alaw: bytes = audio.map(G711.alawCompress)
            case .g722:
                var encoder = G722Encoder()
                // G.722 codes 16 kHz: the same audio at twice the rate, one byte per two samples.
                encoder.encode(audio.flatMap { [$0, $0] }, into: &bytes)
            }
            // Packets of 20 ms (160 bytes), even with a ZRTP handshake on the call.
            var detector = CiphertextDetector()
            var dropped = 0, random = 0
            for start in stride(from: 0, to: bytes.count - 160, by: 160) {
                bytes[start..<(start + 160)].withUnsafeBytes { b in
                    if CiphertextDetector.looksRandom(b, coding: coding) { random += 1 }
                    if detector.isCiphertext(b, coding: coding, zrtp: true) { dropped += 1 }
                }
            }
            #expect(dropped == 0, "\(name) as \(coding)")
            if Self.neverLooksRandom(name, coding) {
                #expect(random == 0, "\(name) as \(coding)")
                // Of a tag-sized length (164 bytes) but without a handshake: still audio.
                var odd = CiphertextDetector()
                for start in stride(from: 0, to: bytes.count - 164, by: 164) {
                    let taken = bytes[start..<(start + 164)].withUnsafeBytes { odd.isCiphertext($0, coding: coding, zrtp: false) }
                    #expect(!taken, "\(name) as \(coding) at \(start)")
                }
            }
        }
    }

    @Test func randomBytesLookLikeCiphertextAndATagOrZRTPIsNeeded() {
        var rng = SeededRandom(seed: 77)
        var random = 0
        for _ in 0..<20_000 {
            let bytes = (0..<160).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { b in
                if CiphertextDetector.looksRandom(b, coding: .ulaw) && CiphertextDetector.looksRandom(b, coding: .g722) { random += 1 }
            }
        }
        // At most one in two hundred random packets escapes the test (once a
        // stream is taken for encrypted, every packet with a tag is dropped).
        #expect(random >= 19_900, "\(random)")
        // Without a tag-sized length or a ZRTP handshake, random bytes alone do not make a stream encrypted.
        var detector = CiphertextDetector()
        let plainLength = (0..<160).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let untaggedDropped = plainLength.withUnsafeBytes { detector.isCiphertext($0, coding: .ulaw, zrtp: false) }
        #expect(!untaggedDropped)
        let tagged = (0..<164).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let taggedDropped = tagged.withUnsafeBytes { detector.isCiphertext($0, coding: .ulaw, zrtp: false) }
        #expect(taggedDropped)
        // Once encrypted, a stream's tagged packets are all dropped, random-looking or not;
        // three untagged packets of audio in a row (the media back in clear) end it.
        let silenceTagged = [UInt8](repeating: 0xFF, count: 164)
        #expect(silenceTagged.withUnsafeBytes { detector.isCiphertext($0, coding: .ulaw, zrtp: false) })
        let silence = [UInt8](repeating: 0xFF, count: 160)
        let back = (0..<3).map { _ in silence.withUnsafeBytes { detector.isCiphertext($0, coding: .ulaw, zrtp: false) } }
        #expect(back == [true, true, false])
        #expect(!detector.encrypted)
        #expect(CiphertextDetector.tagLength(164) == 4 && CiphertextDetector.tagLength(170) == 10 && CiphertextDetector.tagLength(160) == nil)
    }
}
