import Foundation

/// What tshark 4.0 reported for each capture in ../shared/data/captures,
/// parsed from `tshark-reference.txt` (capinfos, then `-z rtp,streams`).
public struct TsharkReference: Sendable {
    /// One row of tshark's RTP stream table.
    public struct Stream: Sendable, CustomStringConvertible {
        /// Source address as tshark prints it.
        public var source: String
        /// Source port.
        public var sourcePort: UInt16
        /// Destination address as tshark prints it.
        public var destination: String
        /// Destination port.
        public var destinationPort: UInt16
        /// As tshark prints it: `0x1A2B3C4D`.
        public var ssrc: String
        /// tshark's payload names (`g711U, rtpevent`).
        public var payload: String
        /// Packets in the stream.
        public var packets: Int
        /// tshark's lost count.
        public var lost: Int
        /// Mean delta, in milliseconds.
        public var meanDeltaMs: Double
        /// Maximum delta, in milliseconds.
        public var maxDeltaMs: Double
        /// Mean jitter, in milliseconds.
        public var meanJitterMs: Double
        /// Maximum jitter, in milliseconds.
        public var maxJitterMs: Double

        /// One line naming the stream and its counts.
        public var description: String {
            "\(source):\(sourcePort) -> \(destination):\(destinationPort) \(ssrc) \(packets) pkts \(lost) lost"
        }
    }

    /// One capture's entry.
    public struct Capture: Sendable {
        /// The file name in ../shared/data/captures.
        public var file: String
        /// How tshark found RTP: `default (SIP/SDP-driven)`, `rtp.heuristic_rtp:TRUE` or a decode-as rule.
        public var mode: String
        /// capinfos' packet count.
        public var packets: Int
        /// tshark's stream table.
        public var streams: [Stream]
    }

    /// One entry per capture, in file order.
    public var captures: [Capture]

    /// The reference file's path.
    public static var path: String { FixturePaths.shared("captures/tshark-reference.txt") }

    /// Parses the reference file; nil when the shared data is absent.
    public static func load() -> TsharkReference? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return TsharkReference(text: text)
    }

    /// The capture files the reference covers (for `@Test(arguments:)`), empty when absent.
    public static var files: [String] { load()?.captures.map(\.file) ?? [] }

    /// The entry for `file`.
    public func capture(_ file: String) -> Capture? { captures.first { $0.file == file } }

    init(text: String) {
        captures = []
        var current: Capture? = nil
        var inStreams = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let bracket = line.range(of: "  ["), !line.hasPrefix(" "), line.hasSuffix("]") {
                if let c = current { captures.append(c) }
                let file = String(line[..<bracket.lowerBound])
                let mode = String(line[bracket.upperBound...].dropLast())
                current = Capture(file: file, mode: mode, packets: 0, streams: [])
                inStreams = false
                continue
            }
            if trimmed.hasPrefix("Number of packets:") {
                current?.packets = Int(trimmed.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) ?? 0
            } else if trimmed.hasPrefix("==") && trimmed.contains("RTP Streams") {
                inStreams = true
            } else if trimmed.hasPrefix("==") {
                inStreams = false
            } else if inStreams, !trimmed.hasPrefix("Start time"), !trimmed.isEmpty, let stream = Self.stream(trimmed) {
                current?.streams.append(stream)
            }
        }
        if let c = current { captures.append(c) }
    }

    /// Runs the installed tshark's `-q -z rtp,streams` (with heuristic RTP) on
    /// `path` and parses its table; nil when tshark is not installed.
    public static func run(on path: String) -> [Stream]? {
        guard let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tshark)
        process.arguments = ["-n", "-q", "-r", path, "-o", "rtp.heuristic_rtp:TRUE", "-z", "rtp,streams"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { stream(String($0).trimmingCharacters(in: .whitespaces)) }
    }

    /// Whether tshark is installed here.
    public static var tsharkInstalled: Bool {
        ["/usr/bin/tshark", "/usr/local/bin/tshark"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `start end src sport dst dport ssrc payload... pkts lost (pct%) minΔ meanΔ maxΔ minJ meanJ maxJ [X]`
    public static func stream(_ line: String) -> Stream? {
        var fields = line.split(separator: " ").map(String.init)
        if fields.last == "X" { fields.removeLast() }
        guard fields.count >= 16, let lostIndex = fields.lastIndex(where: { $0.hasPrefix("(") && $0.hasSuffix("%)") }) else { return nil }
        let numbers = fields[(lostIndex + 1)...].compactMap(Double.init)
        guard numbers.count == 6, lostIndex >= 9,
              let sourcePort = UInt16(fields[3]), let destinationPort = UInt16(fields[5]),
              let packets = Int(fields[lostIndex - 2]), let lost = Int(fields[lostIndex - 1])
        else { return nil }
        return Stream(
            source: fields[2], sourcePort: sourcePort, destination: fields[4], destinationPort: destinationPort,
            ssrc: fields[6], payload: fields[7..<(lostIndex - 2)].joined(separator: " "),
            packets: packets, lost: lost, meanDeltaMs: numbers[1], maxDeltaMs: numbers[2], meanJitterMs: numbers[4], maxJitterMs: numbers[5])
    }
}
