import CPcap
import CallrecCore

/// A BPF filter expression (tcpdump syntax, e.g. `udp and host 10.0.0.5`)
/// compiled by libpcap and applied to packets read from a file.
///
/// A capture may hold several link types (pcapng), and BPF code depends on
/// the link type, so the expression is compiled once per link type met. One
/// owner per compiled program: freed in `deinit`. The corresponding C
/// functions are `pcap_compile` and `pcap_offline_filter`.
public final class PacketFilter {
    /// The expression as given.
    public let expression: String
    private var programs: [Int32: UnsafeMutablePointer<bpf_program>] = [:]
    /// Link types the expression cannot be compiled for (their packets never match).
    private var unusable: Set<Int32> = []

    /// Compiles `expression` (checked against Ethernet so that a typo fails before any packet is read).
    /// - Throws: `CaptureError` with code `.filter` and libpcap's explanation.
    public init(expression: String, path: String) throws {
        self.expression = expression
        if let reason = compile(for: LinkType.ethernet.rawValue) {
            throw CaptureError(code: .filter, path: path, message: "invalid --filter '\(expression)': \(reason)")
        }
    }

    deinit {
        for program in programs.values {
            pcap_freecode(program)
            program.deallocate()
        }
    }

    /// Compiles the expression for `linkType`; returns libpcap's error text on failure.
    private func compile(for linkType: Int32) -> String? {
        guard let dead = pcap_open_dead(linkType, 262_144) else { return "libpcap cannot describe link type \(linkType)" }
        defer { pcap_close(dead) }
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        if pcap_compile(dead, program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            program.deallocate()
            unusable.insert(linkType)
            return String(cString: pcap_geterr(dead))
        }
        programs[linkType] = program
        return nil
    }

    /// Whether `packet` passes the filter.
    public func matches(_ packet: borrowing RawPacket) -> Bool {
        let type = packet.linkType.rawValue
        var program = programs[type]
        if program == nil {
            if unusable.contains(type) || compile(for: type) != nil { return false }
            program = programs[type]
        }
        guard let program, let base = packet.bytes.baseAddress else { return false }
        var header = pcap_pkthdr()
        header.caplen = UInt32(truncatingIfNeeded: packet.bytes.count)
        header.len = UInt32(truncatingIfNeeded: packet.originalLength)
        return pcap_offline_filter(program, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
    }
}
