import Foundation

/// SHA-256 through coreutils' `sha256sum`, for comparing with published checksums.
public enum SHA256Sum {
    /// The SHA-256 of `bytes` in lowercase hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        let path = FixturePaths.temporaryDirectory("callrec-sha") + "/data"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sha256sum", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return "sha256sum unavailable" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(String(decoding: output, as: UTF8.self).prefix(64))
    }
}
