/// Where a `ByteStreamTransform` puts the bytes it produces: the file as
/// stored on disk. Output's `AtomicFile` provides it (with its temporary
/// name, sync, rename and disk-full retry); a test or an in-memory encoder
/// can provide one over an array.
public protocol StoredBytesOutput: AnyObject {
    /// Appends `bytes` after the last byte stored so far.
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Writes `bytes` at `offset` from the start of what is stored. The
    /// offset may lie past the end: the gap reads as zeros until written
    /// (a sealed file reserves the place of a chunk it seals last).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws
}

/// A change between the bytes a writer produces (the content: Ogg pages,
/// JSON, WAV) and the bytes a file stores, such as sealing (Sealing's
/// `AgeWriter`). The file layer drives it and nothing reaches the disk except
/// through it:
///
/// - `begin` once, when the file is opened (a sealed file writes its header);
/// - `append` for every write of content;
/// - `overwrite` for a write into content already appended (a header whose
///   length is known only at the end);
/// - `finish` once, before the file is synced (a sealed file seals its last chunk).
///
/// A transform is one file's: it is not reused, and it may keep up to a
/// bounded amount of content in memory between calls.
///
/// Stage modules never import each other: Output takes any transform through
/// this protocol and never imports Sealing; the module that wires them
/// (Pipeline, the command line) makes the transform and hands it over.
public protocol ByteStreamTransform: AnyObject {
    /// What the file's name gets after its own extension, e.g. `.age`
    /// (`<id>.opus` becomes `<id>.opus.age`). Applied by whoever names the file.
    var fileNameSuffix: String { get }

    /// Writes what precedes the content.
    func begin(into output: any StoredBytesOutput) throws

    /// Takes `content`, the next bytes after those appended so far.
    func append(_ content: UnsafeRawBufferPointer, into output: any StoredBytesOutput) throws

    /// Replaces content bytes already appended, from `offset` (counted in
    /// content bytes from 0). A transform throws when it has already stored
    /// those bytes in a form it cannot rewrite; the error names the offset.
    func overwrite(_ content: UnsafeRawBufferPointer, at offset: Int64, into output: any StoredBytesOutput) throws

    /// Writes the rest; no content comes after.
    func finish(into output: any StoredBytesOutput) throws
}

/// Bytes that can be read at any offset, such as a sealed file's content
/// (Sealing's `AgeFileReader`, which decrypts only the chunks a read spans).
/// Output's readers take one through this protocol, so a sealed recording is
/// decoded (exported as WAV, played) without its plaintext reaching the disk
/// and without Output importing Sealing.
public protocol RandomAccessByteSource: AnyObject {
    /// The content's length in bytes.
    var contentSize: Int64 { get }
    /// Copies content from `offset` into `buffer`; short only at the end
    /// (as `pread`), 0 at or past it.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int
}
