import CallMedia
import CallrecCore
import RTP
import SIP

/// What the router saw of ciphertext on one leg whose SDP says plain RTP
/// (SRTP keyed by a ZRTP handshake on the media path, RFC 6189, or by
/// anything else the capture does not show): the detector of each of the
/// leg's streams (its own and its extra one) and when the ciphertext came.
/// Ciphertext never reaches the call's session: decoded as G.711 it would
/// be written as loud white noise.
struct LegCiphertext {
    /// One detector per stream of the leg: own (0) and extra (1).
    var detectors = [CiphertextDetector(), CiphertextDetector()]
    /// Capture times of the first and the last packet dropped as ciphertext.
    var first: MediaTime?
    var last: MediaTime?

    /// Packets dropped as ciphertext.
    var packets: Int { detectors[0].packets + detectors[1].packets }
}

extension RoutedCall {
    /// Whether the packet (`header`, its RTP payload `payload`) of `side`'s
    /// leg, stream `stream`, is ciphertext: then it is counted in the leg's
    /// encrypted statistics (its header is in clear) and must not be decoded.
    /// `note` gets one line when a stream turns to ciphertext.
    func dropsCiphertext(
        _ header: RTPHeader, payload: UnsafeRawBufferPointer, from side: CallSide, stream: Int, path: Int, at time: MediaTime,
        note: (String) -> Void
    ) -> Bool {
        let media = description.media(of: side.opposite)?.media ?? description.media(of: side)?.media
        let map = media?.format(for: header.payloadType) ?? RTPMap.staticPayloadType(header.payloadType)
        let zrtp = zrtpPackets > 0
        let was = legs[side.rawValue].ciphertext.detectors[stream].encrypted
        let dropped: Bool
        if let coding = map.flatMap({ CiphertextDetector.coding(of: $0.encoding) }) {
            dropped = legs[side.rawValue].ciphertext.detectors[stream].isCiphertext(payload, coding: coding, zrtp: zrtp)
        } else {
            dropped = legs[side.rawValue].ciphertext.detectors[stream].isCiphertextWhileEncrypted(payload)
        }
        guard dropped else {
            if was { note("from \(header.sequence) (SSRC \(RTPHeader.format(ssrc: header.ssrc))) the media is audio again") }
            return false
        }
        if !was {
            note(
                "the media is encrypted from packet \(header.sequence) (SSRC \(RTPHeader.format(ssrc: header.ssrc)))"
                    + (zrtp ? " after a ZRTP handshake" : "") + " although the SDP says plain RTP: not decoded, "
                    + "the recording keeps only the audio in clear")
        }
        if legs[side.rawValue].ciphertext.first == nil { legs[side.rawValue].ciphertext.first = time }
        legs[side.rawValue].ciphertext.last = time
        legs[side.rawValue].recordEncrypted(header, path: path, at: time, clockRate: map?.clockRate ?? 8000)
        return true
    }

    /// Whether ciphertext was found on a leg whose SDP says plain RTP.
    var carriedCiphertext: Bool { legs.contains { $0.ciphertext.packets > 0 } }

    /// How the call's media was keyed, for the index: `sdp` (RTP/SAVP), `zrtp`
    /// (a ZRTP handshake on the media path), `unknown` (ciphertext, no key
    /// exchange seen); nil when nothing was encrypted.
    var encryptionKeying: String? {
        guard encrypted || carriedCiphertext else { return nil }
        if CallSide.allCases.contains(where: { description.media(of: $0)?.media.isSecure == true }) { return "sdp" }
        // SRTP recognised by its tag on a call without signalling, or ciphertext on plain RTP.
        return zrtpPackets > 0 ? "zrtp" : "unknown"
    }

    /// What the router knows of each leg's sources and ciphertext, for the session's index.
    var legFacts: [LegSourceFacts] {
        legs.map { leg in
            var facts = leg.sources.facts
            let ciphertext = leg.ciphertext
            if let first = ciphertext.first, let last = ciphertext.last {
                let entropy = [ciphertext.detectors[0].entropy, ciphertext.detectors[1].entropy].compactMap { $0 }.max()
                facts.ciphertext = LegSourceFacts.Ciphertext(
                    packets: ciphertext.packets, first: first, last: last, entropy: entropy ?? 0, keying: encryptionKeying ?? "unknown")
            }
            return facts
        }
    }
}
