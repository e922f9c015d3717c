import Catalog
import Foundation
import Hummingbird
import Keyring
import Sealing

/// The admin pages (`/admin/…`): legal holds, erasure, recording rules,
/// users and the audit log, each doing what its `catalog` command does by
/// calling the same `CatalogStore` function (`hold`, `release`, `delete`,
/// `forget`, `purge`, `addRule`, `removeRule`, `putUser`, `setDisabled`,
/// `UserKeys.newKey` / `resetKey`, `auditLog`), so the role checks, the
/// legal-hold refusals and the audit rows are the commands' own. A page is
/// refused (403, audited) to anyone but an admin; every form carries the
/// session's CSRF token (403 and an audited refusal without it).
extension CallServer {
    func addAdminRoutes(_ router: Router<ServeContext>) {
        router.get("/admin") { request, _ in try await self.adminIndex(request) }
        router.get("/admin/holds") { request, _ in try await self.holdsPage(request, outcome: nil) }
        router.post("/admin/holds") { request, context in try await self.changeHold(request, context) }
        router.get("/admin/erasure") { request, _ in try await self.erasurePage(request, outcome: nil) }
        router.post("/admin/erasure") { request, context in try await self.erase(request, context) }
        router.get("/admin/rules") { request, _ in try await self.adminRulesPage(request, outcome: nil) }
        router.post("/admin/rules") { request, context in try await self.changeRules(request, context) }
        router.get("/admin/users") { request, _ in try await self.usersPage(request, outcome: nil) }
        router.post("/admin/users") { request, context in try await self.changeUsers(request, context) }
    }

    /// What a form did, shown at the top of the page it returns to.
    struct AdminOutcome {
        var status: HTTPResponse.Status = .ok
        var lines: [String]
        var failed: Bool { status.code >= 400 }

        static func failure(_ error: CatalogError) -> AdminOutcome {
            let status: HTTPResponse.Status =
                switch error.code {
                case .refused: .forbidden
                case .notFound: .notFound
                case .invalid: .badRequest
                case .held, .exists: .conflict
                default: .internalServerError
                }
            return AdminOutcome(status: status, lines: [error.message])
        }
    }

    /// The session of an admin, or the answer that refuses the request: no
    /// session (to the login page), not an admin (403; the catalog audits
    /// the refusal as `action`).
    func admin(_ request: Request, action: String) async throws -> Result<ServeSession, AdminRefusal> {
        guard let session = session(request) else { return .failure(AdminRefusal(response: Self.unauthenticated(api: false))) }
        do {
            try await blocking { try self.catalog.require(.admin, session.actor, action: action, target: nil, reason: nil, at: self.now()) }
        } catch let error as CatalogError where error.code == .refused {
            return .failure(
                AdminRefusal(response: html(status: .forbidden, pages.message(title: "Refused", text: "This page is for admins.", session: session))))
        }
        return .success(session)
    }

    /// A request refused before anything was done.
    struct AdminRefusal: Error { var response: Response }

    /// A form of an admin page: decoded, its CSRF token checked (a refusal audited as `action`).
    func adminForm<T: Decodable & CSRFCarrying>(
        _ type: T.Type, _ request: Request, _ context: ServeContext, action: String
    ) async throws -> Result<(ServeSession, T), AdminRefusal> {
        var request = request
        guard let session = session(request) else { return .failure(AdminRefusal(response: Self.unauthenticated(api: false))) }
        let form = try await Self.form(T.self, &request, context)
        guard let form, let csrf = form.csrf, SessionStore.same(csrf, session.csrf) else {
            try await refuse(session, action, target: nil, because: "missing or wrong CSRF token")
            return .failure(
                AdminRefusal(
                    response: html(status: .forbidden, pages.message(title: "Refused", text: "The form had expired; nothing was done.", session: session))))
        }
        return .success((session, form))
    }

    func adminIndex(_ request: Request) async throws -> Response {
        let session: ServeSession
        switch try await admin(request, action: "admin") {
        case .failure(let refusal): return refusal.response
        case .success(let s): session = s
        }
        return html(status: .ok, pages.adminIndex(session: session))
    }

    // MARK: - Legal holds

    struct HoldForm: Decodable, CSRFCarrying {
        var csrf: String?
        var id: String?
        var reason: String?
        var release: String?
    }

    /// `GET /admin/holds`: every recording under legal hold, and the form that places one.
    func holdsPage(_ request: Request, outcome: AdminOutcome?) async throws -> Response {
        let session: ServeSession
        switch try await admin(request, action: "holds list") {
        case .failure(let refusal): return refusal.response
        case .success(let s): session = s
        }
        return try await holdsPage(session: session, outcome: outcome)
    }

    func holdsPage(session: ServeSession, outcome: AdminOutcome?) async throws -> Response {
        let held = try await blocking {
            var query = RecordingQuery(limit: 500)
            query.held = true
            return try self.catalog.find(query, by: session.actor, at: self.now()).recordings
        }
        return html(status: outcome?.status ?? .ok, pages.holds(session: session, held: held, outcome: outcome))
    }

    /// `POST /admin/holds` (fields `id`, `reason`, `csrf`; `release=1` lifts the hold): `catalog hold` / `catalog release`.
    func changeHold(_ request: Request, _ context: ServeContext) async throws -> Response {
        let (session, form): (ServeSession, HoldForm)
        switch try await adminForm(HoldForm.self, request, context, action: "hold") {
        case .failure(let refusal): return refusal.response
        case .success(let value): (session, form) = value
        }
        let releasing = form.release != nil
        let action = releasing ? "release" : "hold"
        let id = Self.field(form.id)
        let reason = Self.field(form.reason)
        var outcome: AdminOutcome
        if id == nil || !RecordingID.isPlausible(id!) {
            try await refuse(session, action, target: nil, because: "not a recording id")
            outcome = AdminOutcome(status: .badRequest, lines: ["Give the id of a recording (20261129T081530Z-3f9a1c2e)."])
        } else if reason == nil {
            try await refuse(session, action, target: id, because: "no reason given")
            outcome = AdminOutcome(status: .badRequest, lines: ["Say why (the case or matter): it is written to the audit log."])
        } else {
            outcome = await catalogOutcome(session, action, target: id) {
                if releasing {
                    try self.catalog.release(id: id!, reason: reason!, by: session.actor, at: self.now())
                    return ["\(id!): legal hold released"]
                }
                try self.catalog.hold(id: id!, reason: reason!, by: session.actor, at: self.now())
                return ["\(id!) is under legal hold: \(reason!)"]
            }
        }
        return try await holdsPage(session: session, outcome: outcome)
    }

    // MARK: - Erasure

    struct ErasureForm: Decodable, CSRFCarrying {
        var csrf: String?
        /// `delete`, `forget` or `purge`.
        var what: String?
        var id: String?
        var number: String?
        var reason: String?
        var dry_run: String?
    }

    /// `GET /admin/erasure`: the forms of `catalog delete`, `forget` and `purge`.
    func erasurePage(_ request: Request, outcome: AdminOutcome?) async throws -> Response {
        let session: ServeSession
        switch try await admin(request, action: "erasure") {
        case .failure(let refusal): return refusal.response
        case .success(let s): session = s
        }
        return html(status: outcome?.status ?? .ok, pages.erasure(session: session, outcome: outcome))
    }

    /// `POST /admin/erasure` (fields `what` = `delete` | `forget` | `purge`, `id`,
    /// `number`, `reason`, `dry_run`, `csrf`): what `catalog delete`, `forget` and
    /// `purge` do, held recordings kept and reported the same way.
    func erase(_ request: Request, _ context: ServeContext) async throws -> Response {
        let (session, form): (ServeSession, ErasureForm)
        switch try await adminForm(ErasureForm.self, request, context, action: "erasure") {
        case .failure(let refusal): return refusal.response
        case .success(let value): (session, form) = value
        }
        let reason = Self.field(form.reason)
        let outcome: AdminOutcome
        switch form.what {
        case "delete":
            let id = Self.field(form.id)
            if id == nil || !RecordingID.isPlausible(id!) {
                try await refuse(session, "delete", target: nil, because: "not a recording id")
                outcome = AdminOutcome(status: .badRequest, lines: ["Give the id of a recording (20261129T081530Z-3f9a1c2e)."])
            } else if reason == nil {
                try await refuse(session, "delete", target: id, because: "no reason given")
                outcome = AdminOutcome(status: .badRequest, lines: ["Say why the recording is deleted: it is written to the audit log."])
            } else {
                outcome = await catalogOutcome(session, "delete", target: id) {
                    Self.lines(try self.catalog.delete(id: id!, by: session.actor, reason: reason, at: self.now()), verb: "deleted")
                }
            }
        case "forget":
            let number = Self.field(form.number)
            if number == nil || reason == nil {
                try await refuse(session, "forget", target: nil, because: number == nil ? "no number given" : "no reason given")
                outcome = AdminOutcome(status: .badRequest, lines: ["Give the party's number and why (the erasure request)."])
            } else {
                outcome = await catalogOutcome(session, "forget", target: nil) {
                    Self.lines(
                        try self.catalog.forget(number: try NumberPattern.parse(number!), by: session.actor, reason: reason, at: self.now()),
                        verb: "erased")
                }
            }
        case "purge":
            let dryRun = form.dry_run != nil
            outcome = await catalogOutcome(session, "purge", target: nil) {
                Self.lines(
                    try self.catalog.purge(by: session.actor, reason: reason, at: self.now(), dryRun: dryRun), verb: dryRun ? "would purge" : "purged")
            }
        default:
            outcome = AdminOutcome(status: .badRequest, lines: ["Choose delete, forget or purge."])
        }
        return html(status: outcome.status, pages.erasure(session: session, outcome: outcome))
    }

    /// What `catalog delete`, `forget` and `purge` print of an erasure.
    static func lines(_ report: ErasureReport, verb: String) -> [String] {
        report.erased.map { "\(verb) \($0)" } + report.kept.map { "kept \($0.id): \($0.why)" }
            + report.failed.map { "\($0.id): \($0.why) (catalog verify finishes it)" }
            + ["\(report.erased.count) \(verb), \(report.kept.count) kept under legal hold"]
    }

    // MARK: - Recording rules

    struct RuleForm: Decodable, CSRFCarrying {
        var csrf: String?
        /// The id of a rule to remove; otherwise a rule is added from the fields below.
        var remove: String?
        var action: String?
        var name: String?
        var direction: String?
        var local: String?
        var remote: String?
        var days: String?
        var hours: String?
        var except: String?
        var tz: String?
        var sample: String?
        var retain: String?
        var position: String?
    }

    /// `GET /admin/rules`: the rules in order, with the forms of `catalog rules add` and `remove`.
    func adminRulesPage(_ request: Request, outcome: AdminOutcome?) async throws -> Response {
        let session: ServeSession
        switch try await admin(request, action: "rules list") {
        case .failure(let refusal): return refusal.response
        case .success(let s): session = s
        }
        return try await adminRulesPage(session: session, outcome: outcome)
    }

    func adminRulesPage(session: ServeSession, outcome: AdminOutcome?) async throws -> Response {
        let rules = try await blocking { try self.catalog.ruleSet().rules }
        return html(status: outcome?.status ?? .ok, pages.adminRules(session: session, rules: rules, outcome: outcome))
    }

    /// `POST /admin/rules`: `remove=ID`, or a new rule from the fields `catalog rules add` takes
    /// (`action` record|skip, `name`, `direction`, `local`, `remote`, `days`, `hours`, `except`
    /// (comma-separated spans), `tz`, `sample`, `retain`, `position`).
    func changeRules(_ request: Request, _ context: ServeContext) async throws -> Response {
        let (session, form): (ServeSession, RuleForm)
        switch try await adminForm(RuleForm.self, request, context, action: "rules add") {
        case .failure(let refusal): return refusal.response
        case .success(let value): (session, form) = value
        }
        let outcome: AdminOutcome
        if let remove = Self.field(form.remove) {
            if let id = Int64(remove) {
                outcome = await catalogOutcome(session, "rules remove", target: "rule \(id)") {
                    try self.catalog.removeRule(id: id, by: session.actor, at: self.now())
                    return ["rule \(id) removed"]
                }
            } else {
                outcome = AdminOutcome(status: .badRequest, lines: ["'\(remove)' is not a rule id"])
            }
        } else {
            outcome = await catalogOutcome(session, "rules add", target: nil) {
                guard let action = RuleAction(rawValue: Self.field(form.action) ?? "") else {
                    throw CatalogError(.invalid, "a rule either records or skips the calls it matches")
                }
                var sample = 100.0
                if let text = Self.field(form.sample) {
                    guard let value = Double(text) else { throw CatalogError(.invalid, "the sample must be a percentage from 0 to 100, not '\(text)'") }
                    sample = value
                }
                var position: Int? = nil
                if let text = Self.field(form.position) {
                    guard let value = Int(text) else { throw CatalogError(.invalid, "the position must be a whole number, not '\(text)'") }
                    position = value
                }
                let rule = try RecordingRule.parse(
                    action: action, name: Self.field(form.name), direction: Self.field(form.direction), local: Self.field(form.local),
                    remote: Self.field(form.remote), days: Self.field(form.days), hours: Self.field(form.hours),
                    except: (Self.field(form.except) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
                    timeZone: Self.field(form.tz) ?? "UTC", samplePercent: sample, retain: Self.field(form.retain))
                let added = try self.catalog.addRule(rule, position: position, by: session.actor, at: self.now())
                return ["rule \(added.id) added at position \(added.position): \(added.summary)"]
            }
        }
        return try await adminRulesPage(session: session, outcome: outcome)
    }

    // MARK: - Users

    struct UserForm: Decodable, CSRFCarrying {
        var csrf: String?
        /// `add`, `change` (role, team, numbers), `password` (a new password and key), `disable`, `enable`.
        var op: String?
        var name: String?
        var role: String?
        var team: String?
        /// Exact numbers or `prefix*`, separated by spaces or commas.
        var numbers: String?
        var password: String?
        var reason: String?
    }

    /// `GET /admin/users`: the users, their roles, teams, numbers and keys, with the forms of `catalog users`.
    func usersPage(_ request: Request, outcome: AdminOutcome?) async throws -> Response {
        let session: ServeSession
        switch try await admin(request, action: "users list") {
        case .failure(let refusal): return refusal.response
        case .success(let s): session = s
        }
        return try await usersPage(session: session, outcome: outcome)
    }

    func usersPage(session: ServeSession, outcome: AdminOutcome?) async throws -> Response {
        let users = try await blocking { try self.catalog.users() }
        return html(status: outcome?.status ?? .ok, pages.users(session: session, users: users, outcome: outcome))
    }

    /// `POST /admin/users` (field `op`): `add` a user with the password the
    /// admin sets (a new personal key sealed to it, as `catalog users add
    /// --password-file`); `change` a user's role, team and numbers (their key
    /// kept); `password`: a new password, and with it a new key (as `catalog
    /// users passwd --reset`: the admin does not know the old one); `disable`
    /// / `enable` (a disabled user's sessions on this server end at once).
    func changeUsers(_ request: Request, _ context: ServeContext) async throws -> Response {
        let (session, form): (ServeSession, UserForm)
        switch try await adminForm(UserForm.self, request, context, action: "users add") {
        case .failure(let refusal): return refusal.response
        case .success(let value): (session, form) = value
        }
        guard let name = Self.field(form.name) else {
            return try await usersPage(session: session, outcome: AdminOutcome(status: .badRequest, lines: ["Give the user's name."]))
        }
        let target = "user \(name)"
        let workFactor = options.keyWorkFactor
        let outcome: AdminOutcome
        switch form.op {
        case "add", "change":
            let adding = form.op == "add"
            outcome = await catalogOutcome(session, "users add", target: target) {
                guard let role = Role(rawValue: Self.field(form.role) ?? "") else {
                    throw CatalogError(.invalid, "the role must be agent, supervisor or admin")
                }
                let numbers = try (Self.field(form.numbers) ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map { try NumberPattern.parse(String($0)) }
                let existing = try self.catalog.user(named: name)
                var key: StoredUserKey? = nil
                if adding {
                    guard existing == nil else { throw CatalogError(.exists, "user \(name) exists already; change their role, team or numbers below") }
                    key = try UserKeys.newKey(password: try UserKeys.checkNewPassword(form.password ?? ""), workFactor: workFactor)
                } else if existing == nil {
                    throw CatalogError(.notFound, "no user '\(name)' in the catalog")
                }
                let user = CatalogUser(name: name, role: role, team: Self.field(form.team), numbers: numbers)
                let changes = try self.catalog.putUser(user, key: key, teamKeys: TeamKeys(), by: session.actor, at: self.now())
                return ["user \(name): \(role.rawValue)" + (key.map { ", personal key \($0.recipient)" } ?? "")] + changes.map(\.description)
            }
        case "password":
            outcome = await catalogOutcome(session, "users passwd", target: target) {
                guard try self.catalog.user(named: name) != nil else { throw CatalogError(.notFound, "no user '\(name)' in the catalog") }
                let password = try UserKeys.checkNewPassword(form.password ?? "")
                let (key, changes) = try UserKeys.resetKey(
                    name, password: password, workFactor: workFactor, catalog: self.catalog, by: session.actor, at: self.now())
                return [
                    "user \(name): new password and personal key \(key.recipient); recordings sealed to the old key open for them "
                        + "again once catalog reseal adds the new one"
                ] + changes.map(\.description)
            }
        case "disable", "enable":
            let disable = form.op == "disable"
            outcome = await catalogOutcome(session, disable ? "users disable" : "users enable", target: target) {
                try self.catalog.setDisabled(disable, user: name, by: session.actor, reason: Self.field(form.reason), at: self.now())
                return ["user \(name) \(disable ? "disabled" : "enabled")"]
            }
            if disable && !outcome.failed { sessions.end(user: name) }
        default:
            outcome = AdminOutcome(status: .badRequest, lines: ["Choose what to do: add, change, password, disable or enable."])
        }
        return try await usersPage(session: session, outcome: outcome)
    }

    // MARK: - Helpers

    /// Runs a catalog function (its own role check and audit row) off the
    /// event loops and turns its answer into what the page shows. A
    /// `notFound` (which the catalog does not audit) is audited here as a
    /// refusal; the catalog's refusals are audited by the catalog.
    func catalogOutcome(
        _ session: ServeSession, _ action: String, target: String?, _ body: @escaping @Sendable () throws -> [String]
    ) async -> AdminOutcome {
        do {
            return AdminOutcome(lines: try await blocking(body))
        } catch let error as CatalogError {
            if error.code == .notFound || error.code == .invalid || error.code == .exists {
                try? await refuse(session, action, target: target, because: error.message)
            }
            return .failure(error)
        } catch {
            try? await refuse(session, action, target: target, because: "\(error)")
            return AdminOutcome(status: .internalServerError, lines: ["\(error)"])
        }
    }

    /// A form field as given, trimmed, capped at `maximumFieldLength`; nil when empty.
    static func field(_ value: String?) -> String? {
        guard let value else { return nil }
        let trimmed = String(value.prefix(maximumFieldLength)).trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// A form that carries the session's CSRF token in its field `csrf`.
protocol CSRFCarrying { var csrf: String? { get } }
