/// Puts the legs of a call on one timeline and hands out fixed frames of
/// interleaved PCM, one channel per leg. Written by hand: no library does
/// RTP-timestamp placement into a shared, streaming timeline.
///
/// Each channel has a ring of `capacity` samples ahead of the emit cursor.
/// A leg writes decoded audio at its timeline position; positions never
/// written stay silent, so a gap keeps its length. Frames are emitted when
/// the driver advances the cursor (capture time moved on), when a write
/// needs room, or at the end. Audio that arrives behind the cursor is late:
/// it is dropped and counted.
///
/// Memory is fixed at construction; steady state allocates nothing.
public struct CallMixer {
    /// Channels (legs).
    public let channels: Int
    /// Samples per frame per channel (20 ms at the output rate).
    public let frameSamples: Int
    /// Ring size per channel, in samples, a multiple of `frameSamples`.
    public let capacity: Int

    /// The timeline position of the first sample not yet emitted.
    public private(set) var emitted: Int64 = 0
    /// One past the furthest sample written on any channel.
    public private(set) var end: Int64 = 0
    /// Samples dropped because they arrived behind the cursor.
    public private(set) var lateSamples = 0

    private var rings: [Int16]
    private var frame: [Int16]

    /// - Parameters:
    ///   - channels: legs of the call.
    ///   - frameSamples: samples per channel per emitted frame.
    ///   - capacityFrames: how many frames each channel can hold ahead of the cursor.
    public init(channels: Int, frameSamples: Int, capacityFrames: Int) {
        precondition(channels > 0 && frameSamples > 0 && capacityFrames > 0)
        self.channels = channels
        self.frameSamples = frameSamples
        self.capacity = frameSamples * capacityFrames
        rings = Array(repeating: 0, count: capacity * channels)
        frame = Array(repeating: 0, count: frameSamples * channels)
    }

    /// Writes `samples` of `channel` starting at timeline `position`.
    /// Emits frames first if the write reaches past the ring.
    /// - Returns: the number of samples dropped as late.
    @discardableResult
    public mutating func write(
        channel: Int, at position: Int64, samples: UnsafeBufferPointer<Int16>,
        emit: (UnsafeBufferPointer<Int16>) throws -> Void
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
        if writeEnd > emitted + Int64(capacity) {
            try advance(to: writeEnd - Int64(capacity), emit: emit)
        }
        // Copy into the ring, wrapping at `capacity`.
        let base = channel * capacity
        var ringIndex = Int(start % Int64(capacity))
        rings.withUnsafeMutableBufferPointer { ring in
            // SAFETY: ringIndex < capacity and the loop wraps it; base + ringIndex < channels * capacity.
            for sample in source {
                ring[base + ringIndex] = sample
                ringIndex += 1
                if ringIndex == capacity { ringIndex = 0 }
            }
        }
        end = max(end, writeEnd)
        return samples.count - source.count
    }

    /// Emits every whole frame that ends at or before `position`.
    public mutating func advance(to position: Int64, emit: (UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        while emitted + Int64(frameSamples) <= position {
            try emitFrame(emit)
        }
    }

    /// Emits everything written, padding the last frame with silence.
    /// - Returns: the number of samples on the timeline (the call's length).
    @discardableResult
    public mutating func finish(emit: (UnsafeBufferPointer<Int16>) throws -> Void) rethrows -> Int64 {
        while emitted < end {
            try emitFrame(emit)
        }
        return end
    }

    private mutating func emitFrame(_ emit: (UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        let startIndex = Int(emitted % Int64(capacity))
        let channels = self.channels
        let frameSamples = self.frameSamples
        let capacity = self.capacity
        rings.withUnsafeMutableBufferPointer { ring in
            frame.withUnsafeMutableBufferPointer { out in
                // SAFETY: capacity is a multiple of frameSamples and emitted advances by
                // frameSamples, so startIndex + frameSamples <= capacity.
                for c in 0..<channels {
                    let base = c * capacity + startIndex
                    for i in 0..<frameSamples {
                        out[i * channels + c] = ring[base + i]
                        ring[base + i] = 0
                    }
                }
            }
        }
        emitted += Int64(frameSamples)
        try frame.withUnsafeBufferPointer { try emit($0) }
    }
}
