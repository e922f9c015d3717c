import CallrecCore

/// One captured frame as the capture source delivers it. `bytes` borrows the
/// source's buffer and is valid only until the source reads the next packet.
public struct RawPacket {
    /// When the packet was captured.
    public var timestamp: MediaTime
    /// The captured bytes (possibly fewer than `originalLength` when the
    /// capture used a snap length).
    public var bytes: UnsafeRawBufferPointer
    /// The length of the packet on the wire.
    public var originalLength: Int
    /// The link-layer header type of `bytes`.
    public var linkType: LinkType
    /// 1-based packet number within the capture, as Wireshark numbers frames.
    public var number: Int

    public init(timestamp: MediaTime, bytes: UnsafeRawBufferPointer, originalLength: Int, linkType: LinkType, number: Int) {
        self.timestamp = timestamp
        self.bytes = bytes
        self.originalLength = originalLength
        self.linkType = linkType
        self.number = number
    }
}
