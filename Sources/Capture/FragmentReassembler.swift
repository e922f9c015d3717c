import CallrecCore

/// Puts fragmented IPv4 and IPv6 datagrams back together (RFC 791, RFC 8200
/// section 4.5), with bounded memory and a timeout in capture time.
///
/// - At most `Limits.maxDatagrams` datagrams are in flight, holding at most
///   `Limits.maxBytes` between them (by the extent of the data received);
///   a new datagram that does not fit evicts the oldest.
/// - A datagram not complete `Limits.timeout` after its first fragment is
///   given up.
/// - Fragments of a datagram given up, fragments that are malformed (a
///   non-final fragment that is not a multiple of 8 bytes, data past 64 KiB,
///   two different ends) are counted in `ipFragmentsDropped`.
///
/// A reference type because it owns raw buffers (one per slot, made on first
/// use and reused): a completed datagram is handed out in place and stays
/// valid until the next fragment is added.
public final class FragmentReassembler {
    /// How much the reassembler may hold.
    public struct Limits: Sendable {
        /// Datagrams being reassembled at once.
        public var maxDatagrams: Int
        /// Bytes held by all of them together.
        public var maxBytes: Int
        /// How long a datagram may wait for its missing fragments, in capture time (nanoseconds).
        public var timeout: Int64

        /// 64 datagrams, 1 MiB, 30 s (Linux's `ipfrag_time`).
        public static let `default` = Limits(maxDatagrams: 64, maxBytes: 1 << 20, timeout: 30_000_000_000)

        /// Limits (at least one datagram, and room for one of 64 KiB).
        public init(maxDatagrams: Int, maxBytes: Int, timeout: Int64) {
            self.maxDatagrams = max(1, maxDatagrams)
            self.maxBytes = max(65_535, maxBytes)
            self.timeout = timeout
        }
    }

    /// Identifies one datagram's fragments: addresses, identification and IP version.
    struct Key: Equatable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var version: UInt8
    }

    /// One datagram in flight.
    struct Slot {
        var key = Key(source: IPAddress(high: 0, low: 0), destination: IPAddress(high: 0, low: 0), identification: 0, version: 0)
        var inUse = false
        var firstSeen: Int64 = 0
        /// Bytes from offset 0 to the furthest byte received.
        var extent = 0
        /// The datagram's length, once its last fragment arrived.
        var total: Int? = nil
        var fragments = 0
        /// The protocol (IPv4) or next header (IPv6) of the reassembled payload, from the first fragment.
        var payloadProtocol: UInt8 = 0
        var buffer: UnsafeMutableRawPointer? = nil
        /// Which 8-byte blocks have arrived: bit k of word k/64.
        var blocks: UnsafeMutablePointer<UInt64>? = nil
    }

    /// The largest reassembled payload accepted.
    static let maxDatagramLength = 65_535
    static let blockWords = (maxDatagramLength + 1 + 8 * 64 - 1) / (8 * 64)

    /// What the reassembler may hold.
    public let limits: Limits
    private let diagnostics: Diagnostics
    private var slots: [Slot]
    /// Bytes held by the datagrams in flight (by their extents); never more than `limits.maxBytes`.
    public private(set) var bytesHeld = 0

    /// A reassembler with nothing in flight; drops and completions are counted in `diagnostics`.
    public init(limits: Limits = .default, diagnostics: Diagnostics) {
        self.limits = limits
        self.diagnostics = diagnostics
        slots = Array(repeating: Slot(), count: limits.maxDatagrams)
    }

    deinit {
        for slot in slots {
            slot.buffer?.deallocate()
            slot.blocks?.deallocate()
        }
    }

    /// Datagrams in flight.
    public var datagramsInFlight: Int { slots.reduce(0) { $0 + ($1.inUse ? 1 : 0) } }

    /// Adds one fragment. Returns the whole payload (and its protocol) when
    /// this fragment completes a datagram; the bytes stay valid until the next call.
    /// - Parameters:
    ///   - offset: the fragment's position in the payload, in bytes.
    ///   - more: the more-fragments flag.
    ///   - payloadProtocol: the protocol this fragment says follows (meaningful on the first fragment).
    func add(
        source: IPAddress, destination: IPAddress, identification: UInt32, version: UInt8, offset: Int, more: Bool,
        payloadProtocol: UInt8, data: UnsafeRawBufferPointer, at time: MediaTime
    ) -> (payloadProtocol: UInt8, payload: UnsafeRawBufferPointer)? {
        expire(before: time.nanoseconds &- limits.timeout)
        let end = offset + data.count
        guard end <= FragmentReassembler.maxDatagramLength, !more || data.count % 8 == 0, !(more && data.isEmpty) else {
            diagnostics.count(.ipFragmentsDropped)
            return nil
        }
        let key = Key(source: source, destination: destination, identification: identification, version: version)
        guard let index = slot(for: key, at: time, extent: end) else {
            diagnostics.count(.ipFragmentsDropped)
            return nil
        }
        // SAFETY: every slot in use has its buffer and block map (made in `slot(for:)`),
        // the buffer holds maxDatagramLength bytes and end <= maxDatagramLength.
        let buffer = slots[index].buffer!
        let blocks = slots[index].blocks!
        if let base = data.baseAddress, !data.isEmpty {
            (buffer + offset).copyMemory(from: base, byteCount: data.count)
        }
        var block = offset / 8
        let lastBlock = (end + 7) / 8
        while block < lastBlock {
            blocks[block / 64] |= 1 << UInt64(block % 64)
            block += 1
        }
        slots[index].fragments += 1
        if offset == 0 { slots[index].payloadProtocol = payloadProtocol }
        if end > slots[index].extent {
            bytesHeld += end - slots[index].extent
            slots[index].extent = end
        }
        if !more {
            if let total = slots[index].total, total != end {
                drop(index)  // two different ends: not one datagram
                return nil
            }
            slots[index].total = end
        }
        guard let total = slots[index].total, slots[index].extent <= total, isComplete(blocks, total: total) else {
            if let total = slots[index].total, slots[index].extent > total { drop(index) }
            return nil
        }
        diagnostics.count(.ipFragmentsReassembled)
        let result = (slots[index].payloadProtocol, UnsafeRawBufferPointer(start: buffer, count: total))
        release(index)
        return result
    }

    /// Whether blocks 0 ..< ceil(total / 8) have all arrived.
    private func isComplete(_ blocks: UnsafeMutablePointer<UInt64>, total: Int) -> Bool {
        let count = (total + 7) / 8
        let fullWords = count / 64
        for w in 0..<fullWords where blocks[w] != UInt64.max { return false }
        let rest = count % 64
        if rest == 0 { return true }
        let mask: UInt64 = (1 << UInt64(rest)) - 1
        return blocks[fullWords] & mask == mask
    }

    /// The slot holding `key`, or a free one (evicting the oldest if need be).
    private func slot(for key: Key, at time: MediaTime, extent: Int) -> Int? {
        if let index = slots.firstIndex(where: { $0.inUse && $0.key == key }) {
            if extent > slots[index].extent {
                guard makeRoom(for: extent - slots[index].extent, keeping: index) else { return nil }
            }
            return index
        }
        guard makeRoom(for: extent, keeping: nil) else { return nil }
        let index: Int
        if let free = slots.firstIndex(where: { !$0.inUse }) {
            index = free
        } else {
            index = oldest(excluding: nil)!
            drop(index)
        }
        if slots[index].buffer == nil {
            slots[index].buffer = UnsafeMutableRawPointer.allocate(byteCount: FragmentReassembler.maxDatagramLength, alignment: 8)
            slots[index].blocks = UnsafeMutablePointer<UInt64>.allocate(capacity: FragmentReassembler.blockWords)
        }
        slots[index].blocks!.initialize(repeating: 0, count: FragmentReassembler.blockWords)
        slots[index].key = key
        slots[index].inUse = true
        slots[index].firstSeen = time.nanoseconds
        slots[index].extent = 0
        slots[index].total = nil
        slots[index].fragments = 0
        slots[index].payloadProtocol = 0
        return index
    }

    /// Evicts the oldest datagrams (other than `keeping`) until `bytes` more fit.
    private func makeRoom(for bytes: Int, keeping: Int?) -> Bool {
        while bytesHeld + bytes > limits.maxBytes {
            guard let victim = oldest(excluding: keeping) else { return false }
            drop(victim)
        }
        return true
    }

    private func oldest(excluding: Int?) -> Int? {
        var best: Int? = nil
        for k in slots.indices where slots[k].inUse && k != excluding {
            if best == nil || slots[k].firstSeen < slots[best!].firstSeen { best = k }
        }
        return best
    }

    /// Gives up every datagram still incomplete (the capture ended), counting its fragments as dropped.
    public func finish() {
        for k in slots.indices where slots[k].inUse { drop(k) }
    }

    /// Gives up every datagram whose first fragment came before `deadline`.
    private func expire(before deadline: Int64) {
        for k in slots.indices where slots[k].inUse && slots[k].firstSeen < deadline {
            drop(k)
        }
    }

    /// Gives up a datagram, counting its fragments as dropped.
    private func drop(_ index: Int) {
        diagnostics.count(.ipFragmentsDropped, by: slots[index].fragments)
        release(index)
    }

    private func release(_ index: Int) {
        bytesHeld -= slots[index].extent
        slots[index].inUse = false
        slots[index].extent = 0
        slots[index].fragments = 0
    }
}
