import CPcap
import CallrecCore

/// Packets from a network interface, through libpcap: promiscuous, full
/// snap length, nanosecond timestamps where the kernel gives them, and the
/// BPF filter applied in the kernel.
///
/// One owner per `pcap_t`: created in `init`, closed in `deinit`. The
/// corresponding C functions are `pcap_create`, `pcap_activate`,
/// `pcap_setfilter` and `pcap_next_ex`.
final class LiveCapture {
    let interface: String
    let linkType: LinkType
    private let handle: OpaquePointer
    private let nanosecond: Bool

    /// Opens and activates `interface`, with `filter` compiled into the kernel.
    /// - Throws: `CaptureError` with code `.interface` (no such device, no
    ///   permission) or `.filter` (a bad expression).
    init(interface: String, filter: String?) throws {
        self.interface = interface
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let pcap = pcap_create(interface, &errbuf) else {
            throw CaptureError(code: .interface, path: interface, message: LiveCapture.text(errbuf))
        }
        pcap_set_snaplen(pcap, 262_144)
        pcap_set_promisc(pcap, 1)
        pcap_set_timeout(pcap, 200)
        pcap_set_immediate_mode(pcap, 1)
        pcap_set_buffer_size(pcap, 32 << 20)
        _ = pcap_set_tstamp_precision(pcap, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let status = pcap_activate(pcap)
        if status < 0 {
            let detail = String(cString: pcap_geterr(pcap))
            pcap_close(pcap)
            var message = "cannot capture: " + (detail.isEmpty ? String(cString: pcap_statustostr(status)) : detail)
            if status == PCAP_ERROR_PERM_DENIED {
                message += " (capturing needs root or the CAP_NET_RAW capability)"
            }
            throw CaptureError(code: .interface, path: interface, message: message)
        }
        // Everything that can fail is done on the local handle before the stored
        // properties are set: once they are, a throw would run deinit (and close it).
        if let filter {
            var program = bpf_program()
            if pcap_compile(pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                let reason = String(cString: pcap_geterr(pcap))
                pcap_close(pcap)
                throw CaptureError(code: .filter, path: interface, message: "invalid --filter '\(filter)': \(reason)")
            }
            defer { pcap_freecode(&program) }
            if pcap_setfilter(pcap, &program) != 0 {
                let reason = String(cString: pcap_geterr(pcap))
                pcap_close(pcap)
                throw CaptureError(code: .filter, path: interface, message: "cannot apply --filter '\(filter)': \(reason)")
            }
        }
        handle = pcap
        linkType = LinkType(rawValue: pcap_datalink(pcap))
        nanosecond = pcap_get_tstamp_precision(pcap) == Int32(PCAP_TSTAMP_PRECISION_NANO)
    }

    deinit {
        pcap_close(handle)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Asks a capture loop in progress to return; safe from another thread
    /// (libpcap sets a flag and wakes the poll).
    func stop() {
        pcap_breakloop(handle)
    }

    /// Reads packets until `stop()` is called or the interface goes away.
    /// - Parameter number: the 1-based number of the first packet.
    /// - Returns: the number of packets delivered.
    func forEachPacket(startingAt number: Int, _ body: (borrowing RawPacket) throws -> Void) throws -> Int {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        var count = 0
        while true {
            let rc = pcap_next_ex(handle, &header, &data)
            switch rc {
            case 1:
                guard let header, let data else { continue }
                let h = header.pointee
                let fraction = Int64(h.ts.tv_usec) * (nanosecond ? 1 : 1000)
                let packet = RawPacket(
                    timestamp: MediaTime(nanoseconds: Int64(h.ts.tv_sec) &* 1_000_000_000 &+ fraction),
                    bytes: UnsafeRawBufferPointer(start: data, count: Int(h.caplen)),
                    originalLength: Int(h.len), linkType: linkType, number: number + count)
                count += 1
                try body(packet)
            case 0:
                continue  // the buffer timeout expired with nothing to deliver
            case PCAP_ERROR_BREAK:
                return count
            default:
                throw CaptureError(
                    code: .interface, path: interface, message: "capture failed: " + String(cString: pcap_geterr(handle)),
                    packetsRead: number - 1 + count)
            }
        }
    }

    /// Packets the kernel dropped because callrec did not read them fast enough.
    var droppedByKernel: Int { drops.kernel }

    /// libpcap's counts so far: dropped by the kernel (`ps_drop`) and by the
    /// interface or its driver (`ps_ifdrop`). Read on the capturing thread.
    var drops: (kernel: Int, interface: Int) {
        var received: UInt32 = 0
        var dropped: UInt32 = 0
        var interfaceDropped: UInt32 = 0
        guard callrec_pcap_stats(handle, &received, &dropped, &interfaceDropped) == 0 else { return (0, 0) }
        return (Int(dropped), Int(interfaceDropped))
    }
}
