import Catalog

/// How `callrec serve` runs: where it listens, how long sessions last.
public struct ServeOptions: Sendable {
    /// The address to bind (loopback unless told otherwise).
    public var host: String
    public var port: Int
    /// Sessions end after this many seconds without a request...
    public var idleTimeout: Double
    /// ...and this many seconds after login, whichever comes first.
    public var absoluteTimeout: Double
    /// The cookie carries `Secure` (under TLS, or behind a TLS reverse proxy).
    public var secureCookies: Bool
    /// Serve HTTPS with this certificate chain and private key (PEM files; the key readable by its owner only).
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// Newest-first page size of "my latest calls" and the default of `/api/calls`.
    public var pageSize: Int
    /// log2 of scrypt's N for the keys of users an admin adds or gives a new
    /// password on the users page (`catalog users add`'s; tests use less).
    public var keyWorkFactor: Int = 18
    /// The roles that must give a reason to download a call (`--download-reason`;
    /// by default supervisors and admins, who download calls of others).
    public var downloadReasonRoles: Set<Role> = [.supervisor, .admin]

    public init(
        host: String = "127.0.0.1", port: Int = 8080, idleTimeout: Double = 30 * 60, absoluteTimeout: Double = 12 * 3600,
        secureCookies: Bool = false, tlsCertificate: String? = nil, tlsKey: String? = nil, pageSize: Int = 50
    ) {
        self.tlsCertificate = tlsCertificate
        self.tlsKey = tlsKey
        self.host = host
        self.port = port
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.secureCookies = secureCookies
        self.pageSize = pageSize
    }
}
