#if canImport(Glibc)
import Glibc
#endif
import CallrecCore

/// Sends UDP datagrams over the loopback interface from chosen source ports,
/// so that a live capture on `lo` sees real traffic (tests of `--interface`).
public final class LoopbackSender {
    private var sockets: [UInt16: Int32] = [:]

    public init() {}

    deinit {
        for fd in sockets.values { close(fd) }
    }

    /// Sends `payload` from 127.0.0.1:`sourcePort` to 127.0.0.1:`destinationPort`.
    public func send(_ payload: [UInt8], from sourcePort: UInt16, to destinationPort: UInt16) {
        guard let fd = socket(for: sourcePort) else { return }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = destinationPort.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    private func socket(for port: UInt16) -> Int32? {
        if let fd = sockets[port] { return fd }
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            return nil
        }
        sockets[port] = fd
        return fd
    }

    /// Whether this process may capture on `lo` (root or CAP_NET_RAW), for `.enabled(if:)`.
    public static var canCaptureOnLoopback: Bool {
        let fd = Glibc.socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
        if fd < 0 { return false }
        close(fd)
        return true
    }
}
