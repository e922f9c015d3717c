import CallrecCore

/// An RFC 4733 named telephone event as carried in one RTP payload.
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     event     |E|R| volume    |          duration             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
public struct TelephoneEvent: Sendable, Equatable {
    /// The event code: 0-9 digits, 10 `*`, 11 `#`, 12-15 A-D, 16 flash.
    public var event: UInt8
    /// The E bit: this packet ends the event.
    public var isEnd: Bool
    /// Power level in -dBm0 (0-63).
    public var volume: UInt8
    /// Duration so far, in RTP timestamp units from the event's timestamp.
    public var duration: UInt16

    /// Parses the first event of a payload (RFC 4733 section 2.3); nil if it is shorter than 4 bytes.
    public init?(_ payload: UnsafeRawBufferPointer) {
        guard let e = payload.u8(at: 0), let flags = payload.u8(at: 1), let d = payload.u16be(at: 2) else { return nil }
        event = e
        isEnd = flags & 0x80 != 0
        volume = flags & 0x3F
        duration = d
    }

    /// The DTMF symbol of the event (`0`-`9`, `*`, `#`, `A`-`D`, `flash`), or nil for other events.
    public var symbol: String? {
        switch event {
        case 0...9: String(event)
        case 10: "*"
        case 11: "#"
        case 12...15: String(UnicodeScalar(UInt8(ascii: "A") + event - 12))
        case 16: "flash"
        default: nil
        }
    }
}

/// Turns the packets of RFC 4733 events into one record per event: the
/// packets of an event share its RTP timestamp, its duration grows, and the
/// end packet is typically sent three times. Each event is reported once,
/// with its final duration.
public struct DTMFCollector: Sendable {
    /// One finished event.
    public struct Digit: Sendable, Equatable {
        public var symbol: String
        /// The event's RTP timestamp (its start) and the SSRC that sent it.
        public var timestamp: UInt32
        public var ssrc: UInt32
        /// Duration in RTP timestamp units.
        public var duration: Int
        /// When its first packet arrived.
        public var firstArrival: MediaTime
    }

    /// Most events kept per leg; more are ignored.
    public static let maxDigits = 1000

    public private(set) var digits: [Digit] = []
    private var current: Digit? = nil
    private var currentEnded = false
    /// The last event that ended, so its repeated end packets are ignored.
    private var lastEnded: (ssrc: UInt32, timestamp: UInt32)? = nil

    public init() {}

    /// Takes one telephone-event packet.
    public mutating func receive(_ event: TelephoneEvent, timestamp: UInt32, ssrc: UInt32, at time: MediaTime) {
        guard let symbol = event.symbol else { return }
        if let ended = lastEnded, ended.ssrc == ssrc, ended.timestamp == timestamp { return }
        if var digit = current, digit.ssrc == ssrc, digit.timestamp == timestamp {
            digit.duration = max(digit.duration, Int(event.duration))
            current = digit
        } else {
            // A new event; one left without an end packet (lost) still counts.
            flush()
            current = Digit(symbol: symbol, timestamp: timestamp, ssrc: ssrc, duration: Int(event.duration), firstArrival: time)
        }
        if event.isEnd {
            lastEnded = (ssrc, timestamp)
            flush()
        }
    }

    /// Reports the event in progress, if any (the stream ended).
    public mutating func flush() {
        guard let digit = current else { return }
        current = nil
        if digits.count < DTMFCollector.maxDigits { digits.append(digit) }
    }
}
