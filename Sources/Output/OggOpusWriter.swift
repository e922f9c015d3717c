import COpus
import CallrecCore

/// Encodes interleaved 16-bit PCM with libopus at the call's own rate and
/// writes an Ogg Opus file (RFC 7845) with libogg: OpusHead with the
/// encoder's lookahead as pre-skip, OpusTags, then 20 ms audio packets with
/// granule positions in 48 kHz units and end trimming on the last page.
/// A page is closed after at most `OpusSettings.flushInterval` of audio (one
/// second by default, as opusenc does), so a player seeking or a reader of a
/// file still being written waits at most that long, even when quiet packets
/// are small enough for 255 of them (5.1 s) to fit one page, and a crash
/// loses at most that much of what was encoded (`OggOpusSalvage`).
///
/// Channels are coded as a multistream (mapping family 1): with the
/// `.separate` layout each channel is its own uncoupled mono stream, so two
/// speakers never share a stereo coder.
///
/// One owner per encoder and Ogg stream: created in `init`, freed in
/// `deinit`. The corresponding C functions are
/// `opus_multistream_encoder_create`, `opus_multistream_encode`,
/// `ogg_stream_packetin` and `ogg_stream_pageout`.
public final class OggOpusWriter {
    /// The input format (the call's own rate; 8, 12, 16, 24 or 48 kHz).
    public let format: AudioFormat
    /// Samples per channel per frame.
    public let frameSamples: Int
    /// The bit rate coded at, in bits per second (all streams together).
    public let bitrate: Int
    /// Pre-skip in 48 kHz samples (the encoder's lookahead).
    public let preSkip: Int
    /// Frames encoded so far.
    public private(set) var framesEncoded: Int64 = 0
    /// Bytes of Ogg written so far.
    public var bytesWritten: Int64 { file.size }

    /// The file being written.
    public let file: AtomicFile
    private let encoder: OpaquePointer
    private var stream = ogg_stream_state()
    private var packetNumber: Int64 = 0
    private var packetBuffer: [UInt8]
    private var silence: [Int16]
    private let lookahead: Int
    /// A packet held back so that the last one can carry end-of-stream and the trimmed granule.
    private var pending: (bytes: Int, granule: Int64)? = nil
    private var pendingBytes: [UInt8]
    private var finished = false
    /// The granule position of the last page written.
    private var pageGranule: Int64 = 0
    /// Streams in the file, the coupled ones first (each carries two channels).
    private let streams: Int
    private let coupled: Int
    /// The highest frequency each channel's source carries, in Hz (caps its stream's band).
    private var channelBandwidths: [Int]
    /// The longest a page may run, in 48 kHz samples (`OpusSettings.flushInterval`, at least one frame).
    let maxPageDuration: Int64

    /// The 48 kHz samples per input sample.
    private var granuleScale: Int64 { Int64(48_000 / format.sampleRate) }

    /// Opens `file` for a new Ogg Opus stream.
    /// - Parameters:
    ///   - file: where the bytes go (a temporary file until committed).
    ///   - format: sample rate and channel count of the PCM to come.
    ///   - settings: bit rate, complexity, stream layout, frame size.
    ///   - tags: OpusTags comments, `KEY=value`; values are written as given (bounded by the caller).
    ///   - serial: the Ogg stream serial number.
    ///   - audioBandwidth: the highest frequency the source carries, in Hz
    ///     (3400 for G.711, 7000 for G.722), when it is below what the rate
    ///     allows: the encoder then spends no bits above it. Every channel
    ///     starts with it; `setSourceBandwidth(channel:hz:)` changes one.
    public init(
        file: AtomicFile, format: AudioFormat, settings: OpusSettings, tags: [(String, String)], serial: Int32,
        audioBandwidth: Int? = nil
    ) throws {
        guard [8000, 12000, 16000, 24000, 48000].contains(format.sampleRate), (1...255).contains(format.channels) else {
            throw OutputError(code: .encoder, path: file.path, message: "Opus cannot code \(format)")
        }
        self.file = file
        self.format = format
        self.frameSamples = format.sampleRate * settings.frameMilliseconds / 1000
        maxPageDuration = max(Int64(settings.frameMilliseconds) * 48, Int64((settings.flushInterval * 48_000).rounded()))
        let channels = format.channels
        let coupled = settings.layout == .coupled ? channels / 2 : 0
        let streams = channels - coupled
        self.streams = streams
        self.coupled = coupled
        channelBandwidths = Array(repeating: audioBandwidth ?? Int.max, count: channels)
        // Mapping: coupled pairs first (channels 2k, 2k+1 -> stream k), then mono streams.
        var mapping = [UInt8](repeating: 0, count: channels)
        for c in 0..<channels { mapping[c] = UInt8(c) }
        var error: Int32 = 0
        guard let encoder = opus_multistream_encoder_create(
            Int32(format.sampleRate), Int32(channels), Int32(streams), Int32(coupled), &mapping,
            Int32(callrec_opus_application_voip), &error)
        else {
            throw OutputError(code: .encoder, path: file.path, message: "opus_multistream_encoder_create: \(OpusErrorCode(rawValue: error))")
        }
        self.encoder = encoder
                self.bitrate = settings.bitrate(sampleRate: format.sampleRate, channels: channels)
        _ = callrec_opus_ms_set_bitrate(encoder, Int32(bitrate))
        _ = callrec_opus_ms_set_complexity(encoder, Int32(settings.complexity))
        _ = callrec_opus_ms_set_signal(encoder, Int32(callrec_opus_signal_voice))
        // Never spend bits on a band the source cannot have: the rate's
        // Nyquist frequency, or the source codec's band when that is lower
        // (a G.711 call recorded at 16 kHz stays narrowband).
        _ = callrec_opus_ms_set_max_bandwidth(
            encoder, OggOpusWriter.bandwidth(forHz: min(format.sampleRate / 2, audioBandwidth ?? Int.max)))
        var lookahead: Int32 = 0
        _ = callrec_opus_ms_get_lookahead(encoder, &lookahead)
        self.lookahead = Int(lookahead)
        self.preSkip = Int(lookahead) * (48_000 / format.sampleRate)
        // RFC 6716: at most 1275 bytes per frame per stream, plus self-delimiting overhead.
        packetBuffer = [UInt8](repeating: 0, count: 1500 * streams)
        pendingBytes = [UInt8](repeating: 0, count: 1500 * streams)
        silence = [Int16](repeating: 0, count: frameSamples * channels)
        ogg_stream_init(&stream, serial)

        try writeHeaders(streams: streams, coupled: coupled, mapping: mapping, tags: tags)
    }

    /// Caps the band of the stream that carries `channel` at what its source
    /// carries (`hz`: 3400 for a G.711 leg, 7000 for G.722; a leg decoded at
    /// rate r carries at most r / 2): in a call recorded at 16 kHz, a G.711
    /// speaker's stream is coded narrowband, so none of its bits go to a band
    /// it never had, while a G.722 speaker's stream stays wideband. A coupled
    /// stream takes the wider of its two channels. Cheap to call again with
    /// the same value (nothing changes); a leg that changes codec calls it
    /// once per change.
    /// The corresponding C call is `opus_encoder_ctl(OPUS_SET_MAX_BANDWIDTH)`
    /// on the stream's encoder (`OPUS_MULTISTREAM_GET_ENCODER_STATE`).
    public func setSourceBandwidth(channel: Int, hz: Int) {
        guard channelBandwidths.indices.contains(channel), channelBandwidths[channel] != hz else { return }
        channelBandwidths[channel] = hz
        // Mapping: coupled pairs first (channels 2k, 2k+1 -> stream k), then one mono stream per channel.
        let stream = channel < 2 * coupled ? channel / 2 : channel - coupled
        let band = stream < coupled ? max(channelBandwidths[2 * stream], channelBandwidths[2 * stream + 1]) : hz
        _ = callrec_opus_ms_set_stream_max_bandwidth(encoder, Int32(stream), OggOpusWriter.bandwidth(forHz: min(format.sampleRate / 2, band)))
    }

    /// The Opus bandwidth cap of stream `stream` (an `OPUS_BANDWIDTH_*` value), for tests.
    public func maxBandwidth(stream: Int) -> Int32 {
        var band: Int32 = 0
        _ = callrec_opus_ms_get_stream_max_bandwidth(encoder, Int32(stream), &band)
        return band
    }

    /// Encodes the next frames with `complexity` (0 to 10): libopus takes the
    /// change at any frame, the stream stays one valid stream.
    /// The corresponding C call is `opus_multistream_encoder_ctl(OPUS_SET_COMPLEXITY)`.
    public func setComplexity(_ complexity: Int) {
        _ = callrec_opus_ms_set_complexity(encoder, Int32(complexity))
    }

    /// libopus's version string (`libopus 1.3.1`).
    public static var libraryVersion: String { String(cString: opus_get_version_string()) }

    /// The narrowest Opus bandwidth that holds audio up to `hz`
    /// (narrowband 4 kHz, mediumband 6, wideband 8, super-wideband 12, fullband 20).
    static func bandwidth(forHz hz: Int) -> Int32 {
        switch hz {
        case ...4000: Int32(callrec_opus_bandwidth_narrowband)
        case ...6000: Int32(callrec_opus_bandwidth_mediumband)
        case ...8000: Int32(callrec_opus_bandwidth_wideband)
        case ...12000: Int32(callrec_opus_bandwidth_superwideband)
        default: Int32(callrec_opus_bandwidth_fullband)
        }
    }

    deinit {
        opus_multistream_encoder_destroy(encoder)
        ogg_stream_clear(&stream)
    }

    /// RFC 7845 section 5: the identification header, then the comment header,
    /// each flushed to a page of its own.
    private func writeHeaders(streams: Int, coupled: Int, mapping: [UInt8], tags: [(String, String)]) throws {
        var head: [UInt8] = Array("OpusHead".utf8)
        head.append(1)  // version
        head.append(UInt8(format.channels))
        head.appendLE16(UInt16(preSkip))
        head.appendLE32(UInt32(format.sampleRate))  // input sample rate, informational
        head.appendLE16(0)  // output gain
        if format.channels <= 2 && coupled == format.channels / 2 && streams == 1 {
            head.append(0)  // mapping family 0: mono or one coupled stereo stream
        } else {
            head.append(1)  // mapping family 1: Vorbis channel order, explicit table
            head.append(UInt8(streams))
            head.append(UInt8(coupled))
            head.append(contentsOf: mapping)
        }
        try packetIn(head, granule: 0, beginning: true, end: false)
        try flushPages()

        var comments: [UInt8] = Array("OpusTags".utf8)
        let vendor = Array(String(cString: opus_get_version_string()).utf8)
        comments.appendLE32(UInt32(vendor.count))
        comments.append(contentsOf: vendor)
        comments.appendLE32(UInt32(tags.count + 1))
        for (key, value) in [("ENCODER", "callrec")] + tags {
            let entry = Array("\(key)=\(value)".utf8)
            comments.appendLE32(UInt32(entry.count))
            comments.append(contentsOf: entry)
        }
        try packetIn(comments, granule: 0, beginning: false, end: false)
        try flushPages()
    }

    /// Encodes one frame: exactly `frameSamples * channels` interleaved samples.
    public func write(frame: UnsafeBufferPointer<Int16>) throws {
        precondition(frame.count == frameSamples * format.channels, "a frame is \(frameSamples) samples per channel")
        let length = packetBuffer.withUnsafeMutableBufferPointer { out in
            opus_multistream_encode(encoder, frame.baseAddress!, Int32(frameSamples), out.baseAddress!, Int32(out.count))
        }
        guard length > 0 else {
            throw OutputError(code: .encoder, path: file.path, message: "opus_multistream_encode: \(OpusErrorCode(rawValue: length))")
        }
        framesEncoded += 1
        try releasePending(end: false, finalGranule: nil)
        // Hold this packet until the next one arrives or the stream ends.
        swap(&packetBuffer, &pendingBytes)
        pending = (Int(length), framesEncoded * Int64(frameSamples) * granuleScale)
    }

    /// Flushes the encoder's lookahead and ends the stream so that decoding
    /// yields exactly `totalSamples` samples per channel.
    /// - Parameter totalSamples: samples per channel of real audio that were
    ///   written (the last frame may have been padded).
    public func finish(totalSamples: Int64) throws {
        guard !finished else { return }
        finished = true
        // Feed silence until the encoder has emitted everything up to totalSamples + lookahead.
        let needed = totalSamples + Int64(lookahead)
        while framesEncoded * Int64(frameSamples) < needed {
            try silence.withUnsafeBufferPointer { try write(frame: $0) }
        }
        let finalGranule = Int64(preSkip) + totalSamples * granuleScale
        try releasePending(end: true, finalGranule: finalGranule)
        try flushPages()
    }

    private func releasePending(end: Bool, finalGranule: Int64?) throws {
        guard let (count, granule) = pending else { return }
        pending = nil
        let g = finalGranule.map { min($0, granule) } ?? granule
        try pendingBytes.withUnsafeBufferPointer { bytes in
            try packetIn(UnsafeBufferPointer(rebasing: bytes[0..<count]), granule: g, beginning: false, end: end)
        }
        if !end {
            // Write out full pages as they form, and the page in hand once it holds a second.
            if g - pageGranule >= maxPageDuration {
                try flushPages()
            } else {
                try pageOut()
            }
        }
    }

    private func packetIn(_ bytes: [UInt8], granule: Int64, beginning: Bool, end: Bool) throws {
        try bytes.withUnsafeBufferPointer { try packetIn($0, granule: granule, beginning: beginning, end: end) }
    }

    private func packetIn(_ bytes: UnsafeBufferPointer<UInt8>, granule: Int64, beginning: Bool, end: Bool) throws {
        var packet = ogg_packet()
        packet.packet = UnsafeMutablePointer(mutating: bytes.baseAddress)
        packet.bytes = bytes.count
        packet.b_o_s = beginning ? 1 : 0
        packet.e_o_s = end ? 1 : 0
        packet.granulepos = granule
        packet.packetno = packetNumber
        packetNumber += 1
        if ogg_stream_packetin(&stream, &packet) != 0 {
            throw OutputError(code: .encoder, path: file.path, message: "ogg_stream_packetin failed")
        }
    }

    private func pageOut() throws {
        var page = ogg_page()
        while ogg_stream_pageout(&stream, &page) != 0 {
            try writePage(page)
        }
    }

    private func flushPages() throws {
        var page = ogg_page()
        while ogg_stream_flush(&stream, &page) != 0 {
            try writePage(page)
        }
    }

    private func writePage(_ page: ogg_page) throws {
        var page = page
        let granule = ogg_page_granulepos(&page)
        if granule > 0 { pageGranule = granule }
        try file.write(UnsafeRawBufferPointer(start: page.header, count: page.header_len))
        try file.write(UnsafeRawBufferPointer(start: page.body, count: page.body_len))
    }
}

extension [UInt8] {
    mutating func appendLE16(_ v: UInt16) {
        append(UInt8(v & 0xFF))
        append(UInt8(v >> 8))
    }

    mutating func appendLE32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((v >> UInt32(shift)) & 0xFF)) }
    }
}
