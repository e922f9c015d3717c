import CallrecCore

/// Reads pcap and pcapng captures front to back, from a file, a pipe or
/// memory, without ever seeking.
///
/// Written by hand rather than through libpcap's savefile reader because
/// libpcap 1.10 refuses pcapng files whose interfaces have different link
/// types, stops at the first bad record header instead of resynchronising,
/// and cannot say at which byte a capture went wrong. Everything libpcap does
/// well stays with libpcap: live capture and BPF filters (`LiveCapture`,
/// `PacketFilter`).
///
/// - The format comes from the magic number: pcap (microsecond or nanosecond,
///   either byte order, and the modified 24-byte-record variant) or pcapng
///   (any number of sections and interfaces, each with its own link type and
///   timestamp resolution; unknown blocks are skipped and counted).
/// - A record whose header cannot be right (a length past the limit, a
///   fraction of a second that is not one, a pcapng block whose trailing
///   length disagrees) is counted, and the reader scans forward to the next
///   plausible record; the bytes skipped are counted and noted with their
///   offset.
/// - A capture that ends inside its last record (a writer killed mid-packet)
///   delivers every whole packet and counts the cut one.
///
/// Memory is one buffer that holds the largest record met (at most
/// `maxRecordLength` plus a header); packets are delivered in place, so
/// reading allocates nothing per packet.
public final class CaptureFileReader {
    /// The largest pcap record or pcapng block accepted, in bytes.
    public static let maxRecordLength = 16 << 20
    /// The largest snap length a pcap record may claim when the file header's is smaller.
    static let defaultCaptureLimit = 262_144
    /// The most pcapng interfaces kept per section; more are counted as corrupt.
    static let maxInterfaces = 1024

    /// The capture's name as the user gave it (`-` for standard input).
    public let path: String
    /// The container format, from the magic number.
    public private(set) var format: CaptureFormat = .pcap(nanosecond: false, modified: false)
    /// Packets delivered so far.
    public private(set) var packetsRead = 0
    /// The link types met so far (one for pcap; one per distinct pcapng interface type).
    public private(set) var linkTypes: [LinkType] = []

    private let diagnostics: Diagnostics
    private var input: Input
    /// Sees every byte read, in order (a digest of the whole capture).
    private let observer: (any ByteStreamObserver)?

    // The buffer: valid bytes are storage[head..<tail]; storage[0] is at file offset storageOffset.
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var head = 0
    private var tail = 0
    private var storageOffset: Int64 = 0
    private var atEnd = false
    private var finished = false

    private var littleEndian = true
    // pcap
    private var recordHeaderLength = 16
    private var fractionUnit: UInt32 = 1_000_000
    private var fractionToNanoseconds: Int64 = 1000
    private var pcapLinkType = LinkType.ethernet
    private var captureLimit = CaptureFileReader.defaultCaptureLimit
    // pcapng
    private var interfaces: [Interface] = []
    private var lastTimestamp = MediaTime(nanoseconds: 0)

    /// Where the bytes come from.
    private enum Input {
        case descriptor(Int32, owned: Bool)
        case memory([UInt8], position: Int, chunk: Int)
    }

    /// One pcapng interface: its link type and clock.
    struct Interface {
        var linkType: LinkType
        /// `if_tsresol`: bit 7 clear = 10^-n seconds per tick, set = 2^-n.
        var resolution: UInt8 = 6
        /// `if_tsoffset`: seconds added to every timestamp.
        var offsetSeconds: Int64 = 0

        /// Nanoseconds since the epoch for a 64-bit tick count; wraps rather than traps on absurd values.
        func nanoseconds(ticks: UInt64) -> Int64 {
            var result: UInt64
            if resolution & 0x80 == 0 {
                let exponent = Int(resolution)
                if exponent <= 9 {
                    result = ticks &* CaptureFileReader.powersOfTen[9 - exponent]
                } else if exponent - 9 <= 19 {
                    result = ticks / CaptureFileReader.powersOfTen[exponent - 9]
                } else {
                    result = 0
                }
            } else {
                let shift = UInt64(resolution & 0x7F)
                guard shift < 64 else { return offsetSeconds &* 1_000_000_000 }
                let seconds = ticks >> shift
                let fraction = ticks & ((1 << shift) &- 1)
                // fraction * 1e9 / 2^shift without overflow: the full 128-bit product, shifted.
                let product = fraction.multipliedFullWidth(by: 1_000_000_000)
                let fractionNanoseconds = shift == 0 ? 0 : (product.low >> shift) | (product.high << (64 - shift))
                result = seconds &* 1_000_000_000 &+ fractionNanoseconds
            }
            return Int64(truncatingIfNeeded: result) &+ offsetSeconds &* 1_000_000_000
        }
    }

    static let powersOfTen: [UInt64] = (0...19).map { k in (0..<k).reduce(UInt64(1)) { p, _ in p &* 10 } }

    /// Opens the capture at `path`, or standard input for `-`, and reads its header.
    /// - Throws: `CaptureError` naming the file: not found, unreadable, empty,
    ///   not a capture, or cut inside its header.
    /// - Parameter observer: sees every byte as it is read, the header included.
    public convenience init(path: String, diagnostics: Diagnostics, observer: (any ByteStreamObserver)? = nil) throws {
        let fd: Int32
        if path == "-" {
            fd = 0
        } else {
            let kind: System.FileKind
            do throws(SystemError) {
                kind = try System.kind(of: path)
                if kind != .directory { fd = try System.openForReading(path) } else { fd = -1 }
            } catch {
                throw CaptureError(
                    code: error.isNotFound ? .notFound : .unreadable, path: path,
                    message: error.isNotFound ? "no such file" : error.description)
            }
            if kind == .directory {
                throw CaptureError(code: .unreadable, path: path, message: "is a directory, not a capture")
            }
        }
        try self.init(path: path, input: .descriptor(fd, owned: path != "-"), diagnostics: diagnostics, observer: observer)
    }

    /// Reads a capture held in memory, handing the bytes over `chunk` at a
    /// time as a pipe would (for tests and the fuzzer).
    public convenience init(
        bytes: [UInt8], name: String = "<memory>", chunk: Int = 1 << 16, diagnostics: Diagnostics, observer: (any ByteStreamObserver)? = nil
    ) throws {
        try self.init(path: name, input: .memory(bytes, position: 0, chunk: max(1, chunk)), diagnostics: diagnostics, observer: observer)
    }

    private init(path: String, input: Input, diagnostics: Diagnostics, observer: (any ByteStreamObserver)?) throws {
        self.path = path
        self.input = input
        self.diagnostics = diagnostics
        self.observer = observer
        if case .memory(let bytes, _, _) = input {
            capacity = min(1 << 20, max(4096, bytes.count))  // small inputs (the fuzzer's) get a small buffer
        } else {
            capacity = 1 << 20
        }
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        do {
            try readFileHeader()
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        storage.deallocate()
    }

    private func close() {
        if case .descriptor(let fd, true) = input {
            System.close(fd)
            input = .descriptor(-1, owned: false)
        }
    }

    // MARK: Buffer

    /// The file offset of `storage[index]`.
    @inline(__always)
    private func offset(_ index: Int) -> Int64 { storageOffset + Int64(index) }

    /// Makes at least `minimum` bytes available from `head`. Returns false if
    /// the input ends first (the bytes that did arrive stay available).
    @inline(__always)
    private func fill(_ minimum: Int) throws -> Bool {
        if tail - head >= minimum { return true }
        return try fillSlow(minimum)
    }

    private func fillSlow(_ minimum: Int) throws -> Bool {
        if atEnd { return false }
        if head + minimum > capacity {
            let live = tail - head
            if minimum > capacity {
                let grown = min(max(minimum, capacity * 2), CaptureFileReader.maxRecordLength + 64)
                let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
                bigger.copyMemory(from: storage + head, byteCount: live)
                storage.deallocate()
                storage = bigger
                capacity = grown
            } else if live > 0 {
                // The regions may overlap: copyMemory moves as memmove does.
                storage.copyMemory(from: storage + head, byteCount: live)
            }
            storageOffset += Int64(head)
            head = 0
            tail = live
        }
        while tail - head < minimum {
            let n = try readSome(into: storage + tail, count: capacity - tail)
            if n == 0 {
                atEnd = true
                return false
            }
            tail += n
        }
        return true
    }

    private func readSome(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        let n = try readInput(into: destination, count: count)
        if n > 0, let observer { observer.observe(UnsafeRawBufferPointer(start: destination, count: n)) }
        return n
    }

    private func readInput(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        switch input {
        case .descriptor(let fd, _):
            do {
                return try System.read(fd, into: destination, count: count)
            } catch {
                throw CaptureError(
                    code: .unreadable, path: path, message: "read failed: \(error)", fileOffset: offset(tail),
                    packetsRead: packetsRead)
            }
        case .memory(let bytes, let position, let chunk):
            let n = min(count, chunk, bytes.count - position)
            if n <= 0 { return 0 }
            bytes.withUnsafeBytes { source in
                destination.copyMemory(from: source.baseAddress! + position, byteCount: n)
            }
            input = .memory(bytes, position: position + n, chunk: chunk)
            return n
        }
    }

    @inline(__always)
    private func u16(_ index: Int) -> UInt16 {
        let raw = storage.loadUnaligned(fromByteOffset: index, as: UInt16.self)
        return littleEndian ? UInt16(littleEndian: raw) : UInt16(bigEndian: raw)
    }

    @inline(__always)
    private func u32(_ index: Int) -> UInt32 {
        let raw = storage.loadUnaligned(fromByteOffset: index, as: UInt32.self)
        return littleEndian ? UInt32(littleEndian: raw) : UInt32(bigEndian: raw)
    }

    // MARK: File header

    private func readFileHeader() throws {
        guard try fill(4) else {
            if tail == 0 {
                let message = path == "-" ? "standard input is empty" : "empty file, not a capture"
                throw CaptureError(code: .empty, path: path, message: message, fileOffset: 0)
            }
            throw CaptureError(code: .truncated, path: path, message: "capture ends inside its file header", fileOffset: Int64(tail))
        }
        let magic = UInt32(littleEndian: storage.loadUnaligned(as: UInt32.self))
        switch magic {
        case 0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34:
            littleEndian = true
            try readPcapHeader(magic: magic)
        case 0xD4C3_B2A1, 0x4D3C_B2A1, 0x34CD_B2A1:
            littleEndian = false
            try readPcapHeader(magic: magic.byteSwapped)
        case 0x0A0D_0D0A:
            format = .pcapng
            guard try fill(12) else {
                throw CaptureError(code: .truncated, path: path, message: "capture ends inside its section header", fileOffset: Int64(tail))
            }
            guard setByteOrder(sectionAt: head) else {
                throw CaptureError(code: .corrupt, path: path, message: "pcapng section header has no valid byte-order magic", fileOffset: 8)
            }
        default:
            var message = "not a pcap or pcapng capture (unknown magic number)"
            if magic & 0xFFFF == 0x8B1F {
                message += "; it is gzip-compressed: decompress it first (zcat FILE | callrec ... -)"
            }
            throw CaptureError(code: .notACapture, path: path, message: message, fileOffset: 0)
        }
    }

    /// Reads the 24-byte pcap file header; `magic` is in the file's own byte order.
    private func readPcapHeader(magic: UInt32) throws {
        guard try fill(24) else {
            throw CaptureError(code: .truncated, path: path, message: "capture ends inside its 24-byte file header", fileOffset: Int64(tail))
        }
        let nanosecond = magic == 0xA1B2_3C4D
        let modified = magic == 0xA1B2_CD34
        format = .pcap(nanosecond: nanosecond, modified: modified)
        recordHeaderLength = modified ? 24 : 16
        fractionUnit = nanosecond ? 1_000_000_000 : 1_000_000
        fractionToNanoseconds = nanosecond ? 1 : 1000
        let major = u16(4)
        let minor = u16(6)
        guard major == 2 else {
            throw CaptureError(code: .corrupt, path: path, message: "pcap version \(major).\(minor) is not supported", fileOffset: 4)
        }
        let snapLength = Int(u32(16))
        captureLimit = min(max(snapLength, CaptureFileReader.defaultCaptureLimit), CaptureFileReader.maxRecordLength)
        // Bits 0-15 are the link type; the upper bits carry FCS information.
        pcapLinkType = LinkType(rawValue: Int32(u32(20) & 0xFFFF))
        linkTypes = [pcapLinkType]
        head = 24
    }

    // MARK: Packets

    /// The next packet, or nil at the end of the capture. The packet's bytes
    /// are valid until the next call.
    /// - Throws: `CaptureError` when the input cannot be read on (an I/O
    ///   error, an unsupported pcapng section); the packets before it have
    ///   been delivered.
    public func next() throws -> RawPacket? {
        if finished { return nil }
        if case .pcapng = format { return try nextBlockPacket() }
        return try nextPcapRecord()
    }

    /// Whether every byte of the input has been read (the end was reached).
    public var readToEnd: Bool { atEnd }

    /// Reads what is left of the input without parsing it, so the observer
    /// sees every byte (reading stopped early: an error, a section of an
    /// unknown version). Returns the bytes read.
    /// - Throws: `CaptureError` when a read fails.
    @discardableResult
    public func drainToEnd() throws -> Int64 {
        var total: Int64 = 0
        head = 0
        tail = 0
        while !atEnd {
            let n = try readSome(into: storage, count: capacity)
            if n == 0 { atEnd = true }
            total += Int64(n)
        }
        return total
    }

    /// Calls `body` with each packet in order until the capture ends.
    public func forEachPacket(_ body: (borrowing RawPacket) throws -> Void) throws {
        while let packet = try next() {
            try body(packet)
        }
    }

    /// The end of the input: a clean end, or a last record cut short (counted and noted).
    private func endOfInput() {
        finished = true
        let left = tail - head
        if left > 0 {
            diagnostics.count(.captureRecordsTruncated)
            diagnostics.note("the capture ends inside a record at byte \(offset(head)) (\(left) bytes of it present); the packets before it were read")
            head = tail
        }
    }

    // MARK: pcap

    private struct RecordHeader {
        var seconds: UInt32
        var fraction: UInt32
        var capturedLength: UInt32
        var originalLength: UInt32
    }

    @inline(__always)
    private func pcapRecordHeader(at index: Int) -> RecordHeader {
        RecordHeader(seconds: u32(index), fraction: u32(index + 4), capturedLength: u32(index + 8), originalLength: u32(index + 12))
    }

    /// Whether a record header can be right. `strict` is for resynchronising:
    /// then the wire length must cover the captured length and the time must
    /// lie within a day of the last good packet.
    @inline(__always)
    private func plausible(_ h: RecordHeader, strict: Bool) -> Bool {
        guard Int(h.capturedLength) <= captureLimit, h.fraction < fractionUnit, h.originalLength > 0 else { return false }
        if strict {
            guard h.originalLength >= h.capturedLength, Int(h.originalLength) <= CaptureFileReader.maxRecordLength else { return false }
            if packetsRead > 0 {
                let distance = Int64(h.seconds) - lastTimestamp.nanoseconds / 1_000_000_000
                guard abs(distance) <= 86_400 else { return false }
            }
        }
        return true
    }

    private func nextPcapRecord() throws -> RawPacket? {
        while true {
            guard try fill(recordHeaderLength) else {
                endOfInput()
                return nil
            }
            let header = pcapRecordHeader(at: head)
            guard plausible(header, strict: false) else {
                try resynchronisePcap()
                continue
            }
            let length = Int(header.capturedLength)
            guard try fill(recordHeaderLength + length) else {
                // Cut by the end, or garbage whose length runs past it: look for records after it.
                try resynchronisePcap(cutByEnd: true)
                continue
            }
            let time = MediaTime(nanoseconds: Int64(header.seconds) &* 1_000_000_000 &+ Int64(header.fraction) &* fractionToNanoseconds)
            packetsRead += 1
            lastTimestamp = time
            let packet = RawPacket(
                timestamp: time,
                bytes: UnsafeRawBufferPointer(start: storage + head + recordHeaderLength, count: length),
                originalLength: Int(header.originalLength),
                linkType: pcapLinkType,
                number: packetsRead)
            head += recordHeaderLength + length
            return packet
        }
    }

    /// Skips from a bad record header to the next offset where a plausible
    /// record is followed by another plausible record (or by the end).
    /// `cutByEnd`: the record at `head` runs past the end of the input; if no
    /// record follows it, it is a cut last record rather than garbage.
    private func resynchronisePcap(cutByEnd: Bool = false) throws {
        let start = offset(head)
        let startIndex = head
        var skipped = 0
        while true {
            head += 1
            skipped += 1
            guard try fill(recordHeaderLength) else {
                skipped += tail - head
                head = tail
                break
            }
            let candidate = pcapRecordHeader(at: head)
            guard plausible(candidate, strict: true) else { continue }
            let next = recordHeaderLength + Int(candidate.capturedLength)
            if try fill(next + recordHeaderLength) {
                if plausible(pcapRecordHeader(at: head + next), strict: true) { break }
            } else if tail - head >= next {
                break  // the candidate is whole and the capture ends right after it
            }
        }
        finishResynchronising(skipped: skipped, from: startIndex, at: start, cutByEnd: cutByEnd)
    }

    /// Counts and notes the bytes a scan skipped. A scan that started at a
    /// record cut by the end (`cutByEnd`) and found nothing after it counts a
    /// cut last record instead.
    private func finishResynchronising(skipped: Int, from startIndex: Int, at start: Int64, cutByEnd: Bool) {
        if cutByEnd && head == tail {
            head = startIndex  // still in the buffer: at the end nothing is moved
            endOfInput()
            return
        }
        diagnostics.count(.captureRecordsCorrupt)
        diagnostics.count(.captureBytesSkipped, by: skipped)
        diagnostics.note("skipped \(skipped) bytes that are not capture records at byte \(start)")
    }

    // MARK: pcapng

    private enum Block {
        static let sectionHeader: UInt32 = 0x0A0D_0D0A
        static let interfaceDescription: UInt32 = 1
        static let obsoletePacket: UInt32 = 2
        static let simplePacket: UInt32 = 3
        static let nameResolution: UInt32 = 4
        static let interfaceStatistics: UInt32 = 5
        static let enhancedPacket: UInt32 = 6
        /// Blocks that carry nothing callrec uses: IRIG timestamp, ARINC 429,
        /// systemd journal, decryption secrets, custom, Apple process information.
        static let ignored: Set<UInt32> = [7, 8, 9, 10, 0x0000_0BAD, 0x4000_0BAD, 0x8000_0001]

        static func isKnown(_ type: UInt32) -> Bool {
            type == sectionHeader || (1...6).contains(type) || ignored.contains(type)
        }
    }

    /// Sets the byte order from the section header at `index`; false if its magic is not one.
    private func setByteOrder(sectionAt index: Int) -> Bool {
        let magic = UInt32(littleEndian: storage.loadUnaligned(fromByteOffset: index + 8, as: UInt32.self))
        if magic == 0x1A2B_3C4D {
            littleEndian = true
        } else if magic == 0x4D3C_2B1A {
            littleEndian = false
        } else {
            return false
        }
        return true
    }

    /// Whether the block at `head` is framed correctly: a sane length that its
    /// trailing copy repeats. Loads the whole block. `nil` means the input ends inside it.
    private func framedBlockLength() throws -> Int? {
        let length = Int(u32(head + 4))
        guard length >= 12, length % 4 == 0, length <= CaptureFileReader.maxRecordLength else { return 0 }
        guard try fill(length) else { return nil }
        return u32(head + length - 4) == UInt32(length) ? length : 0
    }

    private func nextBlockPacket() throws -> RawPacket? {
        while true {
            guard try fill(12) else {
                endOfInput()
                return nil
            }
            let type = u32(head)
            if type == Block.sectionHeader, !setByteOrder(sectionAt: head) {
                try resynchronisePcapng()
                continue
            }
            guard let length = try framedBlockLength() else {
                // Cut by the end, or garbage whose length runs past it: look for blocks after it.
                try resynchronisePcapng(cutByEnd: true)
                continue
            }
            if length == 0 {
                try resynchronisePcapng()
                continue
            }
            let block = head
            head += length
            switch type {
            case Block.sectionHeader:
                try section(at: block, length: length)
            case Block.interfaceDescription:
                interface(at: block, length: length)
            case Block.enhancedPacket, Block.obsoletePacket:
                if let packet = packet(at: block, length: length, enhanced: type == Block.enhancedPacket) { return packet }
            case Block.simplePacket:
                if let packet = simplePacket(at: block, length: length) { return packet }
            case Block.nameResolution, Block.interfaceStatistics:
                continue
            default:
                if !Block.ignored.contains(type) { diagnostics.count(.captureBlocksUnknown) }
            }
        }
    }

    /// Section header: magic(4) major(2) minor(2) section length(8) options. Starts a new set of interfaces.
    private func section(at block: Int, length: Int) throws {
        guard length >= 28 else {
            diagnostics.count(.captureRecordsCorrupt)
            return
        }
        let major = u16(block + 12)
        let minor = u16(block + 14)
        guard major == 1 else {
            finished = true
            throw CaptureError(
                code: .corrupt, path: path, message: "pcapng section version \(major).\(minor) is not supported",
                fileOffset: offset(block), packetsRead: packetsRead)
        }
        interfaces.removeAll(keepingCapacity: true)
    }

    /// Interface description: link type(2) reserved(2) snap length(4) options.
    private func interface(at block: Int, length: Int) {
        guard length >= 20, interfaces.count < CaptureFileReader.maxInterfaces else {
            diagnostics.count(.captureRecordsCorrupt)
            return
        }
        var description = Interface(linkType: LinkType(rawValue: Int32(u16(block + 8))))
        // Options: code(2) length(2) value padded to 4 bytes; code 0 ends them.
        var option = block + 16
        let end = block + length - 4
        while option + 4 <= end {
            let code = u16(option)
            let valueLength = Int(u16(option + 2))
            let value = option + 4
            if code == 0 || value + valueLength > end { break }
            if code == 9 && valueLength >= 1 {
                description.resolution = storage.load(fromByteOffset: value, as: UInt8.self)
            } else if code == 14 && valueLength >= 8 {
                let high = UInt64(u32(value))
                let low = UInt64(u32(value + 4))
                // if_tsoffset is a 64-bit integer in the section's byte order.
                let raw = littleEndian ? (high | low << 32) : (high << 32 | low)
                description.offsetSeconds = Int64(bitPattern: raw)
            }
            option = value + (valueLength + 3) & ~3
        }
        interfaces.append(description)
        if !linkTypes.contains(description.linkType) { linkTypes.append(description.linkType) }
    }

    /// Enhanced packet: interface(4) ts high(4) ts low(4) captured(4) original(4) data.
    /// Obsolete packet: interface(2) drops(2) then the same fields.
    private func packet(at block: Int, length: Int, enhanced: Bool) -> RawPacket? {
        guard length >= 32 else {
            diagnostics.count(.captureRecordsCorrupt)
            return nil
        }
        let interfaceID = enhanced ? Int(u32(block + 8)) : Int(u16(block + 8))
        let captured = Int(u32(block + 20))
        guard interfaceID < interfaces.count, captured <= length - 32 else {
            diagnostics.count(.captureRecordsCorrupt)
            return nil
        }
        let description = interfaces[interfaceID]
        let ticks = UInt64(u32(block + 12)) << 32 | UInt64(u32(block + 16))
        let time = MediaTime(nanoseconds: description.nanoseconds(ticks: ticks))
        return deliver(at: block + 28, captured: captured, original: Int(u32(block + 24)), time: time, linkType: description.linkType)
    }

    /// Simple packet: original length(4) data, on interface 0, with no timestamp
    /// (it gets the previous packet's time).
    private func simplePacket(at block: Int, length: Int) -> RawPacket? {
        guard length >= 16, let first = interfaces.first else {
            diagnostics.count(.captureRecordsCorrupt)
            return nil
        }
        let original = Int(u32(block + 8))
        return deliver(at: block + 12, captured: min(original, length - 16), original: original, time: lastTimestamp, linkType: first.linkType)
    }

    @inline(__always)
    private func deliver(at index: Int, captured: Int, original: Int, time: MediaTime, linkType: LinkType) -> RawPacket {
        packetsRead += 1
        lastTimestamp = time
        return RawPacket(
            timestamp: time, bytes: UnsafeRawBufferPointer(start: storage + index, count: captured),
            originalLength: original, linkType: linkType, number: packetsRead)
    }

    /// Skips from a badly framed block to the next offset holding a known
    /// block type whose length is sane and repeated at its end.
    /// `cutByEnd`: the block at `head` runs past the end of the input; if no
    /// block follows it, it is a cut last block rather than garbage.
    private func resynchronisePcapng(cutByEnd: Bool = false) throws {
        let start = offset(head)
        let startIndex = head
        var skipped = 0
        let savedOrder = littleEndian
        while true {
            head += 1
            skipped += 1
            guard try fill(12) else {
                skipped += tail - head
                head = tail
                break
            }
            let type = u32(head)
            if type == Block.sectionHeader {
                guard setByteOrder(sectionAt: head) else { continue }
            } else {
                littleEndian = savedOrder
                guard Block.isKnown(type) else { continue }
            }
            let length = Int(u32(head + 4))
            guard length >= 12, length % 4 == 0, length <= CaptureFileReader.maxRecordLength else { continue }
            if try !fill(length) { continue }
            if u32(head + length - 4) == UInt32(length) { break }
        }
        if head == tail { littleEndian = savedOrder }
        finishResynchronising(skipped: skipped, from: startIndex, at: start, cutByEnd: cutByEnd)
    }
}
