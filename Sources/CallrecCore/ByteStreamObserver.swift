/// Sees every byte of an input as it is read, in order, once: what the
/// capture readers hand a digest (Evidence's `CaptureDigest`, the SHA-256 of
/// a capture file computed while it is read, never in a second pass).
///
/// Stage modules never import each other or the crypto library: Capture
/// takes any observer through this protocol, and the module that wires them
/// (Conversion) makes the digest and hands it over.
public protocol ByteStreamObserver: AnyObject {
    /// Takes the next `bytes` read from the input.
    func observe(_ bytes: UnsafeRawBufferPointer)
}

/// callrec's own version, as manifests and `--version` give it.
public enum CallrecVersion {
    /// `MAJOR.MINOR.PATCH`: the minor number counts the waves of work, the
    /// patch the releases within one.
    public static let current = "0.2.0"
}
