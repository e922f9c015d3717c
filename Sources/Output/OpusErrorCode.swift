import COpus

/// A libopus error code with the library's own text.
public struct OpusErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let ok = OpusErrorCode(rawValue: OPUS_OK)
    public static let badArgument = OpusErrorCode(rawValue: OPUS_BAD_ARG)
    public static let bufferTooSmall = OpusErrorCode(rawValue: OPUS_BUFFER_TOO_SMALL)
    public static let internalError = OpusErrorCode(rawValue: OPUS_INTERNAL_ERROR)

    /// `opus_strerror` of the code.
    public var description: String { String(cString: opus_strerror(rawValue)) }
}
