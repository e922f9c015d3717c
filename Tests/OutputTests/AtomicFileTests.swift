import CallrecTestSupport
import Foundation
import Output
import Testing

/// One writer per temporary name: two writers of the same recording at once
/// (two converters given copies of one call, into one shared folder) must
/// never share a temporary file — the second used to empty the first's and
/// write into it, and the first then published the mixture under its name.
/// The lock is `flock(2)` on the open file, so a second open in this process
/// is refused just as another process's is.
@Suite struct AtomicFileTests {
    @Test func aSecondWriterOfTheSameNameIsRefusedAndTouchesNothing() throws {
        let folder = FixturePaths.temporaryDirectory("atomic-lock")
        let first = try AtomicFile(directory: folder, name: "call.opus")
        try first.write(Array("first writer's bytes".utf8))
        #expect(throws: OutputError.self) { _ = try AtomicFile(directory: folder, name: "call.opus") }
        do {
            _ = try AtomicFile(directory: folder, name: "call.opus")
        } catch let error as OutputError {
            #expect(error.code == .busy && error.path == folder + "/.call.opus.partial", "\(error)")
        }
        // Still refused between sync (the data descriptor closed) and publish.
        try first.sync()
        #expect(throws: OutputError.self) { _ = try AtomicFile(directory: folder, name: "call.opus") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.temporaryPath)) == Data("first writer's bytes".utf8))
        try first.publish(replacing: false)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/call.opus")) == Data("first writer's bytes".utf8))

        // Once published, the name is free: a new writer gets a new temporary file, and cannot replace the recording.
        let second = try AtomicFile(directory: folder, name: "call.opus")
        try second.write(Array("second".utf8))
        try second.sync()
        #expect(throws: OutputError.self) { try second.publish(replacing: false) }
        second.discard()
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/call.opus")) == Data("first writer's bytes".utf8))
        #expect(!FileManager.default.fileExists(atPath: folder + "/.call.opus.partial"))
    }

    /// A temporary file a dead writer left (nobody holds its lock) is taken over, emptied.
    @Test func aLeftoverOfADeadWriterIsTakenOver() throws {
        let folder = FixturePaths.temporaryDirectory("atomic-leftover")
        #expect(FileManager.default.createFile(atPath: folder + "/.call.json.partial", contents: Data("left by a crash".utf8)))
        let file = try AtomicFile(directory: folder, name: "call.json")
        try file.write(Array("{}".utf8))
        try file.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/call.json")) == Data("{}".utf8))
    }

    /// A writer that gives up lets the next one have the name at once.
    @Test func discardingFreesTheName() throws {
        let folder = FixturePaths.temporaryDirectory("atomic-discard")
        let first = try AtomicFile(directory: folder, name: "call.opus")
        first.discard()
        let next = try AtomicFile(directory: folder, name: "call.opus")
        try next.write(Array("next".utf8))
        try next.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/call.opus")) == Data("next".utf8))
    }
}
