import Foundation

/// Finds the repository's own fixtures and the shared test data by path,
/// relative to this source file, so tests run from any working directory.
public enum FixturePaths {
    /// The repository root (the folder holding Package.swift).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        // Sources/CallrecTestSupport/FixturePaths.swift -> repository root
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A file in Fixtures/.
    public static func fixture(_ name: String) -> String {
        repositoryRoot + "/Fixtures/" + name
    }

    /// A file under ../shared/data/ (the team's external test data).
    public static func shared(_ relative: String) -> String {
        repositoryRoot + "/../shared/data/" + relative
    }

    /// Whether the shared data folder is present on this machine.
    public static var hasSharedData: Bool {
        FileManager.default.fileExists(atPath: shared("README.md"))
    }

    /// A new empty temporary folder. It lives under one folder per test
    /// process, removed when the process exits; folders left by processes
    /// that died are removed by the next run.
    public static func temporaryDirectory(_ label: String = "callrec-test") -> String {
        let path = scratchRoot + "/\(label)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// This process's scratch folder, `$TMPDIR/callrec-scratch-<pid>`.
    private static let scratchRoot: String = {
        let base = NSTemporaryDirectory()
        removeAbandonedScratch(in: base)
        let root = base + "callrec-scratch-\(getpid())"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit {
            try? FileManager.default.removeItem(atPath: FixturePaths.scratchRootPath())
        }
        return root
    }()

    /// The scratch root's path, computable from a C exit handler (no captures).
    private static func scratchRootPath() -> String {
        NSTemporaryDirectory() + "callrec-scratch-\(getpid())"
    }

    /// Removes scratch folders whose process no longer runs.
    private static func removeAbandonedScratch(in base: String) {
        let prefix = "callrec-scratch-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: base + name)
            }
        }
    }

    /// The built `callrec` binary, for CLI tests (debug build folder next to the test bundle).
    public static var callrecBinary: String {
        let bundle = Bundle.main.bundleURL
        let candidates = [
            bundle.appendingPathComponent("callrec").path,
            bundle.deletingLastPathComponent().appendingPathComponent("callrec").path,
            repositoryRoot + "/.build/debug/callrec",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }
}
