import CallrecTestSupport
import Foundation
import Output
import Testing

/// Writing on a disk that fills up: with a `DiskSpaceWait` an `AtomicFile`
/// waits and goes on byte for byte; past the wait's limit, or without one,
/// it fails with `noSpace` and leaves nothing behind. The disk is a real
/// tmpfs filled to the last byte (the tests need the right to mount one).
@Suite(.enabled(if: TinyDisk.available, "needs the right to mount a tmpfs (root)"))
struct DiskFullTests {
    /// Records the wait's events.
    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var list: [DiskSpaceWait.Event] = []
        func add(_ event: DiskSpaceWait.Event) {
            lock.lock()
            list.append(event)
            lock.unlock()
        }
        var all: [DiskSpaceWait.Event] {
            lock.lock()
            defer { lock.unlock() }
            return list
        }
    }

    /// 300 KB that no two offsets share, so a byte written twice or skipped shows.
    static let pattern: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }

    @Test func aWriteWaitsForSpaceAndGoesOnWhereItStopped() throws {
        let disk = try #require(TinyDisk.make(kilobytes: 1024))
        let events = Events()
        let space = DiskSpaceWait(limit: 30, retryInterval: 0.05) { events.add($0) }
        let file = try AtomicFile(directory: disk.path + "/2026/11/29", name: "call.bin", space: space)
        try file.write(Array(Self.pattern.prefix(1000)))
        disk.fill()
        // Freed once the write has waited 0.3 s (by the wait's own clock), however late it began.
        DispatchQueue.global().async {
            let deadline = Date().addingTimeInterval(10)
            while (space.fullSince?.seconds ?? 0) < 0.3 && Date() < deadline { usleep(1000) }
            disk.free()
        }
        try Self.pattern.dropFirst(1000).withUnsafeBytes { try file.write($0) }
        try file.commit()
        let written = try Data(contentsOf: URL(fileURLWithPath: disk.path + "/2026/11/29/call.bin"))
        #expect(Array(written) == Self.pattern)
        #expect(events.all.count == 2)
        #expect(events.all.first == .full(path: file.temporaryPath, limit: 30))
        if case .resumed(let seconds) = events.all.last {
            #expect(seconds >= 0.3)
        } else {
            Issue.record("no resumed event: \(events.all)")
        }
    }

    @Test func pastTheLimitTheWriteFailsAndNothingIsLeft() throws {
        let disk = try #require(TinyDisk.make(kilobytes: 1024))
        let events = Events()
        let space = DiskSpaceWait(limit: 0.3, retryInterval: 0.05) { events.add($0) }
        let file = try AtomicFile(directory: disk.path, name: "call.bin", space: space)
        disk.fill()
        #expect(throws: OutputError.self) { try Self.pattern.withUnsafeBytes { try file.write($0) } }
        #expect(space.gaveUp)
        if case .gaveUp = events.all.last {} else { Issue.record("no gave-up event: \(events.all)") }
        // Later writers do not wait at all once the wait has given up.
        let started = Date()
        let other = try AtomicFile(directory: disk.path, name: "other.bin", space: space)
        #expect(throws: OutputError.self) { try other.write(Self.pattern) }
        #expect(Date().timeIntervalSince(started) < 0.2)
        file.discard()
        other.discard()
        disk.free()
        let left = try FileManager.default.contentsOfDirectory(atPath: disk.path)
        #expect(left.isEmpty, "\(left)")
    }

    @Test func withoutAWaitAFullDiskFailsAtOnce() throws {
        let disk = try #require(TinyDisk.make(kilobytes: 256))
        let file = try AtomicFile(directory: disk.path, name: "call.bin")
        disk.fill()
        do {
            try file.write(Self.pattern)
            Issue.record("the write should have failed")
        } catch let error as OutputError {
            #expect(error.code == .noSpace)
            #expect(error.description.contains(".call.bin.partial: cannot write: No space left on device"))
        }
    }

    @Test func cancelEndsAWaitInProgress() throws {
        let disk = try #require(TinyDisk.make(kilobytes: 256))
        let space = DiskSpaceWait(limit: 60, retryInterval: 10)
        let file = try AtomicFile(directory: disk.path, name: "call.bin", space: space)
        disk.fill()
        // Cancelled once the write is waiting (the wait says so), not after a guessed interval.
        DispatchQueue.global().async {
            let deadline = Date().addingTimeInterval(10)
            while space.fullSince == nil && Date() < deadline { usleep(1000) }
            space.cancel()
        }
        let started = Date()
        #expect(throws: OutputError.self) { try file.write(Self.pattern) }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
