import CallrecCore
import DSP
import Output

/// The taps on a recording's final frames: a speech detector per channel
/// and the waveform peaks. They see exactly the audio that is encoded.
package final class CallAnalysis {
    /// What the taps found, for the call index.
    package struct Result {
        /// Speech segments per channel, in seconds from the recording's start.
        package var speech: [[(start: Double, end: Double)]]
        /// Seconds of speech per channel.
        package var talkTime: [Double]
        /// Seconds in which both channels speak.
        package var overtalk: Double
        /// The longest stretch in which nobody speaks, in seconds.
        package var longestSilence: Double
        /// The share of the recording in which nobody speaks (0-1).
        package var silenceShare: Double
        /// The peaks files, synced under their temporary names.
        package var peaks: [AtomicFile]
    }

    private let channels: Int
    private let sampleRate: Int
    private var detectors: [SpeechDetector]
    private var peakBuilder: PeakBuilder
    private let writers: [PeaksWriter]
    /// Samples per channel analysed so far.
    private var samples: Int64 = 0
    /// The latest frame, held back one frame: the last frame of a call is
    /// padded, and only `finish` knows how much of it is real.
    private var held: [Int16] = []
    private var holding = false

    /// - Parameters:
    ///   - directory, id: where the peaks files go (`<id>.peaks.json`, `<id>.peaks.dat`).
    ///   - space: waits out a full disk (`ConvertOptions.diskSpace`).
    ///   - seal: what the peaks files are sealed through (nil: in the clear).
    package init(
        channels: Int, sampleRate: Int, options: PeaksOptions, directory: String, id: String, space: DiskSpaceWait? = nil,
        seal: (any RecordingSeal)? = nil
    ) throws {
        self.channels = channels
        self.sampleRate = sampleRate
        detectors = (0..<channels).map { _ in SpeechDetector(sampleRate: sampleRate) }
        let samplesPerPixel = options.samplesPerPixel(at: sampleRate)
        peakBuilder = PeakBuilder(channels: channels, samplesPerPixel: samplesPerPixel)
        writers = try options.formats.map { format in
            // The binary format's length is written into its header at the end.
            try PeaksWriter(
                file: seal.file(directory: directory, name: id + format.suffix, rewritesHeader: format == .dat, space: space),
                format: format, bits: options.bits,
                channels: channels, sampleRate: sampleRate, samplesPerPixel: samplesPerPixel)
        }
    }

    /// Takes one frame of interleaved samples, as it is encoded.
    package func process(_ frame: UnsafeBufferPointer<Int16>) throws {
        if holding {
            try held.withUnsafeBufferPointer { try analyse($0) }
        }
        if held.count != frame.count { held = [Int16](repeating: 0, count: frame.count) }
        held.withUnsafeMutableBufferPointer { h in
            // SAFETY: h.count == frame.count.
            for i in 0..<frame.count { h[i] = frame[i] }
        }
        holding = true
    }

    private func analyse(_ frame: UnsafeBufferPointer<Int16>) throws {
        let count = frame.count / channels
        for c in 0..<channels {
            detectors[c].process(frame, offset: c, stride: channels, count: count)
        }
        let writers = self.writers
        try peakBuilder.process(frame) { pixel in
            for w in writers { try w.add(pixel) }
        }
        samples += Int64(count)
    }

    /// Finishes the taps for a recording of `total` samples per channel
    /// (the last frame may have been padded).
    package func finish(total: Int64) throws -> Result {
        if holding {
            // Only the real part of the last frame.
            let real = Int(max(0, min(Int64(held.count / channels), total - samples)))
            try held.withUnsafeBufferPointer { try analyse(UnsafeBufferPointer(rebasing: $0[0..<(real * channels)])) }
            holding = false
        }
        let writers = self.writers
        try peakBuilder.finish { pixel in
            for w in writers { try w.add(pixel) }
        }
        for w in writers { try w.finish() }
        let duration = Double(total) / Double(sampleRate)
        let speech: [[(start: Double, end: Double)]] = detectors.indices.map { c in
            detectors[c].finish()
            return detectors[c].segments.compactMap { s in
                let start = Double(s.start) / 100
                let end = min(Double(s.end) / 100, duration)
                return end > start ? (start, end) : nil
            }
        }
        let talk = speech.map { $0.reduce(0) { $0 + $1.end - $1.start } }
        let overtalk = speech.count >= 2 ? Self.intersection(speech[0], speech[1]) : 0
        let union = Self.union(speech.flatMap { $0 })
        var longest = 0.0
        var silent = 0.0
        var cursor = 0.0
        for s in union + [(duration, duration)] {
            let gap = max(0, s.start - cursor)
            longest = max(longest, gap)
            silent += gap
            cursor = max(cursor, s.end)
        }
        return Result(
            speech: speech, talkTime: talk, overtalk: overtalk, longestSilence: longest,
            silenceShare: duration > 0 ? min(1, silent / duration) : 1, peaks: writers.map(\.file))
    }

    /// Drops the peaks files.
    package func discard() {
        for w in writers { w.file.discard() }
    }

    /// The total length of the overlap of two sorted lists of intervals.
    static func intersection(_ a: [(start: Double, end: Double)], _ b: [(start: Double, end: Double)]) -> Double {
        var i = 0, j = 0, total = 0.0
        while i < a.count && j < b.count {
            let lo = max(a[i].start, b[j].start)
            let hi = min(a[i].end, b[j].end)
            if hi > lo { total += hi - lo }
            if a[i].end < b[j].end { i += 1 } else { j += 1 }
        }
        return total
    }

    /// Merges intervals into a sorted list of disjoint ones.
    static func union(_ intervals: [(start: Double, end: Double)]) -> [(start: Double, end: Double)] {
        var merged: [(start: Double, end: Double)] = []
        for s in intervals.sorted(by: { $0.start < $1.start }) {
            if let last = merged.last, s.start <= last.end {
                merged[merged.count - 1].end = max(last.end, s.end)
            } else {
                merged.append(s)
            }
        }
        return merged
    }
}

/// Which waveform peaks to write, and how fine.
public struct PeaksOptions: Sendable, Equatable {
    /// The resolution, as audiowaveform takes it.
    public enum Resolution: Sendable, Equatable {
        case samplesPerPixel(Int)
        case pixelsPerSecond(Int)
    }

    /// The files to write (none: no peaks).
    public var formats: [PeaksWriter.Format]
    /// 8 or 16.
    public var bits: Int
    public var resolution: Resolution

    /// JSON, 8-bit, 50 pixels per second: an hour-long call is 180,000 pixels,
    /// fine enough to find a word and small enough for a browser.
    public static let `default` = PeaksOptions(formats: [.json], bits: 8, resolution: .pixelsPerSecond(50))

    public init(formats: [PeaksWriter.Format], bits: Int, resolution: Resolution) {
        self.formats = formats
        self.bits = bits
        self.resolution = resolution
    }

    /// Samples per pixel at `sampleRate`.
    public func samplesPerPixel(at sampleRate: Int) -> Int {
        switch resolution {
        case .samplesPerPixel(let n): max(1, n)
        case .pixelsPerSecond(let n): max(1, sampleRate / max(1, n))
        }
    }
}
