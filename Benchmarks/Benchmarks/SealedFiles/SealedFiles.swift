import Benchmark
import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Conversion
import Foundation
import Sealing

/// Sealed files (age v1): opening one front to back and in ranges, sealing,
/// against SHA-256 of the same bytes (what every committed file already
/// costs, `FileDigest`) in the same run; peak memory opening 8 MiB and 64 MiB
/// (it must not grow with the file); and sealing the files of a 60 s call
/// beside converting that call (`Convert.call 60s PCMU 2 legs`), the cost
/// sealing adds to a commit.
///
/// 64 MiB stands for a long recording: an hour of Opus at callrec's default
/// 32 kbit/s is about 14 MiB, an hour of 8 kHz stereo WAV 110 MiB.
/// Throughput: 64 MiB / wall time. Aim: opening >= 200 MB/s on one core.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    let directory = FixturePaths.temporaryDirectory("sealing-bench")
    let identity = X25519Identity()
    let big = 64 << 20
    let small = 8 << 20
    let content = (0..<big).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }

    @Sendable func sealedFile(_ size: Int) throws -> String {
        let path = directory + "/content-\(size).age"
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let writer = try AgeWriter(recipients: [identity.recipient])
            let output = StoredBytesBuffer()
            try writer.begin(into: output)
            try content.prefix(size).withUnsafeBytes { try writer.append($0, into: output) }
            try writer.finish(into: output)
            _ = FileManager.default.createFile(atPath: path, contents: Data(output.bytes))
        }
        return path
    }
    @Sendable func removeAll() async throws { try? FileManager.default.removeItem(atPath: directory) }

    Benchmark("Sealing.SHA-256 64 MiB (baseline)") { benchmark in
        benchmark.startMeasurement()
        let digest = FileDigest.sha256(bytes: content)
        benchmark.stopMeasurement()
        blackHole(digest)
    }

    Benchmark(
        "Sealing.open 64 MiB front to back",
        closure: { benchmark in
            let path = try sealedFile(big)
            var total = 0
            benchmark.startMeasurement()
            try AgeDecryptor.decrypt(path: path, identities: [identity]) { total += $0.count }
            benchmark.stopMeasurement()
            precondition(total == big, "the sealed file must open whole")
        }, setup: { _ = try sealedFile(big) })

    Benchmark(
        "Sealing.open 64 MiB in 1 MiB ranges (random access)",
        closure: { benchmark in
            let path = try sealedFile(big)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            benchmark.startMeasurement()
            let reader = try AgeFileReader(path: path, identities: [identity])
            var offset: Int64 = 0
            while offset < reader.contentSize {
                offset += Int64(try buffer.withUnsafeMutableBytes { try reader.read(into: $0, at: offset) })
            }
            benchmark.stopMeasurement()
            precondition(offset == Int64(big), "the sealed file must read whole")
        }, setup: { _ = try sealedFile(big) })

    Benchmark("Sealing.seal 64 MiB") { benchmark in
        let output = CountingOutput()
        benchmark.startMeasurement()
        let writer = try AgeWriter(recipients: [identity.recipient])
        try writer.begin(into: output)
        // In 4 KiB writes, as Output's writers hand their pages over.
        try content.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                try writer.append(UnsafeRawBufferPointer(rebasing: all[offset..<min(all.count, offset + 4096)]), into: output)
                offset += 4096
            }
        }
        try writer.finish(into: output)
        benchmark.stopMeasurement()
        precondition(output.count == writer.storedSize, "every byte must be stored")
    }

    // Memory must not grow with the file: the same peak for 8 MiB and 64 MiB.
    for size in [small, big] {
        Benchmark(
            "Sealing.memory open \(size >> 20) MiB front to back",
            configuration: .init(metrics: [.peakMemoryResident, .mallocCountTotal], maxIterations: 3),
            closure: { _ in
                var total = 0
                try AgeDecryptor.decrypt(path: try sealedFile(size), identities: [identity]) { total += $0.count }
                precondition(total == size, "the sealed file must open whole")
            }, setup: { _ = try sealedFile(size) })
    }

    // A user's login: their key unwrapped with their password (scrypt at the default work factor).
    let password = try! Passphrase("a user's password")
    let wrapped = try! X25519Identity().sealed(to: [ScryptRecipient(passphrase: password)])
    Benchmark("Sealing.unwrap a password-wrapped key (scrypt 2^18)", configuration: .init(maxIterations: 5)) { benchmark in
        benchmark.startMeasurement()
        let key = try X25519Identity(unsealing: wrapped, with: [ScryptIdentity(passphrase: password)])
        benchmark.stopMeasurement()
        blackHole(key)
    }

    // A 60 s call: its files as convert writes them, sealed to two recipients
    // (a user and compliance), against converting the call, in the same run.
    let capture = directory + "/call-60s.pcap"
    let fileSizes = LockedSizes()
    @Sendable func makeCall() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: capture) {
            var call = SyntheticCall()
            call.duration = 60
            call.seed = 42
            _ = FileManager.default.createFile(atPath: capture, contents: Data(call.build().pcap))
        }
        let output = directory + "/out-sizes"
        try? FileManager.default.removeItem(atPath: output)
        let result = try Converter(options: ConvertOptions(outputDirectory: output)).convert(path: capture, diagnostics: Diagnostics())
        precondition(result.recordings.count == 1, "the benchmark call must convert")
        let files = FileManager.default.enumerator(atPath: output)?.compactMap { $0 as? String }.filter { !$0.hasPrefix("catalog") } ?? []
        fileSizes.set(files.compactMap { try? FileManager.default.attributesOfItem(atPath: output + "/" + $0)[.size] as? Int }.filter { $0 > 0 })
    }

    // The same work as Convert's own benchmark, measured here as the baseline of this run.
    Benchmark(
        "Sealing.Convert.call 60s PCMU 2 legs (baseline)",
        closure: { benchmark in
            let output = directory + "/out-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let converter = try Converter(options: ConvertOptions(outputDirectory: output))
            benchmark.startMeasurement()
            let result = converter.convert(path: capture, diagnostics: Diagnostics())
            benchmark.stopMeasurement()
            precondition(result.recordings.count == 1, "the benchmark call must convert")
        }, setup: makeCall)

    Benchmark(
        "Sealing.seal a 60s call's files (2 recipients)",
        closure: { benchmark in
            let sizes = fileSizes.get()
            precondition(sizes.count >= 3, "the call's audio, peaks and index")
            let recipients: [any AgeRecipient] = [X25519Identity().recipient, identity.recipient]
            let output = CountingOutput()
            benchmark.startMeasurement()
            for size in sizes {
                let writer = try AgeWriter(recipients: recipients)
                try writer.begin(into: output)
                try content.prefix(size).withUnsafeBytes { try writer.append($0, into: output) }
                try writer.finish(into: output)
            }
            benchmark.stopMeasurement()
            blackHole(output.count)
        }, setup: makeCall, teardown: removeAll)
}

/// Stores nothing; counts what would be stored (the CPU of sealing, without the disk).
final class CountingOutput: StoredBytesOutput {
    private(set) var count: Int64 = 0
    func append(_ bytes: UnsafeRawBufferPointer) throws { count += Int64(bytes.count) }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws { count = max(count, offset + Int64(bytes.count)) }
}

/// The file sizes of the converted call, set in setup, read by the benchmark.
final class LockedSizes: @unchecked Sendable {
    // SAFETY: `sizes` is read and written with `lock` held.
    private let lock = NSLock()
    private var sizes: [Int] = []
    func set(_ value: [Int]) { lock.withLock { sizes = value } }
    func get() -> [Int] { lock.withLock { sizes } }
}
