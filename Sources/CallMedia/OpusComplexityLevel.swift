import Synchronization

/// The Opus complexity every call's encoder uses from its next frame: the
/// live recorder lowers it step by step when its workers fall behind and
/// raises it again when they have caught up (`Recorder`, "overload").
/// Shared by every call through `ConvertOptions.opusComplexity`; each
/// recording reads it once per 20 ms frame (one relaxed atomic load) and
/// notes in its index when it changed. Convert never sets one: its files
/// are always encoded at the configured complexity.
public final class OpusComplexityLevel: Sendable {
    private let level: Atomic<Int>

    /// A level starting at `complexity` (0 to 10).
    public init(_ complexity: Int) {
        level = Atomic(complexity)
    }

    /// The complexity the next frame is encoded with.
    public var current: Int {
        level.load(ordering: .relaxed)
    }

    /// Sets the complexity for every call's next frame.
    public func set(_ complexity: Int) {
        level.store(complexity, ordering: .relaxed)
    }
}
