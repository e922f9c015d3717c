import COpus
import CallrecCore

/// Closes an Ogg Opus file whose writer died (a recorder killed with a call
/// in flight) at its last complete page, in place, so that it is a clean
/// Ogg Opus stream (RFC 7845) holding every packet that was written whole.
///
/// `OggOpusWriter` writes each page once it is complete (at most
/// `OpusSettings.flushInterval` of audio after its first packet), so such a
/// file is its two header pages, whole audio pages, and possibly one page
/// cut short by the crash. `close` reads the pages with libogg (which checks
/// each page's CRC), stops at the first page that is cut, corrupt or out of
/// sequence, and makes the last good audio page the end of the stream: its
/// end-of-stream flag set, a packet it only began (continued on the page
/// that was lost) taken off its lacing, its CRC computed again
/// (`ogg_page_checksum_set`), and the file truncated after it. The page's
/// granule position is that of its last whole packet, so the stream's length
/// is right without trimming. A file that already ends with its
/// end-of-stream page is left as it is. Running it again changes nothing.
///
/// The corresponding C functions are `ogg_sync_pageseek`, `ogg_stream_pagein`,
/// `ogg_stream_packetout` and `ogg_page_checksum_set`.
public enum OggOpusSalvage {
    /// What a closed file holds.
    public struct Closed: Sendable, Equatable {
        /// Channels, input rate (the rate the audio was coded at) and pre-skip (48 kHz samples), from OpusHead.
        public var channels: Int
        public var inputRate: Int
        public var preSkip: Int
        /// The OpusTags comments, in order, keys as written.
        public var tags: [String]
        /// The granule position of the last page kept (48 kHz samples, pre-skip included).
        public var granule: Int64
        /// Bytes of the file now, and bytes cut off its end.
        public var bytes: Int64
        public var bytesCut: Int64
        /// Whether the file already ended with its end-of-stream page (nothing was changed).
        public var wasComplete: Bool

        /// Samples per channel of audio kept, at `inputRate`.
        public var samples: Int64 { max(0, granule - Int64(preSkip)) * Int64(inputRate) / 48_000 }
        /// Seconds of audio kept.
        public var duration: Double { Double(max(0, granule - Int64(preSkip))) / 48_000 }

        /// The value of the first comment `KEY=value` (key compared without case), if any.
        public func tag(_ key: String) -> String? {
            let prefix = key.uppercased() + "="
            return tags.first { $0.uppercased().hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
    }

    /// A page as found in the file.
    private struct Page {
        var offset: Int64
        var header: [UInt8]
        var body: [UInt8]
        var granule: Int64
        var endOfStream: Bool
    }

    /// Closes the Ogg Opus file at `path` at its last complete page (see the
    /// type). Returns nil when it holds no audio page (nothing to keep), or is
    /// not Ogg Opus at all.
    /// - Throws: `OutputError` when the file cannot be read or written.
    public static func close(path: String) throws -> Closed? {
        let fd: Int32
        do throws(SystemError) { fd = try System.openForUpdate(path) } catch { throw AtomicFile.error(error, path: path, doing: "cannot open") }
        defer { System.close(fd) }
        var sync = ogg_sync_state()
        ogg_sync_init(&sync)
        defer { ogg_sync_clear(&sync) }
        var stream = ogg_stream_state()
        var streamOpen = false
        defer { if streamOpen { ogg_stream_clear(&stream) } }

        var head: (channels: Int, rate: Int, preSkip: Int)? = nil
        var tags: [String]? = nil
        var lastAudio: Page? = nil
        var lastPage: Page? = nil
        var offset: Int64 = 0
        var fileSize: Int64 = 0
        var nextPageNumber = 0
        var ended = false
        reading: while !ended {
            var page = ogg_page()
            let n = ogg_sync_pageseek(&sync, &page)
            if n > 0 {
                // A whole page whose CRC checks.
                let serial = ogg_page_serialno(&page)
                if !streamOpen {
                    guard ogg_page_bos(&page) != 0 else { break reading }
                    ogg_stream_init(&stream, serial)
                    streamOpen = true
                }
                guard serial == stream.serialno, Int(ogg_page_pageno(&page)) == nextPageNumber, ogg_stream_pagein(&stream, &page) == 0
                else { break reading }
                nextPageNumber += 1
                let found = Page(
                    offset: offset, header: Array(UnsafeBufferPointer(start: page.header, count: page.header_len)),
                    body: Array(UnsafeBufferPointer(start: page.body, count: page.body_len)),
                    granule: ogg_page_granulepos(&page), endOfStream: ogg_page_eos(&page) != 0)
                offset += Int64(n)
                // Audio pages are those after the one that completes the header packets.
                let audioPage = tags != nil
                var packet = ogg_packet()
                while ogg_stream_packetout(&stream, &packet) == 1 {
                    let bytes = UnsafeBufferPointer(start: packet.packet, count: packet.bytes)
                    if head == nil {
                        guard let parsed = parseHead(bytes) else { return nil }
                        head = parsed
                    } else if tags == nil {
                        guard let parsed = parseTags(bytes) else { return nil }
                        tags = parsed
                    }
                }
                lastPage = found
                if audioPage, found.granule >= 0, packetCount(found.header) > 0 { lastAudio = found }
                ended = found.endOfStream
                continue
            }
            if n < 0 {
                // Bytes that are not a page (a torn page, garbage): nothing after them is trusted.
                if head != nil { break reading }
                offset += Int64(-n)
                continue
            }
            // More data needed.
            guard let buffer = ogg_sync_buffer(&sync, 65_536) else { break reading }
            let got: Int
            do throws(SystemError) { got = try System.read(fd, into: buffer, count: 65_536) } catch {
                throw AtomicFile.error(error, path: path, doing: "cannot read")
            }
            if got == 0 { break reading }
            fileSize += Int64(got)
            ogg_sync_wrote(&sync, got)
        }
        // Whatever is left beyond the read (a file larger than read so far): count it as cut.
        fileSize = max(fileSize, System.size(fd) ?? 0)
        guard let head, let tags, var last = lastAudio else { return nil }
        let end = last.offset + Int64(last.header.count + last.body.count)
        if last.endOfStream, lastPage?.offset == last.offset, end == fileSize {
            return Closed(
                channels: head.channels, inputRate: head.rate, preSkip: head.preSkip, tags: tags, granule: last.granule, bytes: end,
                bytesCut: 0, wasComplete: true)
        }
        closeStream(&last)
        let newEnd = last.offset + Int64(last.header.count + last.body.count)
        do throws(SystemError) {
            let page = last.header + last.body
            var failure: SystemError? = nil
            page.withUnsafeBytes { bytes in
                do throws(SystemError) { try System.writeAll(fd, bytes, at: last.offset) } catch { failure = error }
            }
            if let failure { throw failure }
            try System.truncate(fd, to: newEnd)
            try System.sync(fd)
        } catch {
            throw AtomicFile.error(error, path: path, doing: "cannot close the stream")
        }
        return Closed(
            channels: head.channels, inputRate: head.rate, preSkip: head.preSkip, tags: tags, granule: last.granule, bytes: newEnd,
            bytesCut: fileSize - newEnd, wasComplete: false)
    }

    /// Packets that end on a page: lacing values below 255.
    private static func packetCount(_ header: [UInt8]) -> Int {
        guard header.count >= 27 else { return 0 }
        let segments = Int(header[26])
        return header[27..<(27 + segments)].filter { $0 < 255 }.count
    }

    /// Makes `page` the last of its stream: end-of-stream set, the lacing of a
    /// packet that continues past it removed, the CRC computed again.
    private static func closeStream(_ page: inout Page) {
        // RFC 3533: header_type (byte 5) bit 0x04 is end of stream; byte 26 the segment count, then the lacing values.
        var segments = Int(page.header[26])
        let lacing = Array(page.header[27..<(27 + segments)])
        var keep = segments
        while keep > 0 && lacing[keep - 1] == 255 { keep -= 1 }
        if keep < segments {
            let bodyLength = lacing[0..<keep].reduce(0) { $0 + Int($1) }
            page.body = Array(page.body[0..<bodyLength])
            page.header = Array(page.header[0..<(27 + keep)])
            page.header[26] = UInt8(keep)
            segments = keep
        }
        page.header[5] |= 0x04
        page.endOfStream = true
        page.header.withUnsafeMutableBufferPointer { header in
            page.body.withUnsafeMutableBufferPointer { body in
                var og = ogg_page(header: header.baseAddress, header_len: header.count, body: body.baseAddress, body_len: body.count)
                ogg_page_checksum_set(&og)
            }
        }
    }

    /// RFC 7845 section 5.1: `OpusHead`, version 1, channels, pre-skip, input rate.
    private static func parseHead(_ bytes: UnsafeBufferPointer<UInt8>) -> (channels: Int, rate: Int, preSkip: Int)? {
        guard bytes.count >= 19, Array(bytes[0..<8]) == Array("OpusHead".utf8), bytes[8] & 0xF0 == 0 else { return nil }
        let channels = Int(bytes[9])
        let preSkip = Int(bytes[10]) | Int(bytes[11]) << 8
        let rate = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        guard channels > 0 else { return nil }
        return (channels, rate == 0 ? 48_000 : rate, preSkip)
    }

    /// RFC 7845 section 5.2: `OpusTags`, the vendor string, then the comments. Bounded by the packet.
    private static func parseTags(_ bytes: UnsafeBufferPointer<UInt8>) -> [String]? {
        guard bytes.count >= 16, Array(bytes[0..<8]) == Array("OpusTags".utf8) else { return nil }
        func le32(_ at: Int) -> Int? {
            guard at + 4 <= bytes.count else { return nil }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        }
        guard let vendor = le32(8), 12 + vendor + 4 <= bytes.count, let count = le32(12 + vendor) else { return nil }
        var at = 16 + vendor
        var comments: [String] = []
        for _ in 0..<min(count, 1000) {
            guard let length = le32(at), at + 4 + length <= bytes.count else { return nil }
            comments.append(String(decoding: bytes[(at + 4)..<(at + 4 + length)], as: UTF8.self))
            at += 4 + length
        }
        return comments
    }
}
