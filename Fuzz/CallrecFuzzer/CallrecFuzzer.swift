#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer targets over every parser that reads the network, in one
/// executable: the first argument names the target.
///
/// | target | what it reads | input |
/// |---|---|---|
/// | `capture` | pcap/pcapng reader, link/IP/UDP/TCP slicer | a capture file |
/// | `sip` | SIP messages, SDP, the TCP framer, the dialog tracker | records: SIP messages over UDP or TCP |
/// | `rtp` | RTP header, RFC 4733 events, statistics, jitter buffer, SRTP | records: RTP packets |
/// | `tcp` | the TCP stream reassembler (with the SIP framer on top) | records: TCP segments |
/// | `fragment` | the IPv4/IPv6 fragment reassembler | records: IP fragments |
///
/// Built with `-sanitize=fuzzer -DFUZZING` (`make fuzz`, in `.build/fuzz`)
/// it is libFuzzer: `CallrecFuzzer sip -max_total_time=60 Fuzz/corpus/sip`.
/// Built normally it replays inputs once each (`CallrecFuzzer sip Fuzz/corpus/sip`,
/// or a crash file) and writes seeds from captures (`CallrecFuzzer seed ...`).
/// Each target traps (through `precondition`) on a broken invariant, so a
/// wrong answer is found like a crash.
enum FuzzTarget: String, CaseIterable {
    case capture, sip, rtp, tcp, fragment

    /// Runs one input through the target.
    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .capture: CaptureTarget.run(bytes)
        case .sip: SIPTarget.run(bytes)
        case .rtp: RTPTarget.run(bytes)
        case .tcp: TCPTarget.run(bytes)
        case .fragment: FragmentTarget.run(bytes)
        }
    }

    /// libFuzzer's `-max_len` unless the command line gives one: room for what the
    /// target's bounds are about (a 64 KiB datagram in fragments, 128 SIP headers).
    var maxLength: Int {
        switch self {
        case .capture, .tcp, .fragment: 16_384
        case .sip: 24_576
        case .rtp: 8_192
        }
    }

    /// The target named by the environment (how libFuzzer's child processes, which
    /// it starts with the flags but not the target name, find theirs).
    static let environmentName = "CALLREC_FUZZ_TARGET"

    nonisolated(unsafe) static var selected: FuzzTarget = .capture
}

@_cdecl("LLVMFuzzerTestOneInput")
public func callrecFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.selected.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// The target from the first argument (removed from `arguments`) or the environment.
func selectTarget(_ arguments: inout [String]) -> FuzzTarget? {
    if arguments.count > 1, let target = FuzzTarget(rawValue: arguments[1]) {
        arguments.remove(at: 1)
        setenv(FuzzTarget.environmentName, target.rawValue, 1)
        return target
    }
    if let name = getenv(FuzzTarget.environmentName), let target = FuzzTarget(rawValue: String(cString: name)) {
        return target
    }
    return nil
}

func usage() -> Never {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    #if FUZZING
    print("usage: CallrecFuzzer \(names) [libFuzzer flags] [corpus folders]")
    #else
    print("usage: CallrecFuzzer \(names) FILE-OR-FOLDER...      replay inputs once each")
    print("       CallrecFuzzer seed \(names) OUT-FOLDER [CAPTURE...]   write seeds (captures and generated calls)")
    #endif
    exit(2)
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
        var arguments = CommandLine.arguments
        guard let target = selectTarget(&arguments) else { usage() }
        FuzzTarget.selected = target
        if !arguments.contains(where: { $0.hasPrefix("-max_len=") }) { arguments.insert("-max_len=\(target.maxLength)", at: 1) }
        // libFuzzer keeps argv for its child processes: strdup'ed, never freed.
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = CInt(arguments.count)
        pointers.withUnsafeMutableBufferPointer { buffer in
            var argv = buffer.baseAddress!
            exit(LLVMFuzzerRunDriver(&argc, &argv, callrecFuzzerTestOneInput))
        }
    }
}
#else
/// Replays files and folders of inputs once each (a committed corpus, a crash
/// to reproduce), or writes seeds.
@main
enum ReplayMain {
    static func main() {
        var arguments = CommandLine.arguments
        if arguments.count > 1 && arguments[1] == "seed" {
            guard arguments.count >= 4, let target = FuzzTarget(rawValue: arguments[2]) else { usage() }
            let written = FuzzSeeds.write(target, to: arguments[3], captures: Array(arguments.dropFirst(4)))
            print("CallrecFuzzer: wrote \(written) \(target.rawValue) seeds to \(arguments[3])")
            return
        }
        guard let target = selectTarget(&arguments), arguments.count > 1 else { usage() }
        var count = 0
        for argument in arguments.dropFirst() {
            for path in FuzzFiles.files(at: argument) {
                guard let bytes = FuzzFiles.contents(of: path) else {
                    print("CallrecFuzzer: cannot read \(path)")
                    exit(1)
                }
                bytes.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("CallrecFuzzer \(target.rawValue): replayed \(count) inputs")
    }
}
#endif

/// Files for the replayer and the seed writer.
enum FuzzFiles {
    /// The files in a folder (sorted, hidden ones left out), or the path itself.
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

    static func write(_ bytes: [UInt8], to path: String) -> Bool {
        guard let file = fopen(path, "wb") else { return false }
        defer { fclose(file) }
        return bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) } == bytes.count
    }
}
