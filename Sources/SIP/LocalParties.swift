import CallrecCore


/// The site's own parties: numbers, number prefixes and SIP domains. A party
/// (the From or To of the initial INVITE) is local when its user part is one
/// of `numbers` or starts with one of `prefixes`, or when its host is one of
/// `domains` or a subdomain of one (an IP address host matches only itself).
///
/// Numbers are compared as written, after removing the visual separators of
/// RFC 3966 (`-`, `.`, `(`, `)`) and spaces: `+46 8-123 45` is `+46812345`,
/// which is not `0812345`. Domains are compared case-insensitively.
public struct LocalParties: Sendable, Equatable {
    /// Local numbers, normalised.
    public private(set) var numbers: Set<String>
    /// Local number prefixes, normalised.
    public private(set) var prefixes: [String]
    /// Local domains, lowercased, without a leading dot.
    public private(set) var domains: [String]

    public init(numbers: [String] = [], prefixes: [String] = [], domains: [String] = []) {
        self.numbers = Set(numbers.map(LocalParties.normalize(number:)).filter { !$0.isEmpty })
        self.prefixes = prefixes.map(LocalParties.normalize(number:)).filter { !$0.isEmpty }
        self.domains = domains.map { domain in
            var d = Substring(domain.lowercased())
            while d.first == "." { d.removeFirst() }
            return String(d)
        }.filter { !$0.isEmpty }
    }

    /// `number` without visual separators and spaces.
    public static func normalize(number: String) -> String {
        String(number.filter { !"-.() \t".contains($0) })
    }

    /// Whether `party` is one of the site's own.
    public func isLocal(_ party: SIPAddress) -> Bool {
        if let user = party.user {
            let number = LocalParties.normalize(number: user)
            if numbers.contains(number) || prefixes.contains(where: { number.hasPrefix($0) }) { return true }
        }
        if let host = party.host?.lowercased(), !host.isEmpty {
            // A name matches its subdomains too; an address literal only itself.
            let isAddress = IPAddress(host) != nil
            return domains.contains { host == $0 || (!isAddress && host.hasSuffix("." + $0)) }
        }
        return false
    }

    /// The direction of a call from `caller` to `callee`.
    public func direction(caller: SIPAddress?, callee: SIPAddress?) -> CallDirection {
        let callerLocal = caller.map(isLocal) ?? false
        let calleeLocal = callee.map(isLocal) ?? false
        switch (callerLocal, calleeLocal) {
        case (true, true): return .internal
        case (true, false): return .outbound
        case (false, true): return .inbound
        case (false, false): return .unknown
        }
    }
}
