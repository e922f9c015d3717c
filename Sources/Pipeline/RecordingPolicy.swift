import Catalog

/// Decides, when a call is first identified and before any of its audio is
/// decoded, whether to record it and how long to keep it. Convert uses the
/// catalog's recording rules (`RuleSet`); the live recorder will too.
public protocol RecordingPolicy: Sendable {
    /// The decision for one call.
    func decide(_ call: CallFacts) -> RuleDecision
}

extension RuleSet: RecordingPolicy {}

/// Records every call and keeps it for the default retention (no rules).
public struct RecordEverything: RecordingPolicy {
    /// The policy.
    public init() {}
    /// Record, for the default retention.
    public func decide(_ call: CallFacts) -> RuleDecision { .unmatched }
}
