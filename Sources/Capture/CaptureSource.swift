import CallrecCore

/// Where packets come from: a capture file, standard input (`-`, read as a
/// stream and never seeked), or a live interface. Every source pushes
/// packets in order through `forEachPacket`.
///
/// Files and standard input are read by `CaptureFileReader` (pcap and pcapng
/// by magic number, multi-link pcapng, resynchronisation after garbage, byte
/// offsets in every error); live interfaces and BPF filters go through
/// libpcap.
public final class CaptureSource {
    /// What to read: a file (or `-`), or an interface, with an optional BPF filter.
    public struct Input: Sendable, Equatable, CustomStringConvertible {
        /// A capture file's path, or `-` for standard input.
        public var path: String?
        /// A network interface to capture on live.
        public var interface: String?
        /// A BPF filter expression (tcpdump syntax).
        public var filter: String?

        /// A capture file, or standard input for `-`.
        public static func file(_ path: String, filter: String? = nil) -> Input {
            Input(path: path, interface: nil, filter: filter)
        }

        /// A live interface.
        public static func interface(_ name: String, filter: String? = nil) -> Input {
            Input(path: nil, interface: name, filter: filter)
        }

        /// The name shown in messages: the path, `<stdin>`, or `interface NAME`.
        public var description: String {
            if let interface { return "interface \(interface)" }
            return path == "-" ? "<stdin>" : path ?? "?"
        }
    }

    private enum Backend {
        case file(CaptureFileReader)
        case live(LiveCapture)
    }

    /// The path as given (`-` for standard input), or the interface name.
    public let path: String
    private let backend: Backend
    private let filter: PacketFilter?
    private let diagnostics: Diagnostics
    /// Packets read so far (before any filter).
    public private(set) var packetsRead = 0

    /// Opens a capture file, or standard input for `-`.
    /// - Parameters:
    ///   - filter: a BPF expression; packets it rejects are counted and skipped.
    ///   - diagnostics: where skipped bytes, cut records and filtered packets are counted.
    /// - Throws: `CaptureError` naming the file: not found, unreadable, empty,
    ///   not a capture, cut inside its header, or a bad filter.
    ///   - observer: sees every byte of the file as it is read (a digest of the whole capture).
    public init(
        path: String, filter: String? = nil, diagnostics: Diagnostics = Diagnostics(), observer: (any ByteStreamObserver)? = nil
    ) throws {
        self.path = path
        self.diagnostics = diagnostics
        backend = .file(try CaptureFileReader(path: path, diagnostics: diagnostics, observer: observer))
        self.filter = try filter.map { try PacketFilter(expression: $0, path: path) }
    }

    /// Opens a live interface through libpcap; `filter` runs in the kernel.
    /// - Throws: `CaptureError` with code `.interface` or `.filter`.
    public init(interface: String, filter: String? = nil, diagnostics: Diagnostics = Diagnostics()) throws {
        self.path = interface
        self.diagnostics = diagnostics
        backend = .live(try LiveCapture(interface: interface, filter: filter))
        self.filter = nil
    }

    /// Opens `input`: its file (or standard input) or its interface.
    /// - Parameter observer: for a file or standard input, sees every byte as it is read.
    public convenience init(_ input: Input, diagnostics: Diagnostics = Diagnostics(), observer: (any ByteStreamObserver)? = nil) throws {
        if let interface = input.interface {
            try self.init(interface: interface, filter: input.filter, diagnostics: diagnostics)
        } else {
            try self.init(path: input.path ?? "-", filter: input.filter, diagnostics: diagnostics, observer: observer)
        }
    }

    /// Whether a file or standard input has been read to its last byte (false for a live capture).
    public var readToEnd: Bool {
        if case .file(let reader) = backend { return reader.readToEnd }
        return false
    }

    /// Reads the rest of a file that parsing stopped in, unparsed, so its
    /// observer has seen every byte; nothing for a live capture.
    /// - Throws: `CaptureError` when a read fails.
    public func drainToEnd() throws {
        if case .file(let reader) = backend { try reader.drainToEnd() }
    }

    /// The container format.
    public var format: CaptureFormat {
        switch backend {
        case .file(let reader): reader.format
        case .live: .live
        }
    }

    /// The link types met so far.
    public var linkTypes: [LinkType] {
        switch backend {
        case .file(let reader): reader.linkTypes
        case .live(let capture): [capture.linkType]
        }
    }

    /// A handle that stops a live capture from another thread (a signal
    /// handler's dispatch source). For files it does nothing: they end by themselves.
    public var stopHandle: StopHandle { StopHandle(self) }

    /// Stops `forEachPacket` on a live capture; safe to call from any thread.
    public final class StopHandle: @unchecked Sendable {
        // SAFETY: only `stop()` is reachable from other threads, and it only calls
        // pcap_breakloop, which libpcap documents as callable from another thread.
        private let source: CaptureSource
        init(_ source: CaptureSource) { self.source = source }

        /// Asks the capture loop to return after the packet in hand.
        public func stop() {
            if case .live(let capture) = source.backend { capture.stop() }
        }
    }

    /// For a live capture, libpcap's drop counts so far: packets the kernel
    /// dropped because they were not read fast enough (`ps_drop`), and packets
    /// the interface or its driver dropped (`ps_ifdrop`); nil for files. Call
    /// it on the thread that runs `forEachPacket` (from its body).
    public var liveDrops: (kernel: Int, interface: Int)? {
        if case .live(let capture) = backend { return capture.drops }
        return nil
    }

    /// Calls `body` with each packet in order until the capture ends (or, live, until stopped).
    ///
    /// The packet's bytes are valid only during the call.
    /// - Throws: `CaptureError` when the input cannot be read on; the packets
    ///   before it have been delivered.
    public func forEachPacket(_ body: (borrowing RawPacket) throws -> Void) throws {
        switch backend {
        case .file(let reader):
            if let filter {
                while let packet = try reader.next() {
                    packetsRead += 1
                    if filter.matches(packet) {
                        try body(packet)
                    } else {
                        diagnostics.count(.capturePacketsFiltered)
                    }
                }
            } else {
                while let packet = try reader.next() {
                    packetsRead += 1
                    try body(packet)
                }
            }
        case .live(let capture):
            defer {
                diagnostics.count(.captureDroppedByKernel, by: capture.droppedByKernel)
            }
            _ = try capture.forEachPacket(startingAt: packetsRead + 1) { packet in
                packetsRead += 1
                try body(packet)
            }
        }
    }
}
