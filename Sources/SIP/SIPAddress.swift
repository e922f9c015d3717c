/// A SIP name-address as it appears in From and To:
/// `"Alice" <sip:+4681234@example.com;user=phone>;tag=1928301774`.
public struct SIPAddress: Sendable, Equatable {
    /// The display name without quotes, if any.
    public var displayName: String?
    /// The URI inside the angle brackets (or the whole addr-spec).
    public var uri: String
    /// The user part of a sip:/sips: URI, or the number of a tel: URI.
    public var user: String?
    /// The host part of a sip:/sips: URI.
    public var host: String?
    /// The `tag` parameter of the header.
    public var tag: String?

    /// Parses the value of a From or To header. Returns nil when it has no URI.
    public init?(header value: String) {
        var rest = Substring(value)
        var display: String? = nil
        var uriText: Substring
        var params: Substring = ""
        if let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let name = rest[..<open].trimmingSpaces()
            if !name.isEmpty {
                display = name.hasPrefix("\"") && name.hasSuffix("\"") && name.count >= 2
                    ? String(name.dropFirst().dropLast()) : name
            }
            uriText = rest[rest.index(after: open)..<close]
            params = rest[rest.index(after: close)...]
        } else {
            // addr-spec without brackets: header parameters follow the first ';'.
            if let semi = rest.firstIndex(of: ";") {
                uriText = rest[..<semi]
                params = rest[semi...]
            } else {
                uriText = rest
            }
            rest = ""
        }
        let uri = uriText.trimmingSpaces()
        guard !uri.isEmpty else { return nil }
        self.displayName = display
        self.uri = uri
        self.tag = nil
        for param in params.split(separator: ";") {
            let kv = param.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingSpaces().lowercased() == "tag" {
                tag = kv[1].trimmingSpaces()
            }
        }
        let lower = uri.lowercased()
        if lower.hasPrefix("sip:") || lower.hasPrefix("sips:") {
            let afterScheme = uri[uri.index(after: uri.firstIndex(of: ":")!)...]
            let beforeParams = afterScheme.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if let at = beforeParams.lastIndex(of: "@") {
                let userInfo = beforeParams[..<at]
                user = String(userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                let hostPort = beforeParams[beforeParams.index(after: at)...]
                host = SIPAddress.hostOnly(hostPort)
            } else {
                user = nil
                host = SIPAddress.hostOnly(beforeParams)
            }
        } else if lower.hasPrefix("tel:") {
            let number = uri.dropFirst(4).split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            user = String(number)
            host = nil
        } else {
            user = nil
            host = nil
        }
        if user?.isEmpty == true { user = nil }
    }

    static func hostOnly(_ hostPort: Substring) -> String {
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            return String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
        }
        return String(hostPort.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// The party as callrec reports it: the user part (a number or a name),
    /// or else the host, or else the whole URI.
    public var party: String {
        user ?? host ?? uri
    }
}
