import CallrecCore

/// A fixed ring of RTP packets in sequence order, holding each payload
/// until its turn to be played. Written by hand: the jitter handling of a
/// recorder (play out by capture time, never by wall clock) is not what the
/// libraries' real-time jitter buffers do.
///
/// Slots are indexed by extended sequence number modulo `capacity`; the
/// payload bytes live in one preallocated arena, so storing and taking a
/// packet allocates nothing. Memory is `capacity * maxPayload` bytes.
public struct JitterBuffer: Sendable {
    /// What one stored packet says about itself.
    public struct Entry: Sendable, Equatable {
        /// Extended sequence number.
        public var sequence: Int64
        /// Extended RTP timestamp.
        public var timestamp: Int64
        public var payloadType: UInt8
        public var marker: Bool
        public var arrival: MediaTime
        /// Where the packet's audio belongs on the call timeline (samples), as placed on arrival.
        public var position: Int64
        /// The timeline epoch `position` was computed in.
        public var epoch: Int
        /// When it arrived, in timeline samples: it is played once capture time
        /// is a jitter window past this (however late its audio is placed).
        public var due: Int64
        public var length: Int
    }

    /// The outcome of `insert`.
    public enum Insertion: Sendable, Equatable {
        case stored
        /// The sequence number is already held.
        case duplicate
        /// The payload is longer than a slot.
        case oversized
    }

    public let capacity: Int
    public let maxPayload: Int
    private var entries: [Entry?]
    private var arena: [UInt8]
    /// Packets held.
    public private(set) var count = 0

    /// - Parameters:
    ///   - capacity: packets held at most (the window in packets).
    ///   - maxPayload: the largest payload kept, in bytes (1280 holds 160 ms of G.711).
    public init(capacity: Int = 64, maxPayload: Int = 1280) {
        precondition(capacity > 0 && maxPayload > 0)
        self.capacity = capacity
        self.maxPayload = maxPayload
        entries = Array(repeating: nil, count: capacity)
        arena = Array(repeating: 0, count: capacity * maxPayload)
    }

    @inline(__always)
    private func index(_ sequence: Int64) -> Int {
        Int(sequence % Int64(capacity) + Int64(capacity)) % capacity
    }

    /// Stores a packet under its extended sequence number. The caller keeps
    /// sequence numbers within `capacity` of the oldest held (see `oldest`).
    public mutating func insert(
        sequence: Int64, timestamp: Int64, header: RTPHeader, payload: UnsafeRawBufferPointer, arrival: MediaTime, position: Int64,
        epoch: Int = 0, due: Int64? = nil
    ) -> Insertion {
        let k = index(sequence)
        if let held = entries[k], held.sequence == sequence { return .duplicate }
        guard payload.count <= maxPayload else { return .oversized }
        // A stale entry the caller should have taken is overwritten.
        if entries[k] != nil { count -= 1 }
        let base = k * maxPayload
        arena.withUnsafeMutableBytes { raw in
            // SAFETY: base + payload.count <= (k + 1) * maxPayload <= arena.count.
            if let source = payload.baseAddress, payload.count > 0 {
                (raw.baseAddress! + base).copyMemory(from: source, byteCount: payload.count)
            }
        }
        entries[k] = Entry(
            sequence: sequence, timestamp: timestamp, payloadType: header.payloadType, marker: header.marker,
            arrival: arrival, position: position, epoch: epoch, due: due ?? position, length: payload.count)
        count += 1
        return .stored
    }

    /// The packet held under `sequence`, if any.
    public func entry(_ sequence: Int64) -> Entry? {
        guard let e = entries[index(sequence)], e.sequence == sequence else { return nil }
        return e
    }

    /// Calls `body` with the payload held under `sequence`.
    public func withPayload<R>(_ sequence: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let e = entry(sequence) else { return nil }
        let base = index(sequence) * maxPayload
        return try arena.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[base..<(base + e.length)]))
        }
    }

    /// Removes the packet held under `sequence`.
    public mutating func remove(_ sequence: Int64) {
        let k = index(sequence)
        if let e = entries[k], e.sequence == sequence {
            entries[k] = nil
            count -= 1
        }
    }

    /// The lowest sequence number held at or after `start`, looking at most `capacity` ahead.
    public func next(from start: Int64) -> Int64? {
        guard count > 0 else { return nil }
        for s in start..<(start + Int64(capacity)) {
            if let e = entries[index(s)], e.sequence == s { return s }
        }
        return nil
    }

    /// The lowest sequence number held, by a scan of every slot.
    public func oldest() -> Int64? {
        var lowest: Int64? = nil
        for case let e? in entries where lowest == nil || e.sequence < lowest! { lowest = e.sequence }
        return lowest
    }
}
