/// Bounds-checked big-endian reads from raw packet bytes. Every read returns
/// nil past the end instead of trapping: packet bytes come from the network.
extension UnsafeRawBufferPointer {
    /// The byte at `offset`, or nil past the end.
    @inlinable @inline(__always)
    public func u8(at offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return self[offset]
    }

    /// The big-endian 16-bit value at `offset`, or nil if it does not fit.
    @inlinable @inline(__always)
    public func u16be(at offset: Int) -> UInt16? {
        guard offset >= 0, offset &+ 2 <= count else { return nil }
        return UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// The big-endian 32-bit value at `offset`, or nil if it does not fit.
    @inlinable @inline(__always)
    public func u32be(at offset: Int) -> UInt32? {
        guard offset >= 0, offset &+ 4 <= count else { return nil }
        return UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    /// The big-endian 64-bit value at `offset`, or nil if it does not fit.
    @inlinable @inline(__always)
    public func u64be(at offset: Int) -> UInt64? {
        guard let hi = u32be(at: offset), let lo = u32be(at: offset &+ 4) else { return nil }
        return UInt64(hi) << 32 | UInt64(lo)
    }

    /// The little-endian 16-bit value at `offset`, or nil if it does not fit.
    @inlinable @inline(__always)
    public func u16le(at offset: Int) -> UInt16? {
        guard offset >= 0, offset &+ 2 <= count else { return nil }
        return UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    /// The little-endian 32-bit value at `offset`, or nil if it does not fit.
    @inlinable @inline(__always)
    public func u32le(at offset: Int) -> UInt32? {
        guard offset >= 0, offset &+ 4 <= count else { return nil }
        return UInt32(self[offset]) | UInt32(self[offset + 1]) << 8
            | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }

    /// The bytes in `range` clamped to the buffer; empty if `range` starts past the end.
    @inlinable @inline(__always)
    public func slice(from start: Int, count length: Int) -> UnsafeRawBufferPointer? {
        guard start >= 0, length >= 0, start &+ length <= count else { return nil }
        return UnsafeRawBufferPointer(rebasing: self[start..<(start + length)])
    }

    /// The bytes from `start` to the end, or nil if `start` is past the end.
    @inlinable @inline(__always)
    public func suffix(from start: Int) -> UnsafeRawBufferPointer? {
        guard start >= 0, start <= count else { return nil }
        return UnsafeRawBufferPointer(rebasing: self[start...])
    }
}
