import Foundation

/// Golden files under Fixtures/golden/: deterministic outputs checked byte
/// for byte. Run the tests with `CALLREC_RECORD_GOLDEN=1` to rewrite them
/// after an intended change (and review the diff).
public enum GoldenFile {
    /// Whether this run rewrites golden files instead of checking them.
    public static var recording: Bool { ProcessInfo.processInfo.environment["CALLREC_RECORD_GOLDEN"] == "1" }

    /// The path of golden file `name`.
    public static func path(_ name: String) -> String { FixturePaths.fixture("golden/" + name) }

    /// The golden text of `name` (rewritten with `actual` when recording), or
    /// nil when the file does not exist.
    public static func expected(_ name: String, actual: String) -> String? {
        let path = path(name)
        if recording {
            try? FileManager.default.createDirectory(atPath: FixturePaths.fixture("golden"), withIntermediateDirectories: true)
            try? actual.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return try? String(contentsOfFile: path, encoding: .utf8)
    }
}
