import CallrecCore

/// What the router knows of the sources that sent one leg, beside the
/// leg's own stream: where its extra stream came from, the streams it
/// dropped and the relay copies it merged away. Handed to the call's
/// session as the call ends, for the index.
package struct LegSourceFacts: Sendable, Equatable {
    /// The extra stream's source (`address:port`), if the leg had one.
    package var extraSource: String? = nil
    /// Streams dropped: source, SSRC, packets.
    package var dropped: [(source: String, ssrc: UInt32, packets: Int)] = []
    /// Packets merged away as relay copies.
    package var relayCopies = 0

    /// Ciphertext dropped on a leg whose SDP said plain RTP, if any.
    package var ciphertext: Ciphertext? = nil

    /// Packets of a leg found to be ciphertext (never decoded).
    package struct Ciphertext: Sendable, Equatable {
        package var packets: Int
        /// Capture times of the first and the last of them.
        package var first: MediaTime
        package var last: MediaTime
        /// Entropy of their payload bytes, bits per byte.
        package var entropy: Double
        /// How the call was keyed: `zrtp` or `unknown` (CallIndex.encryptionKeying).
        package var keying: String

        package init(packets: Int, first: MediaTime, last: MediaTime, entropy: Double, keying: String) {
            self.packets = packets
            self.first = first
            self.last = last
            self.entropy = entropy
            self.keying = keying
        }
    }

    package init() {}

    package static func == (a: LegSourceFacts, b: LegSourceFacts) -> Bool {
        a.extraSource == b.extraSource && a.relayCopies == b.relayCopies && a.ciphertext == b.ciphertext
            && a.dropped.elementsEqual(b.dropped) { $0.source == $1.source && $0.ssrc == $1.ssrc && $0.packets == $1.packets }
    }
}
