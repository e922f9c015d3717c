import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import CatalogPostgres
import Conversion
import Foundation
import HTTPTypes
import Hummingbird
import Keyring
import NIOCore
import Sealing
import Serve
import Testing

/// A recording site for the serve tests: a catalog with users (agents alice
/// and bob in team sales, carol in support, sam supervising sales, admin
/// ada), one generated call of each agent with an outside number, converted
/// sealed by the real converter, and the server over it. The catalog is
/// SQLite (`OUT/catalog.sqlite`) or a database of its own on the test
/// PostgreSQL server.
final class ServeSite: @unchecked Sendable {
    static let workFactor = 10
    static let admin = CatalogActor.operator("test")
    static let numbers = ["alice": "+46700000001", "bob": "+46700000002", "carol": "+46700000003"]
    static let outside = "+4631555000"

    let out: String
    let catalog: CatalogStore
    let compliance = X25519Identity()
    /// The recording id of each agent's call.
    private(set) var calls: [String: String] = [:]

    init(sealed: Bool = true, backend: CatalogBackend = .sqlite, rules: [RecordingRule] = []) throws {
        out = FixturePaths.temporaryDirectory("serve-site")
        let location = try backend.newCatalog(folder: out)
        catalog = try Self.open(location, backend: backend, folder: out)
        try addUser("alice", .agent, team: "sales", numbers: [Self.numbers["alice"]!])
        try addUser("bob", .agent, team: "sales", numbers: [Self.numbers["bob"]!])
        try addUser("carol", .agent, team: "support", numbers: [Self.numbers["carol"]!])
        try addUser("sam", .supervisor, team: "sales")
        try addUser("ada", .admin)
        for rule in rules { try catalog.addRule(rule, by: Self.admin, at: 1) }
        var options = ConvertOptions(outputDirectory: out)
        if sealed { options.complianceRecipients = [compliance.recipient.description] }
        for (seed, agent) in ["alice", "bob", "carol"].enumerated() {
            var call = SyntheticCall()
            call.callerNumber = Self.outside
            call.calleeNumber = Self.numbers[agent]!
            call.callID = "serve-\(agent)@example.com"
            call.seed = UInt64(seed + 1)
            call.duration = 4
            var impairments = LegImpairments()
            impairments.events = [(digit: 5, at: 1.0, duration: 0.2)]
            call.callerImpairments = impairments
            let capture = try TemporaryFile.write(call.build().pcap)
            let result = try Converter(options: options, catalog: catalog).convert(path: capture, diagnostics: Diagnostics())
            if let error = result.error { throw CatalogError(.io, error) }
            calls[agent] = try #require(result.recordings.first).id
        }
    }

    /// The catalog as `callrec serve` opens it: on PostgreSQL, with a viewer
    /// role of its own (`catalog viewer-role`) that every user's search and
    /// call reads through, under row-level security.
    static func open(_ location: String, backend: CatalogBackend, folder: String) throws -> CatalogStore {
        let owner = try CatalogStore.open(location, folder: folder)
        guard backend == .postgres else { return owner }
        let database = PostgresServer.databaseName(of: location)
        let role = "serve_" + database
        try #require(owner.database as? PostgresCatalogDatabase).grantViewer(role: role)
        let viewer = try PostgresServer.shared().url(database: database, user: role)
        let store = try CatalogStore.open(location, folder: folder, storage: owner.storage, viewer: viewer)
        #expect(store.viewerDatabase != nil)
        return store
    }

    func addUser(_ name: String, _ role: Role, team: String? = nil, numbers: [String] = []) throws {
        let key = try UserKeys.newKey(password: try Passphrase(name + "-password"), workFactor: Self.workFactor)
        let user = CatalogUser(name: name, role: role, team: team, numbers: try numbers.map { try NumberPattern.parse($0) })
        try catalog.putUser(user, key: key, teamKeys: TeamKeys(), by: Self.admin, at: 1)
    }

    func server(_ options: ServeOptions = ServeOptions(), clock: TestClock? = nil) throws -> CallServer {
        guard let clock else { return try CallServer(catalog: catalog, options: options) }
        return try CallServer(catalog: catalog, options: options, clock: { clock.now })
    }

    /// The audio of `id` as the recording keys of `user` open it (what the server must send).
    func audio(_ id: String, as user: String) throws -> [UInt8] {
        let keys = try UserKeys.unlock(user, password: try Passphrase(user + "-password"), catalog: catalog, action: "test", target: nil, at: 2)
        let opened = try RecordingAccess.open(id: id, keys: keys, actor: .user(keys.user!), catalog: catalog, action: "test", reason: nil, at: 2)
        let source = try opened.audio()
        var bytes = [UInt8](repeating: 0, count: Int(source.contentSize))
        _ = try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
        return bytes
    }

    /// Audit rows of `actor` with `action`, as (outcome, target, detail).
    func audit(_ actor: String, _ action: String) throws -> [(outcome: String, target: String?, detail: String?)] {
        try catalog.auditLog(actorName: actor, limit: 10_000, by: Self.admin, at: 3).filter { $0.action == action }
            .map { ($0.outcome.rawValue, $0.target, $0.detail) }
    }
}

/// A clock the test moves.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var time: Double

    init(_ time: Double = 1_800_000_000) { self.time = time }

    var now: Double { lock.withLock { time } }
    func advance(_ seconds: Double) { lock.withLock { time += seconds } }
}

/// A browser's side of the conversation: the session cookie it was given.
struct Browser {
    let client: RouterClient
    var cookies: [String: String] = [:]

    init(_ client: RouterClient) { self.client = client }

    var cookieHeader: String { cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }

    /// Sends a request with the cookies held, and keeps those the response sets.
    @discardableResult
    mutating func send(_ uri: String, _ method: HTTPRequest.Method = .get, headers: HTTPFields = [:], form: String? = nil) async throws -> TestResponse {
        var headers = headers
        if !cookies.isEmpty { headers[.cookie] = cookieHeader }
        if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: form.map { ByteBuffer(string: $0) })
        for line in response.headers[values: .setCookie] {
            let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || line.lowercased().contains("max-age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return response
    }

    /// The hidden `csrf` field of a page.
    static func csrf(_ page: TestResponse) -> String? {
        let text = String(buffer: page.body)
        guard let range = text.range(of: #"name="csrf" value="[0-9a-f]{64}""#, options: .regularExpression) else { return nil }
        return String(text[range].dropLast().suffix(64))
    }

    /// Signs in as `user` through the login form; returns the POST's response.
    @discardableResult
    mutating func login(_ user: String, password: String? = nil) async throws -> TestResponse {
        let page = try await send("/login")
        let token = try #require(Self.csrf(page))
        return try await send("/login", .post, form: "user=\(user)&password=\(password ?? user + "-password")&csrf=\(token)")
    }

    var session: String? { cookies["callrec_session"] }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var bytes: [UInt8] { Array(buffer: body) }

    func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) }

    /// The ids of a `/api/calls` answer.
    func ids() throws -> [String] {
        try #require(try json() as? [[String: Any]]).compactMap { $0["id"] as? String }
    }
}
