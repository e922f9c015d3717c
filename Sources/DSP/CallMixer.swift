/// Puts the legs of a call on one timeline and hands out fixed frames of
/// interleaved PCM, one channel per leg. Written by hand: no library does
/// RTP-timestamp placement into a shared, streaming timeline.
///
/// Each channel has a ring of `capacity` samples ahead of the emit cursor.
/// A leg writes decoded audio at its timeline position; positions never
/// written stay silent, so a gap keeps its length. The timeline starts at
/// the earliest sample written (which may be up to `lead` samples before
/// position 0: the first packet to arrive is not always the first sent).
/// Frames are emitted when the driver advances the cursor (capture time
/// moved on), when a write needs room, or at the end; never past the
/// furthest sample written until the end, so no frame is encoded that the
/// call's length would then trim away. Audio that arrives behind the cursor
/// is late: it is dropped and counted.
///
/// A channel may have extra inputs (`extraChannels`): rings of their own,
/// written like any channel (numbered `channels ..< channels + extraChannels`,
/// extra k feeding channel `k % channels`) and summed into their channel,
/// saturating, as each frame is emitted. A leg fed by two sources at once (a
/// second stream beside its own) is heard whole, whichever writes first.
///
/// A leg placed far behind its arrival (a queue under congestion) holds the
/// other back: a write that reaches past the ring grows it (doubling, up to
/// `maxCapacity`) before anything is emitted early, so the lagging leg's
/// audio still finds its place. Memory is fixed at construction unless a
/// call needs more; steady state allocates nothing.
public struct CallMixer {
    /// Receives one frame of interleaved samples and the timeline position of its first sample.
    public typealias Emit = (UnsafeBufferPointer<Int16>, Int64) throws -> Void

    /// Channels (legs).
    public let channels: Int
    /// Extra inputs summed into the channels (extra k into channel `k % channels`).
    public let extraChannels: Int
    /// Samples per frame per channel (20 ms at the output rate).
    public let frameSamples: Int
    /// Ring size per input, in samples, a multiple of `frameSamples`.
    public private(set) var capacity: Int
    /// The most the ring may grow to, in samples.
    public let maxCapacity: Int
    /// How far before position 0 the timeline may start.
    public let lead: Int

    /// The timeline position of the first sample not yet emitted.
    public private(set) var emitted: Int64
    /// Where the timeline starts (its first emitted sample), once it has started.
    public private(set) var start: Int64? = nil
    /// One past the furthest sample written on any channel.
    public private(set) var end: Int64 = Int64.min
    /// Samples dropped because they arrived behind the cursor.
    public private(set) var lateSamples = 0

    private var firstWritten = Int64.max
    private var rings: [Int16]
    private var frame: [Int16]

    /// - Parameters:
    ///   - channels: legs of the call.
    ///   - frameSamples: samples per channel per emitted frame.
    ///   - capacityFrames: how many frames each channel can hold ahead of the cursor.
    ///   - lead: how many samples before position 0 audio may be placed.
    ///   - extraChannels: extra inputs, written as channels `channels...`, summed into channel `k % channels`.
    ///   - maxCapacityFrames: how far the ring may grow when a write reaches past it (nil: never).
    public init(
        channels: Int, frameSamples: Int, capacityFrames: Int, lead: Int = 0, extraChannels: Int = 0,
        maxCapacityFrames: Int? = nil
    ) {
        precondition(channels > 0 && frameSamples > 0 && capacityFrames > 0 && lead >= 0 && extraChannels >= 0)
        self.channels = channels
        self.extraChannels = extraChannels
        self.frameSamples = frameSamples
        self.capacity = frameSamples * capacityFrames
        self.maxCapacity = frameSamples * max(capacityFrames, maxCapacityFrames ?? capacityFrames)
        self.lead = lead
        emitted = -Int64(lead)
        rings = Array(repeating: 0, count: capacity * (channels + extraChannels))
        frame = Array(repeating: 0, count: frameSamples * channels)
    }

    @inline(__always)
    private func ringIndex(_ position: Int64) -> Int {
        // Positions may be negative (before time zero): a true modulo.
        let c = Int64(capacity)
        return Int((position % c + c) % c)
    }

    /// Writes `samples` of `channel` (or of extra input `channel - channels`) starting at timeline `position`.
    /// Emits frames first if the write reaches past the ring.
    /// - Returns: the number of samples dropped as late.
    @discardableResult
    public mutating func write(
        channel: Int, at position: Int64, samples: UnsafeBufferPointer<Int16>,
        emit: Emit
    ) rethrows -> Int {
        var start = position
        var source = samples[...]
        if start < emitted {
            let late = Int(min(Int64(source.count), emitted - start))
            lateSamples += late
            source = source.dropFirst(late)
            start = emitted
            if source.isEmpty { return late }
        }
        let writeEnd = start + Int64(source.count)
        if self.start == nil { firstWritten = min(firstWritten, start) }
        if writeEnd > emitted + Int64(capacity) && capacity < maxCapacity {
            grow(toHold: writeEnd - emitted)
        }
        if writeEnd > emitted + Int64(capacity) {
            try emitFrames(through: writeEnd - Int64(capacity), emit: emit)
        }
        let base = channel * capacity
        var index = ringIndex(start)
        let capacity = self.capacity
        rings.withUnsafeMutableBufferPointer { ring in
            // SAFETY: index < capacity and the loop wraps it; base + index < (channels + extraChannels) * capacity.
            for sample in source {
                ring[base + index] = sample
                index += 1
                if index == capacity { index = 0 }
            }
        }
        end = max(end, writeEnd)
        return samples.count - source.count
    }

    /// Makes the timeline cover `first ..< position` without writing: media
    /// that was there but is not decoded (an unsupported codec, RFC 4733
    /// events) keeps its time as silence, and a call of nothing else still
    /// has a timeline. What was written there stays; what is behind the cursor is ignored.
    public mutating func keep(from first: Int64, to position: Int64, emit: Emit) rethrows {
        let first = max(first, emitted)
        guard position > first else { return }
        if self.start == nil { firstWritten = min(firstWritten, first) }
        if position > emitted + Int64(capacity) && capacity < maxCapacity {
            grow(toHold: position - emitted)
        }
        if position > emitted + Int64(capacity) {
            try emitFrames(through: position - Int64(capacity), emit: emit)
        }
        end = max(end, position)
    }

    /// Doubles the ring (up to `maxCapacity`) until it holds `samples` from
    /// the cursor, keeping what each channel holds at its place.
    private mutating func grow(toHold samples: Int64) {
        var size = capacity
        while Int64(size) < samples && size < maxCapacity { size = min(maxCapacity, size * 2) }
        let inputs = channels + extraChannels
        var grown = [Int16](repeating: 0, count: size * inputs)
        for c in 0..<inputs {
            for k in 0..<capacity {
                let position = emitted + Int64(k)
                let from = c * capacity + ringIndex(position)
                let c64 = Int64(size)
                grown[c * size + Int((position % c64 + c64) % c64)] = rings[from]
            }
        }
        rings = grown
        capacity = size
    }

    /// Emits every whole frame that ends at or before both `position` and
    /// the furthest sample written (what lies beyond is silence so far, and
    /// may lie beyond the end of the call).
    public mutating func advance(to position: Int64, emit: Emit) rethrows {
        try emitFrames(through: min(position, end), emit: emit)
    }

    /// Emits every whole frame that ends at or before `position`.
    private mutating func emitFrames(through position: Int64, emit: Emit) rethrows {
        if start == nil {
            // Nothing written yet: nothing to start from.
            guard firstWritten != Int64.max, position > firstWritten else { return }
            begin()
        }
        while emitted + Int64(frameSamples) <= position {
            try emitFrame(emit)
        }
    }

    /// Emits everything written, padding the last frame with silence.
    /// - Returns: the number of samples on the timeline (the call's length), 0 if nothing was written.
    @discardableResult
    public mutating func finish(emit: Emit) rethrows -> Int64 {
        guard firstWritten != Int64.max || start != nil else { return 0 }
        if start == nil { begin() }
        while emitted < end {
            try emitFrame(emit)
        }
        return end - start!
    }

    /// Starts the timeline at the earliest sample written.
    private mutating func begin() {
        let first = max(firstWritten, -Int64(lead))
        // Silence written before the first sample (the ring starts zeroed) is skipped.
        emitted = first
        start = first
    }

    private mutating func emitFrame(_ emit: Emit) rethrows {
        let first = ringIndex(emitted)
        let channels = self.channels
        let extraChannels = self.extraChannels
        let frameSamples = self.frameSamples
        let capacity = self.capacity
        rings.withUnsafeMutableBufferPointer { ring in
            frame.withUnsafeMutableBufferPointer { out in
                // SAFETY: index wraps at capacity; base + index < channels * capacity.
                for c in 0..<channels {
                    let base = c * capacity
                    var index = first
                    for i in 0..<frameSamples {
                        out[i * channels + c] = ring[base + index]
                        ring[base + index] = 0
                        index += 1
                        if index == capacity { index = 0 }
                    }
                }
                for e in 0..<extraChannels {
                    let base = (channels + e) * capacity
                    let c = e % channels
                    var index = first
                    for i in 0..<frameSamples {
                        let sum = Int32(out[i * channels + c]) + Int32(ring[base + index])
                        out[i * channels + c] = Int16(clamping: sum)
                        ring[base + index] = 0
                        index += 1
                        if index == capacity { index = 0 }
                    }
                }
            }
        }
        let position = emitted
        emitted += Int64(frameSamples)
        try frame.withUnsafeBufferPointer { try emit($0, position) }
    }
}
