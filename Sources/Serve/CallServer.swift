import CallrecCore
import Catalog
import Evidence
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Keyring
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Output
import Sealing

/// `callrec serve`: the catalog's users sign in with their password, see the
/// calls they may see, and listen to them in the browser. The pages are
/// rendered here (`Pages`); the one script (`Assets.script`) draws the
/// waveforms and drives the player through the JSON API below. Everything a
/// user does with a recording, and every refusal, is an audit row, in the
/// same log as the catalog commands'.
///
/// Routes (docs/SERVE.md): `GET /login`, `POST /login`, `POST /logout`,
/// `GET /`, `GET /calls/{id}`, `GET /calls/{id}/audio`, `GET /api/calls`,
/// `GET /api/calls/{id}`, `GET /api/calls/{id}/peaks`, `GET /static/…`.
public final class CallServer: Sendable {
    public let catalog: CatalogStore
    public let options: ServeOptions
    package let sessions: SessionStore
    package let throttle = LoginThrottle()
    let pages: Pages
    /// Where logins check passwords: two at a time at most (scrypt takes
    /// 256 MiB and about a second each), off the event loops.
    private let loginPool: NIOThreadPool
    /// Catalog queries and file reads (blocking calls), off the event loops.
    private let workPool: NIOThreadPool
    /// The session cookie.
    static let cookieName = "callrec_session"
    /// The login form's CSRF cookie (before there is a session).
    static let loginCookieName = "callrec_login"
    /// Longest query string accepted (414 past it) and longest value of one field (400 past it).
    static let maximumQueryLength = 2048
    static let maximumFieldLength = 256

    /// The time, Unix seconds.
    let clock: @Sendable () -> Double

    public init(catalog: CatalogStore, options: ServeOptions, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.clock = clock
        self.catalog = catalog
        self.options = options
        sessions = SessionStore(idleTimeout: options.idleTimeout, absoluteTimeout: options.absoluteTimeout)
        pages = try Pages()
        loginPool = NIOThreadPool(numberOfThreads: 2)
        loginPool.start()
        workPool = NIOThreadPool.singleton
    }

    deinit { loginPool.shutdownGracefully { _ in } }

    /// The application: the router with every route, bound to `options`' address, over TLS when a certificate is given.
    /// - Throws: `ServeSetupError` for a certificate or key that cannot be read.
    public func application(logger: Logger? = nil) throws -> some ApplicationProtocol {
        var log = logger ?? Logger(label: "callrec.serve")
        if logger == nil { log.logLevel = .warning }
        var server: HTTPServerBuilder = .http1()
        if let certificate = options.tlsCertificate, let key = options.tlsKey {
            server = try .tls(.http1(), tlsConfiguration: try Self.tlsConfiguration(certificate: certificate, key: key))
        }
        return Application(
            router: router(), server: server, configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            logger: log)
    }

    /// The TLS configuration of `certificate` (a PEM chain) and `key` (a PEM private key that only its owner may read).
    static func tlsConfiguration(certificate: String, key: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw ServeSetupError("\(certificate): not a PEM certificate chain: \(error)")
        }
        let keyText: String
        do {
            keyText = try KeyFile.readPrivate(key)
        } catch {
            throw ServeSetupError("\(error)")
        }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyText.utf8), format: .pem)
        } catch {
            throw ServeSetupError("\(key): not a PEM private key: \(error)")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
    }

    /// Every route, behind the middleware that sets the security headers and turns errors into pages.
    package func router() -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.add(middleware: SecurityHeaders())
        router.get("/static/app.js") { _, _ in Self.asset(Assets.script, type: "text/javascript; charset=utf-8") }
        router.get("/static/app.css") { _, _ in Self.asset(Assets.style, type: "text/css; charset=utf-8") }
        // Browsers ask for it on every page; there is none.
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        router.get("/login") { request, context in try await self.loginPage(request, context) }
        router.post("/login") { request, context in try await self.login(request, context) }
        router.post("/logout") { request, context in try await self.logout(request, context) }
        router.get("/") { request, context in try await self.latestCalls(request, context) }
        router.get("/calls/:id") { request, context in try await self.callPage(request, context) }
        router.get("/calls/:id/audio") { request, context in try await self.audio(request, context) }
        router.get("/calls/:id/download") { request, context in try await self.download(request, context) }
        router.post("/calls/:id/notes") { request, context in try await self.addNote(request, context) }
        router.post("/calls/:id/tags") { request, context in try await self.setTag(request, context) }
        router.post("/calls/:id/keep") { request, context in try await self.keep(request, context) }
        router.post("/calls/:id/discard") { request, context in try await self.discard(request, context) }
        router.get("/rules") { request, context in try await self.rulesPage(request, context) }
        router.get("/admin/audit") { request, context in try await self.auditPage(request, context, api: false) }
        router.get("/api/audit") { request, context in try await self.auditPage(request, context, api: true) }
        router.get("/api/calls") { request, context in try await self.apiCalls(request, context) }
        router.get("/api/calls/:id") { request, context in try await self.apiCall(request, context) }
        router.get("/api/calls/:id/peaks") { request, context in try await self.apiPeaks(request, context) }
        addAdminRoutes(router)
        return router
    }

    // MARK: - Sessions

    /// The request's live session, or nil.
    func session(_ request: Request) -> ServeSession? {
        guard let id = request.cookies[Self.cookieName]?.value else { return nil }
        return sessions.session(id: id, at: self.now())
    }

    /// No session: the API answers 401, a page sends the browser to the login form.
    static func unauthenticated(api: Bool) -> Response {
        if api { return json(status: .unauthorized, ["error": "not signed in (POST /login)"]) }
        return redirect("/login")
    }

    func loginPage(_ request: Request, _ context: ServeContext) async throws -> Response {
        loginForm(status: .ok, message: nil, user: "")
    }

    /// The login form with a fresh CSRF token, in its hidden field and in a cookie of its own (compared at POST).
    func loginForm(status: HTTPResponse.Status, message: String?, user: String) -> Response {
        let token = SessionStore.randomToken()
        var response = html(status: status, pages.login(csrf: token, message: message, user: user))
        response.setCookie(cookie(Self.loginCookieName, token, path: "/login"))
        return response
    }

    func cookie(_ name: String, _ value: String, path: String = "/", maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: options.secureCookies, httpOnly: true, sameSite: .strict)
    }

    struct LoginForm: Decodable {
        var user: String?
        var password: String?
        var csrf: String?
    }

    func login(_ request: Request, _ context: ServeContext) async throws -> Response {
        var request = request
        let form = try await Self.form(LoginForm.self, &request, context)
        let peer = context.peer
        let now = self.now()
        guard let token = form?.csrf, let expected = request.cookies[Self.loginCookieName]?.value, SessionStore.isWellFormed(expected),
            SessionStore.same(token, expected)
        else {
            try await blocking {
                try self.catalog.audit(
                    "login", target: nil, outcome: .refused, by: .operator("serve"), at: now, detail: "from \(peer): missing or wrong CSRF token")
            }
            return loginForm(status: .forbidden, message: "The form had expired. Please sign in again.", user: "")
        }
        let name = String((form?.user ?? "").prefix(Self.maximumFieldLength))
        let password = form?.password ?? ""
        guard !name.isEmpty, !password.isEmpty, password.utf8.count <= 1024 else {
            return loginForm(status: .unauthorized, message: "Give your user name and password.", user: name)
        }
        let wait = throttle.wait(user: name, address: peer, at: now)
        if wait > 0 {
            try await blocking {
                try self.catalog.audit(
                    "login", target: "user \(name)", outcome: .refused, by: .operator("serve"), at: now,
                    detail: "from \(peer): too many failed logins; next attempt in \(Int(wait.rounded(.up))) s")
            }
            var response = loginForm(
                status: .tooManyRequests, message: "Too many failed attempts. Try again in \(Int(wait.rounded(.up))) seconds.", user: name)
            response.headers[.retryAfter] = String(Int(wait.rounded(.up)))
            return response
        }
        let keys: RecordingKeys
        do {
            keys = try await loginPool.runIfActive {
                try UserKeys.unlock(
                    name, password: try Passphrase(password), catalog: self.catalog, action: "login", target: "user \(name)", reason: nil, at: now)
            }
        } catch let error as CatalogError where error.code == .refused || error.code == .notFound || error.code == .invalid {
            // A wrong password was audited by unlock; an unknown user or one without a password is audited here.
            if error.code != .refused {
                await decoyCheck(password)
                try await blocking {
                    try self.catalog.audit(
                        "login", target: "user \(name)", outcome: .refused, by: .operator("serve"), at: now,
                        detail: "from \(peer): \(error.code == .notFound ? "no such user" : "the user has no password")")
                }
            }
            throttle.failed(user: name, address: peer, at: now)
            return loginForm(status: .unauthorized, message: "Wrong user name or password.", user: name)
        }
        throttle.succeeded(user: name, address: peer)
        // Always a new id: whatever session cookie came with the request is not carried over (session fixation).
        if let old = request.cookies[Self.cookieName]?.value { sessions.end(id: old) }
        let session = sessions.create(user: keys.user!, keys: keys, at: now)
        try await blocking {
            try self.catalog.audit("login", target: "user \(name)", outcome: .done, by: session.actor, at: now, detail: "from \(peer)")
        }
        var response = Self.redirect("/")
        response.setCookie(cookie(Self.cookieName, session.id))
        response.setCookie(cookie(Self.loginCookieName, "", path: "/login", maxAge: 0))
        return response
    }

    /// Spends on a name that has no key the scrypt work a real password
    /// check costs (a user's own key is the yardstick), so that the time of
    /// the answer does not tell which names exist. The outcome is thrown away.
    func decoyCheck(_ password: String) async {
        _ = try? await loginPool.runIfActive {
            guard let name = try self.catalog.users().first(where: { $0.recipient != nil })?.name, let stored = try self.catalog.userKey(of: name)
            else { return }
            _ = try? X25519Identity(unsealing: stored.wrapped, with: [ScryptIdentity(passphrase: try Passphrase(password))])
        }
    }

    struct LogoutForm: Decodable { var csrf: String? }

    func logout(_ request: Request, _ context: ServeContext) async throws -> Response {
        var request = request
        guard let session = session(request) else { return Self.redirect("/login") }
        let form = try await Self.form(LogoutForm.self, &request, context)
        guard let token = form?.csrf, SessionStore.same(token, session.csrf) else {
            try await refuse(session, "logout", target: nil, because: "missing or wrong CSRF token")
            return html(status: .forbidden, pages.message(title: "Refused", text: "The form had expired; nothing was done.", session: session))
        }
        sessions.end(id: session.id)
        try await blocking { try self.catalog.audit("logout", target: nil, outcome: .done, by: session.actor, at: self.now()) }
        var response = Self.redirect("/login")
        response.setCookie(cookie(Self.cookieName, "", maxAge: 0))
        return response
    }

    // MARK: - Calls

    /// "My latest calls": the calls the user may see, newest first, with the search form.
    func latestCalls(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let search: CallSearch
        do {
            search = try CallSearch(queryString: request.uri.query, parameters: request.uri.queryParameters.map { (String($0.key), String($0.value)) }, pageSize: options.pageSize)
        } catch let error as CallSearch.Invalid {
            return html(status: error.status, pages.calls(session: session, search: nil, recordings: [], next: nil, error: error.message))
        }
        let recordings = try await find(search, session: session)
        let next = recordings.count == search.query.limit ? recordings.last.map(\.id) : nil
        return html(status: .ok, pages.calls(session: session, search: search, recordings: recordings, next: next, error: nil))
    }

    /// `GET /api/calls`: the same search as JSON, the fields of `catalog find --json`.
    func apiCalls(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: true) }
        let search: CallSearch
        do {
            search = try CallSearch(queryString: request.uri.query, parameters: request.uri.queryParameters.map { (String($0.key), String($0.value)) }, pageSize: options.pageSize)
        } catch let error as CallSearch.Invalid {
            return Self.json(status: error.status, ["error": error.message])
        }
        let recordings = try await find(search, session: session)
        return Self.json(status: .ok, recordings.map { RecordingJSON($0, store: catalog).forServe() })
    }

    /// The search, scoped to the user and audited (a search that meets calls outside the scope is audited as a refusal by `find`).
    func find(_ search: CallSearch, session: ServeSession) async throws -> [CatalogRecording] {
        try await blocking {
            let now = self.now()
            var query = search.query
            if let before = search.before {
                // The page after `before`: only when the user may see that call (else it is as unknown).
                guard let anchor = try self.catalog.recording(id: before, by: session.actor), try self.catalog.scope(of: session.actor).allows(anchor) else {
                    return []
                }
                query.after = RecordingCursor(anchor)
            }
            let result = try self.catalog.find(query, by: session.actor, at: now)
            try self.catalog.audit("find", target: nil, outcome: .done, by: session.actor, at: now, detail: "serve: " + search.summary)
            return result.recordings
        }
    }

    /// The recording `id` for the session: its row and files, opened with
    /// the session's keys and checked intact once per session. A call the
    /// user may not see is `.notFound`, exactly as an unknown id (the
    /// refusal audited); a recording whose files or signature fail is
    /// `.damaged` (audited); one their keys do not open, `.refused` (audited).
    func open(_ id: String, session: ServeSession, action: String) async throws -> Opened {
        guard RecordingID.isPlausible(id) else {
            try await refuse(session, action, target: nil, because: "not a recording id")
            throw ServeError.notFound
        }
        return try await blocking {
            let now = self.now()
            let recording: CatalogRecording
            do {
                recording = try self.catalog.authorizedRecording(id: id, action: action, by: session.actor, reason: nil, at: now)
            } catch let error as CatalogError where error.code == .notFound || error.code == .refused {
                if error.code == .notFound {
                    try self.catalog.audit(action, target: id, outcome: .refused, by: session.actor, at: now, detail: "serve: no such recording")
                }
                throw ServeError.notFound
            }
            if !session.intact.contains(id) {
                let files = try self.catalog.files(of: id, by: session.actor)
                let problems = try RecordingIntegrity.problems(of: recording, files: files, in: self.catalog)
                do {
                    try self.catalog.refuseUnlessIntact(recording, action: action, problems: problems, by: session.actor, reason: nil, at: now)
                } catch let error as CatalogError where error.code == .damaged {
                    throw ServeError.damaged(error.message)
                }
                self.sessions.markIntact(id, in: session.id)
            }
            do {
                return Opened(
                    try RecordingAccess.open(
                        id: id, keys: session.keys, actor: session.actor, catalog: self.catalog, action: action, reason: nil, at: now))
            } catch let error as CatalogError where error.code == .refused {
                throw ServeError.keysDoNotOpen(error.message)
            }
        }
    }

    /// `/calls/{id}`: the call page.
    func callPage(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let id = context.parameters.get("id") ?? ""
        do {
            let opened = try await open(id, session: session, action: "show")
            let index = try await blocking { try? opened.index() }
            try await blocking {
                try self.catalog.audit("show", target: id, outcome: .done, by: session.actor, at: self.now(), detail: "serve: the call page")
            }
            let (notes, tags) = try await blocking { (try self.catalog.notes(of: id, by: session.actor), try self.catalog.tags(of: id, by: session.actor)) }
            return html(
                status: .ok,
                pages.call(
                    session: session, recording: opened.recording, index: index, sealed: opened.isSealed, notes: notes, tags: tags,
                    needsReason: options.downloadReasonRoles.contains(session.user.role)))
        } catch let error as ServeError {
            return html(status: error.status, pages.message(title: error.title, text: error.message, session: session))
        }
    }

    /// `GET /api/calls/{id}`: the catalog row and the call index (decrypted with the session's keys when sealed).
    func apiCall(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: true) }
        let id = context.parameters.get("id") ?? ""
        do {
            let opened = try await open(id, session: session, action: "show")
            let index = try await blocking { try opened.index() }
            try await blocking {
                try self.catalog.audit("show", target: id, outcome: .done, by: session.actor, at: self.now(), detail: "serve: the call index")
            }
            let (notes, tags) = try await blocking { (try self.catalog.notes(of: id, by: session.actor), try self.catalog.tags(of: id, by: session.actor)) }
            return Self.json(
                status: .ok, CallDocument(recording: RecordingJSON(opened.recording, store: catalog).forServe(), index: index, notes: notes, tags: tags))
        } catch let error as ServeError {
            return Self.json(status: error.status, ["error": error.message])
        }
    }

    struct NoteForm: Decodable {
        var csrf: String?
        var text: String?
    }

    struct TagForm: Decodable {
        var csrf: String?
        var tag: String?
        var remove: String?
    }

    /// `POST /calls/{id}/notes` (fields `text`, `csrf`): a note on a call the user may see; back to the call page.
    func addNote(_ request: Request, _ context: ServeContext) async throws -> Response {
        var request = request
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let id = context.parameters.get("id") ?? ""
        let form = try await Self.form(NoteForm.self, &request, context)
        return try await change(id, csrf: form?.csrf, session: session, action: "note") {
            try self.catalog.addNote(form?.text ?? "", to: id, by: session.actor, at: self.now())
        }
    }

    /// `POST /calls/{id}/tags` (fields `tag`, `csrf`, and `remove=1` to take it off); back to the call page.
    func setTag(_ request: Request, _ context: ServeContext) async throws -> Response {
        var request = request
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let id = context.parameters.get("id") ?? ""
        let form = try await Self.form(TagForm.self, &request, context)
        return try await change(id, csrf: form?.csrf, session: session, action: "tag") {
            try self.catalog.setTag(form?.tag ?? "", on: form?.remove == nil, recording: id, by: session.actor, at: self.now())
        }
    }

    struct KeepForm: Decodable {
        var csrf: String?
        var reason: String?
    }

    /// `POST /calls/{id}/keep` (field `csrf`, optional `reason`): keeps a call an on-demand rule recorded (`catalog keep`).
    func keep(_ request: Request, _ context: ServeContext) async throws -> Response {
        var request = request
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let id = context.parameters.get("id") ?? ""
        let form = try await Self.form(KeepForm.self, &request, context)
        return try await change(id, csrf: form?.csrf, session: session, action: "keep") {
            _ = try self.catalog.keep(id: id, by: session.actor, reason: Self.field(form?.reason), at: self.now())
        }
    }

    /// `POST /calls/{id}/discard` (fields `reason`, `csrf`): deletes a call of
    /// the user's own that no `--require` rule recorded and no hold protects
    /// (`catalog discard`); back to the list of calls.
    func discard(_ request: Request, _ context: ServeContext) async throws -> Response {
        var request = request
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let id = context.parameters.get("id") ?? ""
        let form = try await Self.form(KeepForm.self, &request, context)
        return try await change(id, csrf: form?.csrf, session: session, action: "discard", then: "/") {
            guard let reason = Self.field(form?.reason) else {
                try self.catalog.audit("discard", target: id, outcome: .refused, by: session.actor, at: self.now(), detail: "serve: no reason given")
                throw CatalogError(.invalid, "Say why the recording is deleted: it is written to the audit log.")
            }
            let report = try self.catalog.discard(id: id, by: session.actor, reason: reason, at: self.now())
            if let failure = report.failed.first { throw CatalogError(.io, failure.why) }
        }
    }

    /// A form that changes a recording: the session's CSRF token first (refused and audited without it),
    /// then `body` (which checks the user may see the call: 404 as for an unknown id otherwise); then to `then`
    /// (the call page unless said otherwise). A legal hold or a `--require` rule that refuses it: 409.
    func change(
        _ id: String, csrf: String?, session: ServeSession, action: String, then: String? = nil, _ body: @escaping @Sendable () throws -> Void
    ) async throws
        -> Response
    {
        guard let csrf, SessionStore.same(csrf, session.csrf) else {
            try await refuse(session, action, target: RecordingID.isPlausible(id) ? id : nil, because: "missing or wrong CSRF token")
            return html(status: .forbidden, pages.message(title: "Refused", text: "The form had expired; nothing was done.", session: session))
        }
        guard RecordingID.isPlausible(id) else {
            return html(status: .notFound, pages.message(title: ServeError.notFound.title, text: ServeError.notFound.message, session: session))
        }
        do {
            try await blocking(body)
        } catch let error as CatalogError where error.code == .notFound || error.code == .refused {
            if error.code == .notFound {
                try await refuse(session, action, target: id, because: "no such recording")
            }
            return html(status: .notFound, pages.message(title: ServeError.notFound.title, text: ServeError.notFound.message, session: session))
        } catch let error as CatalogError where error.code == .invalid {
            return html(status: .badRequest, pages.message(title: "Not done", text: error.message, session: session))
        } catch let error as CatalogError where error.code == .held || error.code == .required {
            return html(status: .conflict, pages.message(title: "Refused", text: error.message, session: session))
        }
        return Self.redirect(then ?? "/calls/\(id)")
    }

    /// `GET /api/calls/{id}/peaks`: the waveform peaks (audiowaveform JSON v2), decrypted when sealed.
    func apiPeaks(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: true) }
        let id = context.parameters.get("id") ?? ""
        do {
            let opened = try await open(id, session: session, action: "show")
            let bytes: [UInt8]? = try await blocking {
                guard let file = opened.files.first(where: { $0.path.hasSuffix(".peaks.json") || $0.path.hasSuffix(".peaks.json.age") })
                else { return nil }
                let source = try opened.content(of: file)
                guard source.contentSize <= 64 << 20 else { throw ServeError.damaged("its peaks file is larger than 64 MiB") }
                var bytes = [UInt8](repeating: 0, count: Int(source.contentSize))
                let n = try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: 0) }
                return Array(bytes.prefix(n))
            }
            guard let bytes else { return Self.json(status: .notFound, ["error": "recording \(id) has no peaks.json (converted with --peaks none or dat)"]) }
            var response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            response.headers[.contentType] = "application/json"
            return response
        } catch let error as ServeError {
            return Self.json(status: error.status, ["error": error.message])
        }
    }

    /// `GET /calls/{id}/audio`: the Ogg Opus audio, all of it or the one
    /// byte range asked for (206), read (and, when sealed, decrypted) 64 KiB
    /// at a time as it is sent: the plaintext is never on disk, and memory
    /// does not grow with the file. The first request of a session for a
    /// recording is audited as a listen.
    func audio(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: true) }
        let id = context.parameters.get("id") ?? ""
        let firstListen = !session.intact.contains(id)
        let source: ByteSourceBox
        do {
            let opened = try await open(id, session: session, action: "play")
            source = try await blocking { try opened.audio() }
            if firstListen {
                try await blocking {
                    try self.catalog.audit(
                        "play", target: id, outcome: .done, by: session.actor, at: self.now(),
                        detail: "serve" + (opened.isSealed ? ", opened with \(session.keys.owner)" : ""))
                }
            }
        } catch let error as ServeError {
            return Self.json(status: error.status, ["error": error.message])
        }
        let size = source.source.contentSize
        var headers = HTTPFields()
        headers[.contentType] = "audio/ogg"
        headers[.acceptRanges] = "bytes"
        if size == 0, request.headers[.range] == nil { return Response(status: .ok, headers: headers, body: .init()) }
        let range: ClosedRange<Int64>
        let status: HTTPResponse.Status
        switch ByteRangeRequest(header: request.headers[.range], size: size) {
        case .whole:
            status = .ok
            range = 0...(size - 1)
        case .range(let asked):
            status = .partialContent
            range = asked
            headers[.contentRange] = "bytes \(asked.lowerBound)-\(asked.upperBound)/\(size)"
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(size)"
            headers[.contentLength] = "0"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        return Response(status: status, headers: headers, body: stream(source, range))
    }

    /// `GET /calls/{id}/download?reason=…`: the audio as a file to keep
    /// (`Content-Disposition: attachment`), decrypted as it is sent when
    /// sealed. Audited as an export, with the reason; a supervisor or admin
    /// (who download calls of others) must give one.
    func download(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let id = context.parameters.get("id") ?? ""
        let reason = request.uri.queryParameters.get("reason").map { String($0.prefix(Self.maximumFieldLength)).trimmingCharacters(in: .whitespaces) }
            .flatMap { $0.isEmpty ? nil : $0 }
        if reason == nil && options.downloadReasonRoles.contains(session.user.role) {
            try await refuse(session, "export", target: RecordingID.isPlausible(id) ? id : nil, because: "a download needs a reason for the \(session.user.role.rawValue) role")
            return html(
                status: .badRequest,
                pages.message(title: "A reason is needed", text: "Say why you download this call (it is written to the audit log).", session: session))
        }
        let source: ByteSourceBox
        let name: String
        do {
            let opened = try await open(id, session: session, action: "export")
            source = try await blocking { try opened.audio() }
            name = String(opened.files.first?.path.split(separator: "/").last ?? "\(id).opus").replacingOccurrences(of: ".age", with: "")
            try await blocking {
                try self.catalog.audit(
                    "export", target: id, outcome: .done, by: session.actor, at: self.now(), reason: reason,
                    detail: "serve: download" + (opened.isSealed ? ", opened with \(session.keys.owner)" : ""))
            }
        } catch let error as ServeError {
            return html(status: error.status, pages.message(title: error.title, text: error.message, session: session))
        }
        var headers = HTTPFields()
        headers[.contentType] = "audio/ogg"
        headers[.contentDisposition] = "attachment; filename=\"\(RecordingID.isPlausible(String(name.prefix { $0 != "." })) ? name : id + ".opus")\""
        let size = source.source.contentSize
        if size == 0 { return Response(status: .ok, headers: headers, body: .init()) }
        return Response(status: .ok, headers: headers, body: stream(source, 0...(size - 1)))
    }

    /// The bytes `range` of `source`, read 64 KiB at a time on the pool as they are sent.
    func stream(_ source: ByteSourceBox, _ range: ClosedRange<Int64>) -> ResponseBody {
        let pool = workPool
        return ResponseBody(contentLength: Int(range.upperBound - range.lowerBound + 1)) { writer in
            var offset = range.lowerBound
            while offset <= range.upperBound {
                let want = Int(min(Int64(64 * 1024), range.upperBound - offset + 1))
                let start = offset
                let chunk: ByteBuffer = try await pool.runIfActive {
                    var buffer = ByteBufferAllocator().buffer(capacity: want)
                    let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { raw in
                        try source.source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[..<want]), at: start)
                    }
                    guard n > 0 else { throw ServeError.damaged("the audio file ended early") }
                    return buffer
                }
                offset += Int64(chunk.readableBytes)
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        }
    }

    /// `GET /admin/audit` (a page) and `GET /api/audit` (JSON, the entries
    /// as `catalog audit --json` gives them): the audit log newest first,
    /// `auditPageSize` entries a page, optionally of one `actor`, one
    /// `action`, about one `target`, `from` and `to` a date or time (as
    /// `/api/calls` reads them); `before` (an entry's `seq`) pages back.
    /// Admins only: anyone else is refused (403) and the refusal audited.
    func auditPage(_ request: Request, _ context: ServeContext, api: Bool) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: api) }
        if (request.uri.query?.utf8.count ?? 0) > Self.maximumQueryLength {
            return api ? Self.json(status: .uriTooLong, ["error": "the query string is too long"]) : html(status: .uriTooLong, pages.message(title: "Refused", text: "The query string is too long.", session: session))
        }
        let parameters = request.uri.queryParameters
        func field(_ name: String) -> String? { Self.field(parameters.get(name)) }
        let filter = AuditFilter(actor: field("actor"), action: field("action"), target: field("target"), from: field("from"), to: field("to"), before: field("before"))
        let since: Double?, until: Double?, before: Int64?
        do {
            since = try filter.from.map { try CallSearch.time($0, "from", endOfDay: false) }
            until = try filter.to.map { try CallSearch.time($0, "to", endOfDay: true) }
            before = try filter.before.map { text in
                guard let seq = Int64(text), seq > 0 else { throw CallSearch.Invalid(message: "before must be an entry's number (seq)") }
                return seq
            }
        } catch let error as CallSearch.Invalid {
            if api { return Self.json(status: .badRequest, ["error": error.message]) }
            return html(status: .badRequest, pages.audit(session: session, entries: [], filter: filter, next: nil, error: error.message))
        }
        let entries: [AuditEntry]
        let pageSize = Self.auditPageSize
        do {
            entries = try await blocking {
                try self.catalog.auditLog(
                    since: since, until: until, actorName: filter.actor, action: filter.action, target: filter.target, beforeSeq: before,
                    limit: pageSize, by: session.actor, at: self.now()
                ).reversed()
            }
        } catch let error as CatalogError where error.code == .refused {
            if api { return Self.json(status: .forbidden, ["error": "the audit log is for admins"]) }
            return html(status: .forbidden, pages.message(title: "Refused", text: "The audit log is for admins.", session: session))
        }
        if api { return Self.json(status: .ok, entries) }
        let next = entries.count == pageSize ? entries.last?.seq : nil
        return html(status: .ok, pages.audit(session: session, entries: entries, filter: filter, next: next, error: nil))
    }

    /// Entries on one page of the audit log (and one answer of `/api/audit`).
    static let auditPageSize = 100

    /// `GET /rules`: the recording rules in the order they are tried, each
    /// marked where it can apply to a call of the user's own numbers (a
    /// rule without a local number applies to everyone's): what decides
    /// whether the user's calls are recorded (the employee's own say).
    func rulesPage(_ request: Request, _ context: ServeContext) async throws -> Response {
        guard let session = session(request) else { return Self.unauthenticated(api: false) }
        let rules = try await blocking {
            let rules = try self.catalog.ruleSet().rules
            try self.catalog.audit("rules list", target: nil, outcome: .done, by: session.actor, at: self.now(), detail: "serve: the rules page")
            return rules
        }
        return html(status: .ok, pages.rules(session: session, rules: rules))
    }

    /// Audits a refusal that has no catalog call of its own.
    func refuse(_ session: ServeSession, _ action: String, target: String?, because why: String) async throws {
        try await blocking {
            try self.catalog.audit(action, target: target, outcome: .refused, by: session.actor, at: self.now(), detail: "serve: " + why)
        }
    }

    // MARK: - Helpers

    /// Runs blocking work (the catalog, files) on the thread pool, not on an event loop.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await workPool.runIfActive(body)
    }

    /// The wall clock (sessions' expiry, audit entries); tests give one they move.
    func now() -> Double { clock() }

    static func form<T: Decodable>(_ type: T.Type, _ request: inout Request, _ context: ServeContext) async throws -> T? {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") ?? false else { return nil }
        guard let buffer = try? await request.collectBody(upTo: context.maxUploadSize) else { return nil }
        return try? URLEncodedFormDecoder().decode(T.self, from: String(buffer: buffer))
    }

    func html(status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json<T: Encodable>(status: HTTPResponse.Status, _ value: T) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// A server that cannot start: one line saying why.
public struct ServeSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// What `GET /api/calls/{id}` answers: the catalog row (the fields of
/// `catalog find --json`) and the call index (docs/FORMATS.md).
struct CallDocument: Encodable {
    var recording: RecordingJSON
    var index: CallIndex
    var notes: [RecordingNote]
    var tags: [RecordingTag]
}

/// A recording opened for one request, handed from one thread of the pool
/// to the next, used by one at a time (never concurrently).
final class Opened: @unchecked Sendable {
    let value: OpenedRecording
    init(_ value: OpenedRecording) { self.value = value }
    var recording: CatalogRecording { value.recording }
    var files: [CatalogFile] { value.files }
    var isSealed: Bool { value.isSealed }
    func index() throws -> CallIndex { try value.index() }
    func audio() throws -> ByteSourceBox { ByteSourceBox(try value.audio()) }
    func content(of file: CatalogFile) throws -> any RandomAccessByteSource { try value.content(of: file) }
}

/// A byte source handed from one thread of the pool to the next, one read at a time (never concurrently).
final class ByteSourceBox: @unchecked Sendable {
    let source: any RandomAccessByteSource
    init(_ source: any RandomAccessByteSource) { self.source = source }
}

/// Recording ids as callrec makes them (`20261129T081530Z-3f9a1c2e`, `-2`…):
/// anything else (a path, `../`, a huge string) is refused before the catalog sees it.
enum RecordingID {
    static func isPlausible(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 }
    }
}

/// Why a recording is not given out.
enum ServeError: Error {
    case notFound
    case damaged(String)
    case keysDoNotOpen(String)

    var status: HTTPResponse.Status {
        switch self {
        case .notFound: .notFound
        case .damaged: .conflict
        case .keysDoNotOpen: .forbidden
        }
    }

    var title: String {
        switch self {
        case .notFound: "No such call"
        case .damaged: "Refused: the recording is damaged"
        case .keysDoNotOpen: "Refused: sealed"
        }
    }

    var message: String {
        switch self {
        case .notFound: "There is no such call, or it is not one you may see."
        case .damaged(let why): why
        case .keysDoNotOpen: "This recording is sealed to keys you do not hold."
        }
    }
}

extension CallServer {
    /// Runs the server until SIGINT or SIGTERM (then it finishes the
    /// requests in flight and returns): for a command whose `run` is not async.
    public func run() throws {
        let application = try application()
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do {
                try await application.runService()
            } catch {
                failure.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = failure.error { throw ServeSetupError("cannot serve on \(options.host):\(options.port): \(error)") }
    }
}

private final class FailureBox: @unchecked Sendable {
    var error: (any Error)?
}
