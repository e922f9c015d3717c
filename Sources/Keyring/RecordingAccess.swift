import CallrecCore
import Catalog
import Output
import Sealing

/// A recording opened for someone's keys: what `catalog show/export --as`
/// and `serve` read a recording through. Sealed files are decrypted as they
/// are read, only the chunks a read spans (`AgeFileReader`), so nothing of
/// the plaintext reaches the disk; files in the clear are read as they are.
///
/// ```swift
/// let keys = try UserKeys.unlock("alice", password: password, catalog: catalog, action: "play", target: id, at: now)
/// let recording = try RecordingAccess.open(id: id, keys: keys, catalog: catalog, action: "play", reason: nil, at: now)
/// let audio = try recording.audio()          // RandomAccessByteSource: the Ogg Opus bytes
/// let n = try audio.read(into: buffer, at: rangeStart)
/// ```
///
/// Not for concurrent use: open one per request or thread.
public final class OpenedRecording {
    /// The catalog row.
    public let recording: CatalogRecording
    /// Its files, in commit order (the audio first, the index last).
    public let files: [CatalogFile]
    /// The keys it was opened with.
    public let keys: RecordingKeys
    private let catalog: CatalogStore

    init(recording: CatalogRecording, files: [CatalogFile], keys: RecordingKeys, catalog: CatalogStore) {
        self.recording = recording
        self.files = files
        self.keys = keys
        self.catalog = catalog
    }

    /// Whether the recording's files are sealed.
    public var isSealed: Bool { files.first?.isSealed ?? false }

    /// The content of `file` (one of `files`), decrypted as it is read when sealed.
    /// - Throws: `SealingError` naming the file (a damaged chunk, a key that does not open it).
    public func content(of file: CatalogFile) throws -> any RandomAccessByteSource {
        let path = catalog.filePath(file.path)
        if file.isSealed { return try AgeFileReader(path: path, identities: keys.identities) }
        return try PlainFileSource(path: path)
    }

    /// The audio file's content: the first file (with `--channels split`, `file` 0 is the caller's, 1 the callee's).
    public func audio(file: Int = 0) throws -> any RandomAccessByteSource {
        precondition(file >= 0 && file < audioFiles.count, "audio file \(file) of \(audioFiles.count)")
        return try content(of: audioFiles[file])
    }

    /// The audio files (one, or one per party).
    public var audioFiles: [CatalogFile] {
        let ending = Self.ending(of: files.first?.path ?? "")
        return files.filter { Self.ending(of: $0.path) == ending }
    }

    /// The call index, decrypted (the DTMF digits are only here when sealed).
    public func index() throws -> CallIndex {
        guard let file = files.first(where: { $0.path == recording.indexPath }) ?? files.last else {
            throw CatalogError(.notFound, "recording \(recording.id) has no index file")
        }
        let source = try content(of: file)
        var bytes = [UInt8](repeating: 0, count: Int(source.contentSize))
        _ = try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
        do {
            return try CallIndex.decode(bytes)
        } catch {
            throw CatalogError(.damaged, "\(catalog.filePath(file.path)): the call index does not decode: \(error)")
        }
    }

    /// `.opus.age` of `2026/11/29/<id>-caller.opus.age`: what the audio files share.
    static func ending(of path: String) -> String {
        String((path.split(separator: "/").last ?? "").drop { $0 != "." })
    }
}

/// Opening recordings for someone's keys.
public enum RecordingAccess {
    /// Opens recording `id` for `keys`, acting as `actor` (the keys' user,
    /// or the operator holding key files): refused, and the refusal audited,
    /// when the recording is outside the actor's scope (as `catalog show`
    /// always did) or when it is sealed and none of the keys opens it. The
    /// caller audits what it then does.
    /// - Throws: `CatalogError(.refused)`, `.notFound`; `SealingError` for a damaged file.
    public static func open(
        id: String, keys: RecordingKeys, actor: CatalogActor, catalog: CatalogStore, action: String, reason: String?, at now: Double
    ) throws -> OpenedRecording {
        let recording = try catalog.authorizedRecording(id: id, action: action, by: actor, reason: reason, at: now)
        let files = try catalog.files(of: id, by: actor)
        let opened = OpenedRecording(recording: recording, files: files, keys: keys, catalog: catalog)
        if let audio = files.first, audio.isSealed {
            do {
                _ = try opened.content(of: audio)
            } catch let error as SealingError where error.code == .noMatch {
                let directory = try catalog.keyDirectory()
                try catalog.refuse(
                    actor, action: action, target: id, reason: reason, at: now,
                    because: "\(keys.owner) \(keys.isPlural ? "do" : "does") not open it (it is sealed to \(directory.describe(audio.sealedTo ?? [])))")
            }
        }
        return opened
    }
}

/// A file in the clear as a `RandomAccessByteSource` (`pread`).
final class PlainFileSource: RandomAccessByteSource {
    let contentSize: Int64
    private let fd: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        do throws(SystemError) {
            fd = try System.openForReading(path)
        } catch {
            throw CatalogError(.io, "\(path): cannot open: \(error)")
        }
        contentSize = System.size(fd) ?? 0
    }

    deinit { System.close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n: Int
            do throws(SystemError) {
                n = try System.read(fd, at: offset + Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            } catch {
                throw CatalogError(.io, "\(path): cannot read: \(error)")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
