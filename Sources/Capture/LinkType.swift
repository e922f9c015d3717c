/// A link-layer header type, as numbered by tcpdump.org's LINKTYPE_ list
/// (which is what pcap and pcapng files store).
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    public static let null = LinkType(rawValue: 0)
    /// Ethernet II / 802.3, possibly with 802.1Q or 802.1ad tags.
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP (either version), as some captures on OpenBSD and tunnels write it.
    public static let rawLegacy = LinkType(rawValue: 12)
    /// Raw IP (either version).
    public static let raw = LinkType(rawValue: 101)
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    public static let loop = LinkType(rawValue: 108)
    /// Linux cooked capture v1 (the "any" device), 16-byte header.
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Raw IPv4.
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6.
    public static let ipv6 = LinkType(rawValue: 229)
    /// Linux cooked capture v2, 20-byte header.
    public static let linuxSLL2 = LinkType(rawValue: 276)

    /// Whether the slicer understands this link type.
    public var isSupported: Bool {
        switch self {
        case .null, .ethernet, .rawLegacy, .raw, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .null: "BSD loopback"
        case .ethernet: "Ethernet"
        case .rawLegacy, .raw: "raw IP"
        case .loop: "OpenBSD loopback"
        case .linuxSLL: "Linux cooked (SLL)"
        case .ipv4: "raw IPv4"
        case .ipv6: "raw IPv6"
        case .linuxSLL2: "Linux cooked v2 (SLL2)"
        default: "link type \(rawValue)"
        }
    }
}
