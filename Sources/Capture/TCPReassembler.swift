import CallrecCore

/// Puts the bytes of TCP connections back in order, one direction at a time,
/// so that a message-oriented protocol on top (SIP over TCP) can be framed.
///
/// The driver chooses which connections to follow (`follow:` on the first
/// segment of interest, typically one that starts like a SIP message); the
/// others cost nothing. For a followed direction the reassembler
///
/// - drops bytes it has already delivered (retransmissions, overlaps),
/// - holds segments that arrive ahead of a hole, up to `maxPendingSegments`,
/// - skips a hole that is not filled within `gapTimeout` of capture time or
///   that overflows the pending room (counted in `tcpGaps`); the consumer
///   then resynchronises on the next message start,
/// - hands the in-order bytes to `consume`, which returns how many leading
///   bytes it used; the rest wait for the next segment.
///
/// Memory is bounded: at most `maxFlows` directions (more are counted in
/// `tcpFlowsOverLimit` and ignored), each holding at most `maxBufferedBytes`
/// of unconsumed bytes plus its pending segments. A connection is forgotten
/// on FIN or RST, or after `idleTimeout` seconds without a segment.
public struct TCPReassembler {
    /// One direction of a connection.
    public struct FlowKey: Hashable, Sendable {
        public var source: Endpoint
        public var destination: Endpoint

        public init(source: Endpoint, destination: Endpoint) {
            self.source = source
            self.destination = destination
        }
    }

    /// The state of one followed direction. A class, so the dictionary holds
    /// one reference and appends never copy the buffer.
    final class Flow {
        /// The sequence number of the next byte expected.
        var nextSequence: UInt32
        /// In-order bytes; those before `start` are consumed.
        var buffer: [UInt8] = []
        var start = 0
        /// Segments past a hole, ordered by sequence number.
        var pending: [(sequence: UInt32, bytes: [UInt8])] = []
        var pendingBytes = 0
        /// Capture time of the latest segment, and of the first segment held behind the current hole.
        var lastSeen: MediaTime
        var holeSince: MediaTime?

        init(nextSequence: UInt32, at time: MediaTime) {
            self.nextSequence = nextSequence
            self.lastSeen = time
        }

        var unconsumed: Int { buffer.count - start }
    }

    /// Directions followed at most.
    public let maxFlows: Int
    /// Unconsumed in-order bytes kept per direction; more are dropped as a gap.
    public let maxBufferedBytes: Int
    /// Segments held behind a hole per direction.
    public let maxPendingSegments: Int
    /// Seconds of capture time a hole may stay open before it is skipped.
    public let gapTimeout: Double
    /// Seconds without a segment after which a direction is forgotten.
    public let idleTimeout: Double

    private var flows: [FlowKey: Flow] = [:]
    private let diagnostics: Diagnostics

    public init(
        maxFlows: Int = 512, maxBufferedBytes: Int = 131_072, maxPendingSegments: Int = 64, gapTimeout: Double = 2,
        idleTimeout: Double = 300, diagnostics: Diagnostics
    ) {
        self.maxFlows = maxFlows
        self.maxBufferedBytes = maxBufferedBytes
        self.maxPendingSegments = maxPendingSegments
        self.gapTimeout = gapTimeout
        self.idleTimeout = idleTimeout
        self.diagnostics = diagnostics
    }

    /// The number of directions followed.
    public var count: Int { flows.count }

    /// Bytes of memory the followed directions hold: each buffer's capacity and
    /// the segments held past holes. At most about `maxBufferedBytes` plus one
    /// segment (64 KiB) for each, twice over (buffer and pending), per direction.
    public var heldBytes: Int { flows.values.reduce(0) { $0 + $1.buffer.capacity + $1.pendingBytes } }

    /// Takes one TCP segment.
    ///
    /// - Parameters:
    ///   - segment: a TCP `Datagram` (payload, sequence number, flags).
    ///   - follow: start following this direction if it is not followed yet
    ///     (its stream then starts at this segment's first byte).
    ///   - consume: called with the direction's in-order unconsumed bytes
    ///     whenever they grow; returns how many leading bytes it used. It is
    ///     called again while it uses bytes and some remain.
    public mutating func process(
        _ segment: borrowing Datagram, at time: MediaTime, follow: Bool,
        consume: (UnsafeRawBufferPointer) throws -> Int
    ) rethrows {
        let key = FlowKey(source: segment.source, destination: segment.destination)
        let closing = segment.tcpFlags & 0x05 != 0  // FIN 0x01 or RST 0x04
        let payload = segment.payload
        var flow = flows[key]
        if flow == nil {
            guard follow, !payload.isEmpty else { return }
            guard flows.count < maxFlows else {
                diagnostics.count(.tcpFlowsOverLimit)
                return
            }
            let created = Flow(nextSequence: segment.tcpSequence, at: time)
            flows[key] = created
            flow = created
        }
        guard let flow else { return }
        flow.lastSeen = time
        if !payload.isEmpty {
            accept(payload, sequence: segment.tcpSequence, into: flow, at: time)
            try deliver(flow, consume: consume)
        }
        if closing {
            flows.removeValue(forKey: key)
        }
    }

    /// Places a segment's bytes: appended if in order, trimmed if it repeats
    /// bytes already seen, held if it lies past a hole.
    private func accept(_ payload: UnsafeRawBufferPointer, sequence: UInt32, into flow: Flow, at time: MediaTime) {
        // Signed distance from the next expected byte, modulo 2^32:
        // next 4294967290, segment at 6 -> distance +12, not -4294967284.
        let distance = Int(Int32(bitPattern: sequence &- flow.nextSequence))
        if distance < 0 {
            let old = -distance
            if old >= payload.count {
                diagnostics.count(.tcpRetransmitted)
                return
            }
            append(UnsafeRawBufferPointer(rebasing: payload[old...]), to: flow)
        } else if distance > 0 {
            hold(payload, sequence: sequence, in: flow, at: time)
        } else {
            append(payload, to: flow)
        }
        drainPending(flow)
        if let since = flow.holeSince, time.seconds(since: since) > gapTimeout {
            skipHole(flow)
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer, to flow: Flow) {
        if flow.unconsumed + bytes.count > maxBufferedBytes {
            // The consumer is not taking bytes (no message boundary in sight): drop what is held.
            diagnostics.count(.tcpGaps)
            flow.buffer.removeAll(keepingCapacity: true)
            flow.start = 0
        }
        if flow.start > 0 && flow.start == flow.buffer.count {
            flow.buffer.removeAll(keepingCapacity: true)
            flow.start = 0
        }
        flow.buffer.append(contentsOf: bytes)
        flow.nextSequence &+= UInt32(truncatingIfNeeded: bytes.count)
    }

    private func hold(_ payload: UnsafeRawBufferPointer, sequence: UInt32, in flow: Flow, at time: MediaTime) {
        if flow.pending.contains(where: { $0.sequence == sequence && $0.bytes.count >= payload.count }) {
            diagnostics.count(.tcpRetransmitted)
            return
        }
        if flow.pending.count >= maxPendingSegments || flow.pendingBytes + payload.count > maxBufferedBytes {
            skipHole(flow)
            // The hole is gone: this segment may now be in order, or past a new hole.
            let distance = Int(Int32(bitPattern: sequence &- flow.nextSequence))
            if distance == 0 {
                append(payload, to: flow)
                return
            }
            if distance < 0 { return }
        }
        let index = flow.pending.firstIndex { Int32(bitPattern: $0.sequence &- sequence) > 0 } ?? flow.pending.count
        flow.pending.insert((sequence, Array(payload)), at: index)
        flow.pendingBytes += payload.count
        if flow.holeSince == nil { flow.holeSince = time }
    }

    /// Moves held segments that have become in order into the buffer.
    private func drainPending(_ flow: Flow) {
        while let first = flow.pending.first {
            let distance = Int(Int32(bitPattern: first.sequence &- flow.nextSequence))
            if distance > 0 { break }
            flow.pending.removeFirst()
            flow.pendingBytes -= first.bytes.count
            let old = -distance
            if old < first.bytes.count {
                first.bytes.withUnsafeBytes { append(UnsafeRawBufferPointer(rebasing: $0[old...]), to: flow) }
            }
        }
        if flow.pending.isEmpty { flow.holeSince = nil }
    }

    /// Gives up on the current hole: the unconsumed bytes before it (a
    /// message cut by the hole) are dropped and the stream continues at the
    /// first held segment.
    private func skipHole(_ flow: Flow) {
        guard let first = flow.pending.first else {
            flow.holeSince = nil
            return
        }
        diagnostics.count(.tcpGaps)
        flow.buffer.removeAll(keepingCapacity: true)
        flow.start = 0
        flow.nextSequence = first.sequence
        flow.holeSince = nil
        drainPending(flow)
    }

    private func deliver(_ flow: Flow, consume: (UnsafeRawBufferPointer) throws -> Int) rethrows {
        while flow.unconsumed > 0 {
            let used = try flow.buffer.withUnsafeBytes { all in
                try consume(UnsafeRawBufferPointer(rebasing: all[flow.start...]))
            }
            guard used > 0 else { break }
            flow.start += min(used, flow.unconsumed)
        }
        if flow.start == flow.buffer.count {
            flow.buffer.removeAll(keepingCapacity: true)
            flow.start = 0
        } else if flow.start > 4096 && flow.start * 2 > flow.buffer.count {
            // Slide the remainder down so the buffer does not creep forward.
            flow.buffer.removeFirst(flow.start)
            flow.start = 0
        }
    }

    /// Skips holes older than `gapTimeout` and forgets directions idle for
    /// longer than `idleTimeout`. Call it now and then (once a second of
    /// capture time); held bytes past a skipped hole are delivered.
    public mutating func sweep(at time: MediaTime, consume: (FlowKey, UnsafeRawBufferPointer) throws -> Int) rethrows {
        var idle: [FlowKey] = []
        for (key, flow) in flows {
            if time.seconds(since: flow.lastSeen) > idleTimeout {
                idle.append(key)
                continue
            }
            if let since = flow.holeSince, time.seconds(since: since) > gapTimeout {
                skipHole(flow)
                try deliver(flow) { try consume(key, $0) }
            }
        }
        for key in idle { flows.removeValue(forKey: key) }
    }
}
