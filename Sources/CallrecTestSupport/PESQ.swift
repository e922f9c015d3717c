import Foundation

/// ITU-T P.862 PESQ through the `pesq` package from PyPI (the reference C
/// code with a Python binding), for tests that hold audio quality to a
/// figure: narrowband at 8 kHz, wideband (P.862.2) at 16 kHz.
/// `make test` installs it (`pip install pesq numpy scipy`); a test that
/// needs it is skipped, saying so, only where python3 cannot import it.
public enum PESQ {
    /// Whether python3 can import pesq, numpy and scipy.
    public static let available: Bool = {
        guard let python = pythonPath else { return false }
        return (try? CommandRunner.run(python, ["-c", "import pesq, numpy, scipy.signal"]).status) == 0
    }()

    private static let pythonPath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The PESQ score (MOS-LQO) of `degraded` against `reference`.
    /// - Parameters:
    ///   - rate: the reference's rate, 8000 (narrowband) or 16000 (wideband).
    ///   - degradedRate: the degraded signal's rate when it differs (48000 for
    ///     a decoded Opus file): it is resampled to `rate` first (scipy's
    ///     polyphase filter).
    /// The two are compared over the shorter one's length.
    public static func score(reference: [Int16], degraded: [Int16], rate: Int, degradedRate: Int? = nil) throws -> Double {
        guard let python = pythonPath else { throw Failure(description: "no python3 on PATH") }
        let directory = FixturePaths.temporaryDirectory("callrec-pesq")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try write(reference, to: directory + "/ref.raw")
        try write(degraded, to: directory + "/deg.raw")
        let script = """
            import sys, numpy as np, scipy.signal
            from pesq import pesq
            rate, deg_rate = int(sys.argv[3]), int(sys.argv[4])
            ref = np.fromfile(sys.argv[1], dtype="<i2").astype(np.float64)
            deg = np.fromfile(sys.argv[2], dtype="<i2").astype(np.float64)
            if deg_rate != rate:
                g = np.gcd(rate, deg_rate)
                deg = scipy.signal.resample_poly(deg, rate // g, deg_rate // g)
            n = min(len(ref), len(deg))
            print(pesq(rate, ref[:n], deg[:n], "nb" if rate == 8000 else "wb"))
            """
        let run = try CommandRunner.run(
            python, ["-c", script, directory + "/ref.raw", directory + "/deg.raw", String(rate), String(degradedRate ?? rate)])
        guard run.status == 0, let value = Double(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Failure(description: "pesq failed (\(run.status)): \(run.stderr)")
        }
        return value
    }

    private static func write(_ samples: [Int16], to path: String) throws {
        let bytes = samples.withUnsafeBufferPointer { Data(buffer: $0) }
        try bytes.write(to: URL(fileURLWithPath: path))
    }
}
