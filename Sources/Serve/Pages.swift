import CallrecCore
import Catalog
import Foundation
import Keyring
import Mustache
import Output

/// The server-rendered pages: mustache templates (swift-mustache), compiled
/// into the binary so that `callrec serve` needs no files beside it. Every
/// value from the catalog (numbers and Call-IDs come from the network) goes
/// through mustache's HTML escaping (`{{…}}`, never `{{{…}}}`).
struct Pages: Sendable {
    let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in Self.templates.merging(Self.adminTemplates, uniquingKeysWith: { first, _ in first }) {
            try library.register(text, named: name)
        }
        self.library = library
    }

    func render(_ name: String, _ values: [String: Any]) -> String {
        library.render(values, withTemplate: name) ?? ""
    }

    func frame(_ session: ServeSession?, title: String) -> [String: Any] {
        var values: [String: Any] = ["title": title]
        if let session {
            values["session"] = [
                "user": session.user.name, "role": session.user.role.rawValue, "csrf": session.csrf, "admin": session.user.role == .admin,
            ]
        }
        return values
    }

    func login(csrf: String, message: String?, user: String) -> String {
        var values = frame(nil, title: "Sign in")
        values["csrf"] = csrf
        values["user"] = user
        if let message { values["message"] = message }
        return render("login", values)
    }

    func message(title: String, text: String, session: ServeSession?) -> String {
        var values = frame(session, title: title)
        values["text"] = text
        return render("message", values)
    }

    func calls(session: ServeSession, search: CallSearch?, recordings: [CatalogRecording], next: String?, error: String?) -> String {
        var values = frame(session, title: "My latest calls")
        let fields = search?.fields ?? [:]
        values["number"] = fields["number"] ?? ""
        values["from"] = fields["from"] ?? ""
        values["to"] = fields["to"] ?? ""
        values["directions"] = ["", "inbound", "outbound", "internal", "unknown"].map { d in
            ["value": d, "label": d.isEmpty ? "any" : d, "selected": fields["direction"] == d]
        }
        values["min_duration"] = fields["min_duration"] ?? ""
        values["min_talk"] = fields["min_talk"] ?? ""
        values["tag"] = fields["tag"] ?? ""
        values["note"] = fields["note"] ?? ""
        values["dtmf_choices"] = [("", "any"), ("yes", "with DTMF"), ("no", "without")].map { value, label in
            ["value": value, "label": label, "selected": (fields["dtmf"] ?? "") == value]
        }
        if let error { values["error"] = error }
        values["calls"] = recordings.map { r -> [String: Any] in
            [
                "id": r.id, "start": Self.time(r.start), "direction": r.direction, "caller": r.caller ?? "?", "callee": r.callee ?? "?",
                "duration": Self.duration(r.durationS), "dtmf": (r.dtmfCount ?? 0) > 0, "held": r.isHeld,
            ]
        }
        values["none"] = recordings.isEmpty && error == nil
        if let next {
            var query = fields
            query["before"] = next
            values["next"] = "/?" + query.keys.sorted().map { "\($0)=\(Self.percentEncoded(query[$0]!))" }.joined(separator: "&")
        }
        return render("calls", values)
    }

    func call(
        session: ServeSession, recording r: CatalogRecording, index: CallIndex?, sealed: Bool, notes: [RecordingNote], tags: [RecordingTag],
        needsReason: Bool
    ) -> String {
        var values = frame(session, title: "Call \(r.id)")
        values["id"] = r.id
        values["caller"] = r.caller ?? "?"
        values["callee"] = r.callee ?? "?"
        values["start"] = Self.time(r.start)
        values["duration"] = Self.duration(r.durationS)
        values["direction"] = r.direction
        values["codecs"] = r.codecs + (r.sampleRate.map { " at \($0) Hz" } ?? "")
        values["end_reason"] = r.endReason
        values["sealed"] = sealed
        if let hold = r.holdReason { values["held"] = ["reason": hold] }
        if r.onDemand { values["on_demand"] = ["until": Self.time(ISO8601Time.seconds(r.retainUntilEpoch))] }
        if let by = r.keptBy { values["kept"] = ["by": by, "at": r.keptAtEpoch.map { Self.time(ISO8601Time.seconds($0)) } ?? ""] }
        values["may_discard"] = r.holdReason == nil
        values["overtalk"] = r.overtalkS.map { String(format: "%.1f s", $0) } ?? "–"
        if let index {
            values["channels"] = index.channels.map { c -> [String: Any] in
                [
                    "speaker": c.speaker, "party": (c.speaker == "caller" ? r.caller : r.callee) ?? "?", "codec": c.codec ?? "–", "packets": c.packets, "lost": c.lost,
                    "jitter": String(format: "%.1f", c.jitterMs), "talk": String(format: "%.1f s", c.talkTimeS),
                ]
            }
            values["dtmf"] = index.dtmf.map { d -> [String: Any] in
                ["digit": d.digit ?? "?", "at": String(format: "%.2f s", d.atS), "speaker": d.channel == 0 ? "caller" : "callee"]
            }
            values["has_dtmf"] = !index.dtmf.isEmpty
        }
        values["notes"] = notes.map { n -> [String: Any] in
            ["author": n.author, "at": Self.time(ISO8601Time.seconds(n.atEpoch)), "text": n.text]
        }
        values["tags"] = tags.map { t -> [String: Any] in ["tag": t.tag, "author": t.author] }
        values["csrf"] = session.csrf
        values["needs_reason"] = needsReason
        return render("call", values)
    }

    func audit(session: ServeSession, entries: [AuditEntry], filter: AuditFilter, next: Int64?, error: String?) -> String {
        var values = frame(session, title: "Audit log")
        values["actor"] = filter.actor ?? ""
        values["action"] = filter.action ?? ""
        values["target"] = filter.target ?? ""
        values["from"] = filter.from ?? ""
        values["to"] = filter.to ?? ""
        if let error { values["error"] = error }
        values["entries"] = entries.map { e -> [String: Any] in
            [
                "seq": e.seq.map(String.init) ?? "–", "at": Self.time(ISO8601Time.seconds(e.atEpoch)), "actor": e.actor, "action": e.action,
                "target": e.redacted ? "[erased]" : e.target ?? "", "outcome": e.outcome.rawValue, "refused": e.outcome != .done,
                "reason": e.reason ?? "", "detail": e.detail ?? "",
            ]
        }
        values["none"] = entries.isEmpty && error == nil
        if let next {
            let query = filter.fields.merging(["before": String(next)]) { _, new in new }
            values["next"] = "/admin/audit?" + query.keys.sorted().map { "\($0)=\(Self.percentEncoded(query[$0]!))" }.joined(separator: "&")
        }
        return render("audit", values)
    }

    func rules(session: ServeSession, rules: [RecordingRule]) -> String {
        var values = frame(session, title: "Recording rules")
        let own = session.user.numbers
        values["numbers"] = own.map(\.text).joined(separator: ", ")
        values["rules"] = rules.map { rule -> [String: Any] in
            // Whether the rule's local number can be one of the user's: exact numbers are tried, a pattern of theirs is shown as possible.
            let applies = rule.local.map { local in own.contains { $0.isExact ? local.matches($0.text) : true } } ?? true
            return ["position": rule.position, "name": rule.name ?? "", "summary": rule.summary, "applies": applies]
        }
        values["none"] = rules.isEmpty
        return render("rules", values)
    }

    /// `2026-11-29 08:15:30 UTC` of an ISO time.
    static func time(_ iso: String) -> String {
        String(iso.prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    /// `1:02:03` or `2:03`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    static let templates: [String: String] = [
        "head": """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} – callrec</title>
            <link rel="stylesheet" href="/static/app.css">
            <script type="module" src="/static/app.js"></script>
            </head>
            <body>
            <header>
            <a class="brand" href="/">callrec</a>
            {{#session}}
            <a class="nav" href="/rules">Recording rules</a>
            {{#admin}}<a class="nav" href="/admin/holds">Holds</a> <a class="nav" href="/admin/erasure">Erasure</a> <a class="nav" href="/admin/rules">Rules (admin)</a> <a class="nav" href="/admin/users">Users</a> <a class="nav" href="/admin/audit">Audit log</a>{{/admin}}
            <span class="who">{{user}} ({{role}})</span>
            <form method="post" action="/logout" class="logout">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" id="logout">Sign out</button>
            </form>
            {{/session}}
            </header>
            <main>
            """,
        "foot": """
            </main>
            </body>
            </html>
            """,
        "login": """
            {{> head}}
            <h1>Sign in</h1>
            {{#message}}<p class="error" id="message">{{message}}</p>{{/message}}
            <form method="post" action="/login" class="login">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>User <input name="user" id="user" value="{{user}}" autocomplete="username" required autofocus></label>
            <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
            <button type="submit" id="signin">Sign in</button>
            </form>
            {{> foot}}
            """,
        "message": """
            {{> head}}
            <h1>{{title}}</h1>
            <p id="message">{{text}}</p>
            <p><a href="/">My latest calls</a></p>
            {{> foot}}
            """,
        "calls": """
            {{> head}}
            <h1>My latest calls</h1>
            <form method="get" action="/" class="search">
            <label>Number <input name="number" value="{{number}}" placeholder="+4681234567, +46812*"></label>
            <label>From <input name="from" type="date" value="{{from}}"></label>
            <label>To <input name="to" type="date" value="{{to}}"></label>
            <label>Direction <select name="direction">{{#directions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/directions}}</select></label>
            <label>Longer than (s) <input name="min_duration" type="number" min="0" step="1" value="{{min_duration}}"></label>
            <label>Talk time over (s) <input name="min_talk" type="number" min="0" step="1" value="{{min_talk}}"></label>
            <label>Tag <input name="tag" value="{{tag}}"></label>
            <label>Note contains <input name="note" value="{{note}}"></label>
            <label>DTMF <select name="dtmf">{{#dtmf_choices}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/dtmf_choices}}</select></label>
            <button type="submit">Search</button>
            </form>
            {{#error}}<p class="error" id="message">{{error}}</p>{{/error}}
            {{#none}}<p id="empty">No calls.</p>{{/none}}
            <table id="calls">
            <thead><tr><th>Start</th><th>Direction</th><th>Caller</th><th>Callee</th><th>Length</th><th></th></tr></thead>
            <tbody>
            {{#calls}}
            <tr><td><a class="call" href="/calls/{{id}}">{{start}}</a></td><td>{{direction}}</td><td>{{caller}}</td><td>{{callee}}</td><td>{{duration}}</td><td>{{#dtmf}}DTMF {{/dtmf}}{{#held}}hold{{/held}}</td></tr>
            {{/calls}}
            </tbody>
            </table>
            {{#next}}<p><a id="older" href="{{next}}">Older calls</a></p>{{/next}}
            {{> foot}}
            """,
        "rules": """
            {{> head}}
            <h1>Recording rules</h1>
            <p>The rules are tried in order; the first that matches a call decides whether it is recorded and how long it is kept. A call no rule matches is recorded and kept 24 months. Your numbers: {{numbers}}{{^numbers}}none{{/numbers}}.</p>
            {{#none}}<p id="empty">No rules: every call is recorded.</p>{{/none}}
            <table id="rules">
            <thead><tr><th>#</th><th>Name</th><th>Rule</th><th>Your calls</th></tr></thead>
            <tbody>
            {{#rules}}<tr><td>{{position}}</td><td>{{name}}</td><td>{{summary}}</td><td>{{#applies}}can apply{{/applies}}{{^applies}}–{{/applies}}</td></tr>{{/rules}}
            </tbody>
            </table>
            {{> foot}}
            """,
        "call": """
            {{> head}}
            <h1>{{caller}} → {{callee}}</h1>
            <p class="facts">{{start}} · {{duration}} · {{direction}} · {{codecs}} · ended: {{end_reason}}{{#sealed}} · sealed{{/sealed}}{{#held}} · legal hold: {{reason}}{{/held}}</p>
            <section id="player" data-call="{{id}}">
            <div id="lanes"></div>
            <audio id="audio" preload="metadata" src="/calls/{{id}}/audio"></audio>
            <div class="controls">
            <button type="button" id="back" title="Back 10 s (←)">−10 s</button>
            <button type="button" id="play" title="Play or pause (space)">Play</button>
            <button type="button" id="forward" title="Forward 10 s (→)">+10 s</button>
            <span id="time">0:00</span>
            <label>Speed <select id="speed"><option value="1">1×</option><option value="1.5">1.5×</option><option value="2">2×</option></select></label>
            <span class="keys">space play/pause · ← → 10 s · 1 2 3 speed · click or drag the waveform to seek</span>
            </div>
            </section>
            {{#on_demand}}<form method="post" action="/calls/{{id}}/keep" class="inline keep" id="keep-form"><input type="hidden" name="csrf" value="{{csrf}}"><span id="on-demand">Recorded on demand: deleted after {{until}} unless someone keeps it.</span> <button type="submit" id="keep">Keep this call</button></form>{{/on_demand}}
            {{#kept}}<p id="kept">Kept on demand by {{by}}, {{at}}.</p>{{/kept}}
            <form method="get" action="/calls/{{id}}/download" class="inline download">
            {{#needs_reason}}<input name="reason" id="reason" placeholder="why (written to the audit log)" required maxlength="200">{{/needs_reason}}
            <button type="submit" id="download">Download</button>
            </form>
            <h2>Parties and streams</h2>
            <table id="streams">
            <thead><tr><th>Speaker</th><th>Number</th><th>Codec</th><th>Packets</th><th>Lost</th><th>Jitter (ms)</th><th>Talk time</th></tr></thead>
            <tbody>
            {{#channels}}<tr><td>{{speaker}}</td><td>{{party}}</td><td>{{codec}}</td><td>{{packets}}</td><td>{{lost}}</td><td>{{jitter}}</td><td>{{talk}}</td></tr>{{/channels}}
            </tbody>
            </table>
            <p>Overtalk: {{overtalk}}</p>
            <h2>Tags</h2>
            <ul id="tags">{{#tags}}<li><span class="tag">{{tag}}</span> <form method="post" action="/calls/{{id}}/tags" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="tag" value="{{tag}}"><input type="hidden" name="remove" value="1"><button type="submit" title="Remove (set by {{author}})">×</button></form></li>{{/tags}}</ul>
            <form method="post" action="/calls/{{id}}/tags" class="inline">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <input name="tag" id="new-tag" placeholder="complaint, qa" maxlength="40" required>
            <button type="submit" id="add-tag">Add tag</button>
            </form>
            <h2>Notes</h2>
            <ul id="notes">{{#notes}}<li><span class="author">{{author}}</span>, {{at}}: <span class="text">{{text}}</span></li>{{/notes}}</ul>
            <form method="post" action="/calls/{{id}}/notes" class="note">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <textarea name="text" id="new-note" rows="3" maxlength="4000" required></textarea>
            <button type="submit" id="add-note">Add note</button>
            </form>
            {{#has_dtmf}}<h2>DTMF</h2><ul id="dtmf">{{#dtmf}}<li>{{digit}} at {{at}} ({{speaker}})</li>{{/dtmf}}</ul>{{/has_dtmf}}
            {{#may_discard}}<h2>Delete this recording</h2>
            <form method="post" action="/calls/{{id}}/discard" class="search" id="discard-form">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label>Why (written to the audit log) <input name="reason" id="discard-reason" required maxlength="200"></label>
            <button type="submit" id="discard">Delete</button>
            </form>
            <p class="keys">A recording a rule requires, or one under legal hold, is kept.</p>{{/may_discard}}
            <p><a href="/">My latest calls</a></p>
            {{> foot}}
            """,
    ]
}
