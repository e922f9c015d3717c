import Hummingbird
import NIOCore

/// The request context of `serve`: Hummingbird's, plus the peer's address
/// (what failed logins are counted by, and what the audit log names).
package struct ServeContext: RequestContext, RemoteAddressRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let remoteAddress: SocketAddress?

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Forms are small (a login is two fields); nothing larger is read.
    package var maxUploadSize: Int { 16 * 1024 }

    /// `127.0.0.1`, `::1`, or `unknown` (the router test framework has no socket).
    package var peer: String {
        guard let remoteAddress else { return "unknown" }
        return remoteAddress.ipAddress ?? "unknown"
    }
}
