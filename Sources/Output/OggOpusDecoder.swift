import COpus
import CallrecCore

/// Decodes an Ogg Opus file callrec wrote back to PCM at the rate it was
/// coded at (OpusHead's input rate: 8 or 16 kHz for a call), pre-skip
/// removed and the end trimmed to the last page's granule position, one
/// packet's frame at a time. libopusfile only decodes at 48 kHz; this reads
/// the pages with libogg and decodes each packet with libopus's
/// multistream decoder at the file's own rate, so what comes out can be
/// analysed exactly as the recording's frames were when they were encoded
/// (the salvage of a recording cut by a crash rebuilds its speech segments
/// and peaks this way).
///
/// The corresponding C functions are `ogg_sync_pageout`, `ogg_stream_packetout`,
/// `opus_multistream_decoder_create` and `opus_multistream_decode`.
public enum OggOpusDecoder {
    /// The stream's layout, from OpusHead.
    public struct Layout: Sendable, Equatable {
        public var channels: Int
        public var rate: Int
        public var preSkip: Int
    }

    /// Decodes the file at `path`, calling `frame` with each packet's audio
    /// (interleaved, `layout.channels` channels at `layout.rate`). Returns the layout and the samples per channel given out.
    /// - Throws: `OutputError` when the file cannot be read or is not Ogg Opus.
    @discardableResult
    public static func decode(path: String, frame: (Layout, UnsafeBufferPointer<Int16>) throws -> Void) throws -> (Layout, Int64) {
        let fd: Int32
        do throws(SystemError) { fd = try System.openForReading(path) } catch { throw AtomicFile.error(error, path: path, doing: "cannot open") }
        defer { System.close(fd) }
        var sync = ogg_sync_state()
        ogg_sync_init(&sync)
        defer { ogg_sync_clear(&sync) }
        var stream = ogg_stream_state()
        var streamOpen = false
        defer { if streamOpen { ogg_stream_clear(&stream) } }
        var decoder: OpaquePointer? = nil
        defer { if let decoder { opus_multistream_decoder_destroy(decoder) } }
        var layout: Layout? = nil
        var packets = 0
        // 120 ms at 48 kHz per channel: the longest Opus packet.
        var pcm: [Int16] = []
        var toSkip: Int64 = 0
        var given: Int64 = 0
        var pageGranule: Int64 = -1
        func fail(_ message: String) -> OutputError { OutputError(code: .encoder, path: path, message: message) }

        while true {
            var page = ogg_page()
            if ogg_sync_pageout(&sync, &page) != 1 {
                guard let buffer = ogg_sync_buffer(&sync, 65_536) else { throw fail("out of memory") }
                let got: Int
                do throws(SystemError) { got = try System.read(fd, into: buffer, count: 65_536) } catch {
                    throw AtomicFile.error(error, path: path, doing: "cannot read")
                }
                if got == 0 { break }
                ogg_sync_wrote(&sync, got)
                continue
            }
            if !streamOpen {
                ogg_stream_init(&stream, ogg_page_serialno(&page))
                streamOpen = true
            }
            guard ogg_stream_pagein(&stream, &page) == 0 else { continue }
            pageGranule = ogg_page_granulepos(&page)
            var packet = ogg_packet()
            while ogg_stream_packetout(&stream, &packet) == 1 {
                let bytes = UnsafeBufferPointer(start: packet.packet, count: packet.bytes)
                packets += 1
                if packets == 1 {
                    // RFC 7845 5.1: OpusHead, then (family 1) streams, coupled and the mapping table.
                    guard bytes.count >= 19, Array(bytes[0..<8]) == Array("OpusHead".utf8) else { throw fail("not Ogg Opus") }
                    let channels = Int(bytes[9])
                    let preSkip = Int(bytes[10]) | Int(bytes[11]) << 8
                    var rate = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
                    if ![8000, 12000, 16000, 24000, 48000].contains(rate) { rate = 48_000 }
                    var streams: Int32 = 1
                    var coupled: Int32 = channels == 2 ? 1 : 0
                    var mapping: [UInt8] = channels == 2 ? [0, 1] : [0]
                    if bytes[18] != 0 {
                        guard bytes.count >= 21 + channels else { throw fail("OpusHead too short") }
                        streams = Int32(bytes[19])
                        coupled = Int32(bytes[20])
                        mapping = Array(bytes[21..<(21 + channels)])
                    }
                    var error: Int32 = 0
                    decoder = opus_multistream_decoder_create(Int32(rate), Int32(channels), streams, coupled, &mapping, &error)
                    guard decoder != nil else { throw fail("opus_multistream_decoder_create: \(OpusErrorCode(rawValue: error))") }
                    layout = Layout(channels: channels, rate: rate, preSkip: preSkip)
                    toSkip = Int64(preSkip) * Int64(rate) / 48_000
                    pcm = [Int16](repeating: 0, count: rate * 120 / 1000 * channels)
                    continue
                }
                if packets == 2 { continue }  // OpusTags
                guard let layout, let decoder else { continue }
                let count = pcm.withUnsafeMutableBufferPointer { out in
                    opus_multistream_decode(decoder, bytes.baseAddress, Int32(bytes.count), out.baseAddress!, Int32(out.count / layout.channels), 0)
                }
                guard count > 0 else { continue }
                var first = 0
                var n = Int64(count)
                if toSkip > 0 {
                    let skip = min(toSkip, n)
                    toSkip -= skip
                    first = Int(skip)
                    n -= skip
                }
                if packet.e_o_s != 0 || ogg_page_eos(&page) != 0, pageGranule >= 0 {
                    // The end is trimmed to the last granule position.
                    let total = max(0, pageGranule - Int64(layout.preSkip)) * Int64(layout.rate) / 48_000
                    n = max(0, min(n, total - given))
                }
                guard n > 0 else { continue }
                try pcm.withUnsafeBufferPointer { p in
                    try frame(layout, UnsafeBufferPointer(rebasing: p[(first * layout.channels)..<((first + Int(n)) * layout.channels)]))
                }
                given += n
            }
        }
        guard let layout else { throw fail("not Ogg Opus") }
        return (layout, given)
    }
}
