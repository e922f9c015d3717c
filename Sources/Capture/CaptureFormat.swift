/// The container a capture came in, as its magic number says (never its name).
public enum CaptureFormat: Sendable, Equatable, CustomStringConvertible {
    /// Classic pcap (libpcap's savefile): microsecond or nanosecond timestamps,
    /// either byte order; `modified` is the Kuznetzov variant with 24-byte record headers.
    case pcap(nanosecond: Bool, modified: Bool)
    /// pcapng: sections, interfaces (each with its own link type and clock), packet blocks.
    case pcapng
    /// A live interface read through libpcap.
    case live

    /// The format's name as reports print it.
    public var description: String {
        switch self {
        case .pcap(let nanosecond, let modified):
            modified ? "pcap (modified)" : nanosecond ? "pcap (nanosecond)" : "pcap"
        case .pcapng: "pcapng"
        case .live: "live"
        }
    }
}
