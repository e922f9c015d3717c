import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for a test, so a full disk (`ENOSPC`) is real and
/// deterministic: fill it, watch writers wait or fail, free it again.
/// Needs the right to mount (root, or CAP_SYS_ADMIN); `make()` returns nil
/// where there is none, and the tests that need it are skipped.
public final class TinyDisk: @unchecked Sendable {
    // SAFETY: a test fills and frees from one thread at a time (another thread may free after a delay).

    /// Where it is mounted.
    public let path: String
    private var filler = 0

    /// Whether this process may mount a tmpfs (checked once).
    public static let available: Bool = {
        guard let disk = TinyDisk.make(kilobytes: 64) else { return false }
        disk.unmount()
        return true
    }()

    /// Mounts a tmpfs of `kilobytes` in a new temporary folder; nil when mounting is not allowed here.
    public static func make(kilobytes: Int) -> TinyDisk? {
        let path = FixturePaths.temporaryDirectory("callrec-tiny-disk")
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path]) else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        return TinyDisk(path: path)
    }

    private init(path: String) {
        self.path = path
    }

    deinit {
        unmount()
    }

    /// Fills the disk to the last byte with filler files (kept until `free()`).
    public func fill() {
        var chunk = [UInt8](repeating: 0xA5, count: 4096)
        while true {
            filler += 1
            let fd = open(path + "/.filler-\(filler)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { return }
            var full = false
            while !full {
                let n = chunk.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                full = n < chunk.count
            }
            close(fd)
            // A last small file takes the partial block left over.
            if chunk.count == 1 { return }
            chunk = [UInt8](repeating: 0xA5, count: 1)
        }
    }

    /// Removes the filler: the space is back.
    public func free() {
        for k in 0...filler { unlink(path + "/.filler-\(k)") }
        filler = 0
    }

    /// Unmounts it and removes the folder.
    public func unmount() {
        guard FileManager.default.fileExists(atPath: path) else { return }
        _ = TinyDisk.run("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func run(_ tool: String, _ arguments: [String]) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: tool) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return false
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
