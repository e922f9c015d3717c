/// Waveform peaks: the minimum and maximum sample of each channel over
/// every `samplesPerPixel` samples, as BBC audiowaveform computes them. The
/// last, partial pixel is kept. Nothing is allocated per frame.
public struct PeakBuilder {
    public let channels: Int
    public let samplesPerPixel: Int
    /// Pixels emitted so far.
    public private(set) var pixels = 0

    private var minima: [Int16]
    private var maxima: [Int16]
    private var count = 0
    private var pixel: [Int16]

    public init(channels: Int, samplesPerPixel: Int) {
        precondition(channels > 0 && samplesPerPixel > 0)
        self.channels = channels
        self.samplesPerPixel = samplesPerPixel
        minima = [Int16](repeating: .max, count: channels)
        maxima = [Int16](repeating: .min, count: channels)
        pixel = [Int16](repeating: 0, count: 2 * channels)
    }

    /// Takes interleaved frames; `emit` gets each finished pixel as
    /// `[c0 min, c0 max, c1 min, c1 max, ...]`.
    public mutating func process(_ frames: UnsafeBufferPointer<Int16>, emit: (UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        var i = 0
        while i + channels <= frames.count {
            // Up to the end of the pixel in progress, in one pass per channel.
            let n = min((frames.count - i) / channels, samplesPerPixel - count)
            for c in 0..<channels {
                var low = minima[c]
                var high = maxima[c]
                var k = i + c
                // SAFETY: k stays below i + n * channels <= frames.count.
                for _ in 0..<n {
                    let v = frames[k]
                    low = Swift.min(low, v)
                    high = Swift.max(high, v)
                    k += channels
                }
                minima[c] = low
                maxima[c] = high
            }
            i += n * channels
            count += n
            if count == samplesPerPixel { try flush(emit) }
        }
    }

    /// Emits the last, partial pixel, if any.
    public mutating func finish(emit: (UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        if count > 0 { try flush(emit) }
    }

    private mutating func flush(_ emit: (UnsafeBufferPointer<Int16>) throws -> Void) rethrows {
        for c in 0..<channels {
            pixel[2 * c] = minima[c]
            pixel[2 * c + 1] = maxima[c]
            minima[c] = .max
            maxima[c] = .min
        }
        count = 0
        pixels += 1
        try pixel.withUnsafeBufferPointer { try emit($0) }
    }
}
