import CPcap
import CallrecCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads packets from a pcap or pcapng capture through libpcap: a file, or
/// standard input when the path is `-` (read as a stream, never seeked).
///
/// The format is detected from the magic number by libpcap, never from the
/// file name. One owner per `pcap_t`: created in `init`, closed in `deinit`.
/// The corresponding C functions are `pcap_open_offline_with_tstamp_precision`
/// and `pcap_next_ex`.
public final class CaptureSource {
    /// The path as given (`-` for standard input).
    public let path: String
    /// The link-layer type of the capture.
    public let linkType: LinkType
    /// Packets delivered so far.
    public private(set) var packetsRead = 0

    private let handle: OpaquePointer

    /// Opens the capture at `path`, or standard input for `-`.
    /// - Throws: `CaptureError` naming the file: not found, unreadable, empty,
    ///   not a capture, or cut inside its header.
    public init(path: String) throws {
        self.path = path
        if path != "-" {
            var info = stat()
            if stat(path, &info) != 0 {
                let code: CaptureError.Code = errno == ENOENT ? .notFound : .unreadable
                let text = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
                throw CaptureError(code: code, path: path, message: text)
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw CaptureError(code: .unreadable, path: path, message: "is a directory, not a capture")
            }
            if info.st_size == 0 {
                throw CaptureError(code: .empty, path: path, message: "empty file, not a capture")
            }
            if access(path, R_OK) != 0 {
                throw CaptureError(code: .unreadable, path: path, message: String(cString: strerror(errno)))
            }
        }
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let pcap = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            let reason = String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CaptureSource.openError(path: path, libpcapMessage: reason)
        }
        handle = pcap
        linkType = LinkType(rawValue: pcap_datalink(pcap))
    }

    deinit {
        pcap_close(handle)
    }

    /// Maps libpcap's open errors to one clear line.
    static func openError(path: String, libpcapMessage reason: String) -> CaptureError {
        if reason.contains("unknown file format") || reason.contains("bad dump file format") {
            return CaptureError(code: .notACapture, path: path, message: "not a pcap or pcapng capture (unknown magic number)", fileOffset: 0)
        }
        if reason.contains("truncated") || reason.contains("end of file") || reason.contains("short") {
            return CaptureError(code: .truncated, path: path, message: "capture ends inside its file header", fileOffset: 0)
        }
        if path == "-" && reason.isEmpty {
            return CaptureError(code: .empty, path: path, message: "standard input is empty", fileOffset: 0)
        }
        return CaptureError(code: .corrupt, path: path, message: reason.isEmpty ? "cannot be read as a capture" : reason, fileOffset: 0)
    }

    /// The byte offset libpcap has read up to, when the input is a file.
    var fileOffset: Int64? {
        guard let file = pcap_file(handle) else { return nil }
        let position = ftello(file)
        return position >= 0 ? Int64(position) : nil
    }

    /// Calls `body` with each packet in order until the capture ends.
    ///
    /// The packet's bytes are valid only during the call.
    /// - Throws: `CaptureError` when the capture is cut or corrupt part-way;
    ///   the packets before it have been delivered.
    public func forEachPacket(_ body: (borrowing RawPacket) throws -> Void) throws {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        while true {
            let rc = pcap_next_ex(handle, &header, &data)
            switch rc {
            case 1:
                guard let header, let data else { continue }
                packetsRead += 1
                let h = header.pointee
                let packet = RawPacket(
                    timestamp: MediaTime(seconds: Int64(h.ts.tv_sec), nanoseconds: Int64(h.ts.tv_usec)),
                    bytes: UnsafeRawBufferPointer(start: data, count: Int(h.caplen)),
                    originalLength: Int(h.len),
                    linkType: linkType,
                    number: packetsRead
                )
                try body(packet)
            case -2:  // end of the capture (PCAP_ERROR_BREAK from a savefile)
                return
            default:
                let reason = String(cString: pcap_geterr(handle))
                let code: CaptureError.Code = reason.contains("truncated") ? .truncated : .corrupt
                throw CaptureError(code: code, path: path, message: reason, fileOffset: fileOffset, packetsRead: packetsRead)
            }
        }
    }
}
