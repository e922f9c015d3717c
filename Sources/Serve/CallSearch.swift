import CallrecCore
import Catalog
import Foundation
import HTTPTypes

/// The search of "my latest calls" and `GET /api/calls`, from the query
/// string: `number` (exact, `prefix*` or a pattern with `*` and `?`),
/// `from` and `to` (dates or ISO 8601 times, UTC unless they carry an
/// offset; `to` with a date alone includes that day), `direction`,
/// `min_duration`, `max_duration`, `min_talk`, `max_talk` (seconds; talk:
/// both parties together), `dtmf` (`yes`/`no`), `tag`, `note` (text in a
/// note on the call), `limit`
/// (1 to 500) and `before` (the id of the last call of the previous page).
struct CallSearch {
    var query: RecordingQuery
    var before: String?
    /// What was asked, as given (for the form and the audit log).
    var fields: [String: String]

    struct Invalid: Error {
        var status: HTTPResponse.Status = .badRequest
        var message: String
    }

    static let names = ["number", "from", "to", "direction", "min_duration", "max_duration", "min_talk", "max_talk", "dtmf", "tag", "note", "limit", "before"]

    /// The search of a request's query string (`query`, percent-decoded into `parameters`).
    init(queryString: String?, parameters: [(String, String)], pageSize: Int) throws {
        if (queryString?.utf8.count ?? 0) > CallServer.maximumQueryLength {
            throw Invalid(status: .uriTooLong, message: "the query string is longer than \(CallServer.maximumQueryLength) bytes")
        }
        var fields: [String: String] = [:]
        for (key, value) in parameters {
            guard Self.names.contains(key) else { continue }
            let value = String(value).trimmingCharacters(in: .whitespaces)
            guard value.utf8.count <= CallServer.maximumFieldLength else { throw Invalid(message: "\(key) is too long") }
            if !value.isEmpty { fields[key] = value }
        }
        self.fields = fields
        query = RecordingQuery(limit: pageSize)
        if let number = fields["number"] {
            guard let pattern = NumberPattern(number) else { throw Invalid(message: "number: '\(number)' is not a number or pattern") }
            query.number = pattern
        }
        query.from = try fields["from"].map { try Self.time($0, "from", endOfDay: false) }
        query.to = try fields["to"].map { try Self.time($0, "to", endOfDay: true) }
        if let direction = fields["direction"] {
            guard let d = CallDirection(rawValue: direction) else { throw Invalid(message: "direction must be inbound, outbound, internal or unknown") }
            query.direction = d
        }
        query.minDuration = try fields["min_duration"].map { try Self.seconds($0, "min_duration") }
        query.maxDuration = try fields["max_duration"].map { try Self.seconds($0, "max_duration") }
        query.minTalk = try fields["min_talk"].map { try Self.seconds($0, "min_talk") }
        query.maxTalk = try fields["max_talk"].map { try Self.seconds($0, "max_talk") }
        if let dtmf = fields["dtmf"] {
            switch dtmf {
            case "yes", "true", "1": query.dtmf = true
            case "no", "false", "0": query.dtmf = false
            default: throw Invalid(message: "dtmf must be yes or no")
            }
        }
        if let tag = fields["tag"] {
            guard let normalized = CatalogStore.normalizedTag(tag) else { throw Invalid(message: "tag: '\(tag)' is not a tag") }
            query.tag = normalized
        }
        query.noteText = fields["note"]
        if let limit = fields["limit"] {
            guard let n = Int(limit), (1...500).contains(n) else { throw Invalid(message: "limit must be a whole number from 1 to 500") }
            query.limit = n
        }
        if let before = fields["before"] {
            guard RecordingID.isPlausible(before) else { throw Invalid(message: "before must be a recording id") }
            self.before = before
        }
    }

    /// `number=+4681* from=2026-11-01`, for the audit log.
    var summary: String {
        let shown = Self.names.compactMap { name in fields[name].map { "\(name)=\($0)" } }
        return shown.isEmpty ? "latest calls" : "search " + shown.joined(separator: " ")
    }

    static func seconds(_ text: String, _ name: String) throws -> Double {
        guard let value = Double(text), value.isFinite, value >= 0 else { throw Invalid(message: "\(name) must be a number of seconds") }
        return value
    }

    /// `2026-11-29` (its start, or with `endOfDay` the next midnight), or an ISO 8601 time.
    static func time(_ text: String, _ name: String, endOfDay: Bool) throws -> Double {
        if let epoch = ISO8601Time.parse(text) { return epoch }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        }
        formatter.dateFormat = "yyyy-MM-dd"
        if let day = formatter.date(from: text) { return day.timeIntervalSince1970 + (endOfDay ? 86400 : 0) }
        throw Invalid(message: "\(name): '\(text)' is not a date (2026-11-29) or time (2026-11-29T08:15:30Z)")
    }
}
