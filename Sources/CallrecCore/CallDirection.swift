/// Which way a call goes, seen from the site callrec records for.
public enum CallDirection: String, Sendable, Equatable, CaseIterable, Codable {
    /// A remote party called a local one.
    case inbound
    /// A local party called a remote one.
    case outbound
    /// Both parties are local.
    case `internal`
    /// Neither party is known to be local, no local parties are configured,
    /// or the parties are unknown (a call without signalling).
    case unknown
}
