/// Writes waveform peaks in BBC audiowaveform's formats, which peaks.js and
/// waveform-data.js read (docs/FORMATS.md; audiowaveform's DataFormat.md):
///
/// - JSON version 2: `{"version":2,"channels":N,"sample_rate":R,
///   "samples_per_pixel":S,"bits":B,"data":[c0min,c0max,c1min,c1max,...],"length":L}`
/// - binary `.dat` version 2: a 24-byte little-endian header (version,
///   flags, sample rate, samples per pixel, length, channels), then the
///   interleaved values as int8 or int16.
///
/// Peaks are streamed to the file as they come, so memory does not grow
/// with the call: the JSON object gives `length` after `data`, and the
/// `.dat` header's length is written last.
public final class PeaksWriter {
    /// The two formats.
    public enum Format: String, Sendable, CaseIterable {
        case json
        case dat

        /// The file name suffix: `.peaks.json` or `.peaks.dat`.
        public var suffix: String { ".peaks." + rawValue }
    }

    public let format: Format
    /// 8 or 16.
    public let bits: Int
    public let channels: Int
    public let sampleRate: Int
    public let samplesPerPixel: Int
    public let file: AtomicFile
    /// Pixels written.
    public private(set) var length = 0

    private var buffer: [UInt8] = []
    private var first = true

    public init(file: AtomicFile, format: Format, bits: Int, channels: Int, sampleRate: Int, samplesPerPixel: Int) throws {
        precondition(bits == 8 || bits == 16)
        self.file = file
        self.format = format
        self.bits = bits
        self.channels = channels
        self.sampleRate = sampleRate
        self.samplesPerPixel = samplesPerPixel
        buffer.reserveCapacity(8192)
        switch format {
        case .json:
            buffer += Array(
                "{\"version\":2,\"channels\":\(channels),\"sample_rate\":\(sampleRate),\"samples_per_pixel\":\(samplesPerPixel),\"bits\":\(bits),\"data\":[".utf8)
        case .dat:
            for value in [2, bits == 8 ? 1 : 0, sampleRate, samplesPerPixel, 0, channels] {
                appendLE32(UInt32(truncatingIfNeeded: value))
            }
        }
    }

    /// Adds one pixel: `[c0 min, c0 max, c1 min, c1 max, ...]` as 16-bit samples.
    public func add(_ pixel: UnsafeBufferPointer<Int16>) throws {
        for value in pixel {
            // audiowaveform's 8-bit values are the 16-bit ones divided by 256 (truncated).
            let v = bits == 8 ? Int(value) / 256 : Int(value)
            switch format {
            case .json:
                if !first { buffer.append(0x2C) }
                first = false
                appendDecimal(v)
            case .dat:
                if bits == 8 {
                    buffer.append(UInt8(bitPattern: Int8(v)))
                } else {
                    let u = UInt16(bitPattern: Int16(v))
                    buffer.append(UInt8(u & 0xFF))
                    buffer.append(UInt8(u >> 8))
                }
            }
        }
        length += 1
        if buffer.count >= 4096 { try drain() }
    }

    /// Ends the data, writes the length, and syncs the file (still under its temporary name).
    public func finish() throws {
        switch format {
        case .json:
            buffer += Array("],\"length\":\(length)}\n".utf8)
            try drain()
        case .dat:
            try drain()
            var header: [UInt8] = []
            for b in 0..<4 { header.append(UInt8(truncatingIfNeeded: UInt32(length) >> UInt32(8 * b))) }
            try header.withUnsafeBytes { try file.write($0, at: 16) }
        }
        try file.sync()
    }

    private func drain() throws {
        try file.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private func appendLE32(_ v: UInt32) {
        for b in 0..<4 { buffer.append(UInt8(truncatingIfNeeded: v >> UInt32(8 * b))) }
    }

    /// Appends the decimal digits of `value` without allocating a String.
    private func appendDecimal(_ value: Int) {
        var v = value
        if v < 0 {
            buffer.append(0x2D)
            v = -v
        }
        var divisor = 1
        while divisor * 10 <= v { divisor *= 10 }
        while divisor > 0 {
            buffer.append(UInt8(0x30 + v / divisor))
            v %= divisor
            divisor /= 10
        }
    }
}
