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

    /// A new empty temporary folder, removed by the caller when done.
    public static func temporaryDirectory(_ label: String = "callrec-test") -> String {
        let path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
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
