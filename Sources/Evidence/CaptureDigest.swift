import CallrecCore
import Crypto

/// The SHA-256 of a capture file, computed from the bytes the capture reader
/// reads as it reads them (a `ByteStreamObserver`), so a capture is read
/// once, whatever its size. The manifest of each recording made from the
/// file names it.
public final class CaptureDigest: ByteStreamObserver {
    private var hasher = SHA256()
    /// Bytes seen so far.
    public private(set) var bytes: Int64 = 0

    public init() {}

    public func observe(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        self.bytes += Int64(bytes.count)
    }

    /// The SHA-256 of every byte seen, as 64 lowercase hex digits.
    public func finalize() -> String {
        Hex.lowercase(hasher.finalize())
    }
}
