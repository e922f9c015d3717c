import CallrecCore
import Capture
import RTP
import SIP

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target over the capture readers and the packet slicer: the input
/// is a capture file (pcap or pcapng, any bytes); every packet it yields is
/// sliced (link, IP with fragment reassembly, UDP/TCP) and handed to the SIP,
/// SDP and RTP parsers and the stream statistics, as `inspect` does.
///
/// Build and run: `make fuzz` (bounded, for CI) or by hand:
///   swift build --scratch-path .build/fuzz --product CaptureFuzzer \
///     -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
///   .build/fuzz/debug/CaptureFuzzer -max_len=16384 Fuzz/corpus/capture
/// Without `-DFUZZING` the same executable replays files (a corpus) once each.
enum CaptureFuzzer {
    /// One input, start to end. Traps (through `precondition`) on a broken invariant.
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let diagnostics = Diagnostics()
        // The last byte picks how many bytes each read hands over, so refills,
        // compaction and growth of the reader's buffer are all exercised.
        let chunk = bytes.isEmpty ? 1 : Int(bytes[bytes.count - 1] % 97) + 1
        guard let reader = try? CaptureFileReader(bytes: Array(bytes), name: "fuzz", chunk: chunk, diagnostics: diagnostics) else { return }
        let slicer = PacketSlicer(
            diagnostics: diagnostics, fragmentLimits: FragmentReassembler.Limits(maxDatagrams: 4, maxBytes: 1 << 17, timeout: 1_000_000_000))
        var statistics = RTPStreamStatistics()
        var delivered = 0
        while let packet = try? reader.next() {
            delivered += 1
            precondition(packet.number == delivered, "packets are numbered in order")
            precondition(packet.bytes.count <= CaptureFileReader.maxRecordLength, "a packet is never longer than the limit")
            guard let datagram = slicer.slice(packet) else { continue }
            let payload = datagram.payload
            if SIPMessage.looksLikeSIP(payload), let (message, length) = SIPMessage.parse(payload) {
                precondition(length <= payload.count, "a SIP message lies inside its datagram")
                if message.hasSDP { _ = SessionDescription(message.body) }
            } else if let header = RTPHeader(payload) {
                precondition(header.payloadOffset + header.payloadLength <= payload.count, "the RTP payload lies inside its datagram")
                statistics.record(
                    sequence: header.sequence, timestamp: header.timestamp, arrival: packet.timestamp,
                    clockRate: RTPPayloadType.tsharkClockRate(header.payloadType), marker: header.marker, payloadType: header.payloadType)
            }
        }
        slicer.reassembler.finish()
        precondition(reader.packetsRead == delivered, "every packet read was delivered")
        precondition(slicer.reassembler.datagramsInFlight == 0, "finish gives up every datagram")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func captureFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    CaptureFuzzer.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

#if FUZZING
/// libFuzzer's driver, called from our own entry point because SwiftPM names
/// the executable's `main` itself.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum FuzzerMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, captureFuzzerTestOneInput))
    }
}
#else
/// Replays files and folders of inputs once each (the committed corpus, a crash to reproduce).
@main
enum ReplayMain {
    static func main() {
        var count = 0
        for argument in CommandLine.arguments.dropFirst() {
            for path in files(at: argument) {
                guard let bytes = contents(of: path) else {
                    print("CaptureFuzzer: cannot read \(path)")
                    exit(1)
                }
                bytes.withUnsafeBytes { CaptureFuzzer.run($0) }
                count += 1
            }
        }
        print("CaptureFuzzer: replayed \(count) inputs")
    }

    static func files(at path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    static func contents(of path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }
}
#endif
