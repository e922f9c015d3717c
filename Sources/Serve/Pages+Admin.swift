import CallrecCore
import Catalog
import Foundation

/// The filters of the audit page, as given (for the form and the next page's link).
struct AuditFilter: Sendable {
    var actor: String?
    var action: String?
    var target: String?
    var from: String?
    var to: String?
    var before: String?

    /// The filters set, by query name (without `before`).
    var fields: [String: String] {
        var fields: [String: String] = [:]
        for (name, value) in [("actor", actor), ("action", action), ("target", target), ("from", from), ("to", to)] {
            if let value { fields[name] = value }
        }
        return fields
    }
}

/// The admin pages: holds, erasure, rules, users (the audit page is in Pages).
extension Pages {
    func outcome(_ values: inout [String: Any], _ outcome: CallServer.AdminOutcome?) {
        guard let outcome else { return }
        values["outcome"] = ["failed": outcome.failed, "lines": outcome.lines.map { ["line": $0] }]
    }

    func adminIndex(session: ServeSession) -> String {
        render("admin", frame(session, title: "Administration"))
    }

    func holds(session: ServeSession, held: [CatalogRecording], outcome: CallServer.AdminOutcome?) -> String {
        var values = frame(session, title: "Legal holds")
        self.outcome(&values, outcome)
        values["csrf"] = session.csrf
        values["held"] = held.map { r -> [String: Any] in
            [
                "id": r.id, "start": Self.time(r.start), "caller": r.caller ?? "?", "callee": r.callee ?? "?", "reason": r.holdReason ?? "",
                "by": r.holdBy ?? "?", "at": r.holdAtEpoch.map { Self.time(ISO8601Time.seconds($0)) } ?? "",
            ]
        }
        values["none"] = held.isEmpty
        return render("holds", values)
    }

    func erasure(session: ServeSession, outcome: CallServer.AdminOutcome?) -> String {
        var values = frame(session, title: "Erasure")
        self.outcome(&values, outcome)
        values["csrf"] = session.csrf
        return render("erasure", values)
    }

    func adminRules(session: ServeSession, rules: [RecordingRule], outcome: CallServer.AdminOutcome?) -> String {
        var values = frame(session, title: "Recording rules (admin)")
        self.outcome(&values, outcome)
        values["csrf"] = session.csrf
        values["rules"] = rules.map { rule -> [String: Any] in
            ["id": rule.id, "position": rule.position, "name": rule.name ?? "", "summary": rule.summary]
        }
        values["none"] = rules.isEmpty
        return render("admin-rules", values)
    }

    func users(session: ServeSession, users: [CatalogUser], outcome: CallServer.AdminOutcome?) -> String {
        var values = frame(session, title: "Users")
        self.outcome(&values, outcome)
        values["csrf"] = session.csrf
        values["users"] = users.map { u -> [String: Any] in
            [
                "name": u.name, "team": u.team ?? "", "numbers": u.numbers.map(\.text).joined(separator: " "), "disabled": u.disabled,
                "key": u.recipient ?? "none", "roles": Role.allCases.map { ["value": $0.rawValue, "selected": $0 == u.role] },
                "self": u.name == session.user.name,
            ]
        }
        values["roles"] = Role.allCases.map { ["value": $0.rawValue] }
        return render("users", values)
    }

    static let adminTemplates: [String: String] = [
        "outcome": """
            {{#outcome}}<div id="outcome" class="{{#failed}}error{{/failed}}{{^failed}}done{{/failed}}">{{#lines}}<p>{{line}}</p>{{/lines}}</div>{{/outcome}}
            """,
        "admin": """
            {{> head}}
            <h1>Administration</h1>
            <ul>
            <li><a href="/admin/holds">Legal holds</a>: place and lift, with the case</li>
            <li><a href="/admin/erasure">Erasure</a>: delete a recording, erase a party's calls, purge what is past retention</li>
            <li><a href="/admin/rules">Recording rules</a>: add and remove</li>
            <li><a href="/admin/users">Users</a>: add, roles, teams, numbers, passwords, disable</li>
            <li><a href="/admin/audit">Audit log</a></li>
            </ul>
            {{> foot}}
            """,
        "holds": """
            {{> head}}
            <h1>Legal holds</h1>
            {{> outcome}}
            <p>A recording under legal hold is kept: no purge, deletion or erasure removes it until the hold is lifted (<code>callrec catalog hold</code> / <code>release</code>).</p>
            <form method="post" action="/admin/holds" class="search" id="hold-form">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>Recording id <input name="id" id="hold-id" required maxlength="64" placeholder="20261129T081530Z-3f9a1c2e"></label>
            <label>Reason (the case or matter) <input name="reason" id="hold-reason" required maxlength="200"></label>
            <button type="submit" id="hold">Place hold</button>
            </form>
            {{#none}}<p id="empty">No recording is under legal hold.</p>{{/none}}
            <table id="holds">
            <thead><tr><th>Recording</th><th>Start</th><th>Caller</th><th>Callee</th><th>Reason</th><th>By</th><th>Since</th><th>Lift</th></tr></thead>
            <tbody>
            {{#held}}<tr><td>{{id}}</td><td>{{start}}</td><td>{{caller}}</td><td>{{callee}}</td><td>{{reason}}</td><td>{{by}}</td><td>{{at}}</td><td><form method="post" action="/admin/holds" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><input type="hidden" name="release" value="1"><input name="reason" required maxlength="200" placeholder="why"><button type="submit">Lift</button></form></td></tr>{{/held}}
            </tbody>
            </table>
            {{> foot}}
            """,
        "erasure": """
            {{> head}}
            <h1>Erasure</h1>
            {{> outcome}}
            <p>What is erased is gone: its files, its row, and the personal fields of the audit entries about it. A recording under legal hold is kept and said so.</p>
            <h2>Delete one recording</h2>
            <form method="post" action="/admin/erasure" class="search">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="what" value="delete">
            <label>Recording id <input name="id" id="delete-id" required maxlength="64"></label>
            <label>Reason <input name="reason" id="delete-reason" required maxlength="200"></label>
            <button type="submit" id="delete">Delete</button>
            </form>
            <h2>Erase every recording of a party (right to erasure)</h2>
            <form method="post" action="/admin/erasure" class="search">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="what" value="forget">
            <label>Number (exact) <input name="number" id="forget-number" required maxlength="64"></label>
            <label>Reason <input name="reason" id="forget-reason" required maxlength="200" placeholder="erasure request 2026-118"></label>
            <button type="submit" id="forget">Erase</button>
            </form>
            <h2>Purge what is past its retention</h2>
            <form method="post" action="/admin/erasure" class="search">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="what" value="purge">
            <label>Reason <input name="reason" maxlength="200" placeholder="retention ended"></label>
            <label>Only list <input type="checkbox" name="dry_run" value="1" checked></label>
            <button type="submit" id="purge">Purge</button>
            </form>
            {{> foot}}
            """,
        "admin-rules": """
            {{> head}}
            <h1>Recording rules</h1>
            {{> outcome}}
            <p>Tried in order; the first that matches a call decides. A call no rule matches is recorded and kept 24 months. <code>callrec catalog rules test</code> explains a decision.</p>
            {{#none}}<p id="empty">No rules: every call is recorded.</p>{{/none}}
            <table id="rules">
            <thead><tr><th>#</th><th>Id</th><th>Name</th><th>Rule</th><th></th></tr></thead>
            <tbody>
            {{#rules}}<tr><td>{{position}}</td><td>{{id}}</td><td>{{name}}</td><td>{{summary}}</td><td><form method="post" action="/admin/rules" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="remove" value="{{id}}"><button type="submit">Remove</button></form></td></tr>{{/rules}}
            </tbody>
            </table>
            <h2>Add a rule</h2>
            <form method="post" action="/admin/rules" class="search" id="rule-form">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>Action <select name="action" id="rule-action"><option value="record">record</option><option value="skip">skip</option></select></label>
            <label>Name <input name="name" id="rule-name" maxlength="200"></label>
            <label>Direction <select name="direction"><option value="">any</option><option>inbound</option><option>outbound</option><option>internal</option><option>unknown</option></select></label>
            <label>Local number <input name="local" id="rule-local" placeholder="+46812*"></label>
            <label>Remote number <input name="remote" placeholder="+467*"></label>
            <label>Days <input name="days" placeholder="mon-fri"></label>
            <label>Hours <input name="hours" placeholder="08:00-17:00"></label>
            <label>Except <input name="except" placeholder="12:00-13:00"></label>
            <label>Zone <input name="tz" value="UTC"></label>
            <label>Sample % <input name="sample" type="number" min="0" max="100" step="any" value="100"></label>
            <label>Retain <input name="retain" id="rule-retain" placeholder="24m"></label>
            <label>Position <input name="position" type="number" min="1" step="1"></label>
            <button type="submit" id="add-rule">Add rule</button>
            </form>
            {{> foot}}
            """,
        "users": """
            {{> head}}
            <h1>Users</h1>
            {{> outcome}}
            <table id="users">
            <thead><tr><th>Name</th><th>Role, team, numbers</th><th>Key</th><th>New password</th><th></th></tr></thead>
            <tbody>
            {{#users}}<tr{{#disabled}} class="refused"{{/disabled}}><td>{{name}}{{#disabled}} (disabled){{/disabled}}</td>
            <td><form method="post" action="/admin/users" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="op" value="change"><input type="hidden" name="name" value="{{name}}"><select name="role">{{#roles}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/roles}}</select> <input name="team" value="{{team}}" placeholder="team" size="8"> <input name="numbers" value="{{numbers}}" placeholder="+4681234567 +46812*" size="18"> <button type="submit">Save</button></form></td>
            <td class="key">{{key}}</td>
            <td><form method="post" action="/admin/users" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="op" value="password"><input type="hidden" name="name" value="{{name}}"><input name="password" type="password" autocomplete="new-password" minlength="8" required size="10"> <button type="submit" title="A new key too: recordings sealed to the old one need catalog reseal">Set</button></form></td>
            <td>{{^self}}<form method="post" action="/admin/users" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}">{{#disabled}}<input type="hidden" name="op" value="enable"><button type="submit">Enable</button>{{/disabled}}{{^disabled}}<input type="hidden" name="op" value="disable"><button type="submit">Disable</button>{{/disabled}}</form>{{/self}}</td></tr>{{/users}}
            </tbody>
            </table>
            <h2>Add a user</h2>
            <form method="post" action="/admin/users" class="search" id="user-form">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="op" value="add">
            <label>Name <input name="name" id="user-name" required maxlength="100"></label>
            <label>Role <select name="role" id="user-role">{{#roles}}<option value="{{value}}">{{value}}</option>{{/roles}}</select></label>
            <label>Team <input name="team" id="user-team"></label>
            <label>Numbers <input name="numbers" id="user-numbers" placeholder="+4681234567 +46812*"></label>
            <label>Password (8 or more characters) <input name="password" id="user-password" type="password" autocomplete="new-password" minlength="8" required></label>
            <button type="submit" id="add-user">Add user</button>
            </form>
            {{> foot}}
            """,
        "audit": """
            {{> head}}
            <h1>Audit log</h1>
            <form method="get" action="/admin/audit" class="search">
            <label>User <input name="actor" value="{{actor}}"></label>
            <label>Action <input name="action" value="{{action}}" placeholder="hold, export, login"></label>
            <label>Target <input name="target" value="{{target}}"></label>
            <label>From <input name="from" type="date" value="{{from}}"></label>
            <label>To <input name="to" type="date" value="{{to}}"></label>
            <button type="submit">Show</button>
            </form>
            {{#error}}<p class="error" id="message">{{error}}</p>{{/error}}
            {{#none}}<p id="empty">No entries.</p>{{/none}}
            <table id="audit">
            <thead><tr><th>#</th><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Outcome</th><th>Reason</th><th>Detail</th></tr></thead>
            <tbody>
            {{#entries}}<tr{{#refused}} class="refused"{{/refused}}><td>{{seq}}</td><td>{{at}}</td><td>{{actor}}</td><td>{{action}}</td><td>{{target}}</td><td>{{outcome}}</td><td>{{reason}}</td><td>{{detail}}</td></tr>{{/entries}}
            </tbody>
            </table>
            {{#next}}<p><a id="older" href="{{next}}">Older entries</a></p>{{/next}}
            {{> foot}}
            """,
    ]
}
