/// A note on a recording: who wrote what, when. Notes are kept in the
/// catalog (searchable), removed with their recording (erasure, retention),
/// and every one written is audited (the audit entry names the note, not
/// its text).
public struct RecordingNote: Sendable, Equatable, Encodable {
    public var id: Int64
    public var author: String
    public var atEpoch: Double
    public var text: String

    enum CodingKeys: String, CodingKey {
        case id, author, text
        case atEpoch = "at_epoch"
    }
}

/// A tag on a recording (`complaint`, `qa-2026-11`), who set it and when.
public struct RecordingTag: Sendable, Equatable, Encodable {
    public var tag: String
    public var author: String
    public var atEpoch: Double

    enum CodingKeys: String, CodingKey {
        case tag, author
        case atEpoch = "at_epoch"
    }
}

extension CatalogStore {
    /// The longest note, in characters.
    public static let maximumNoteLength = 4000
    /// The longest tag, in characters.
    public static let maximumTagLength = 40

    static func trimmed(_ text: String) -> String {
        String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }

    /// A tag as stored: lower case letters, digits, `-`, `_`, `.` and `:`, 1 to 40 of them; nil for anything else.
    public static func normalizedTag(_ text: String) -> String? {
        let tag = trimmed(text).lowercased()
        guard (1...maximumTagLength).contains(tag.count),
            tag.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0) })
        else { return nil }
        return tag
    }

    /// Adds a note to recording `id` for `actor`, who must be able to see it (a refusal is audited). Audited.
    /// - Throws: `CatalogError(.invalid)` for an empty or too long note; `.notFound`, `.refused`.
    @discardableResult
    public func addNote(_ text: String, to id: String, by actor: CatalogActor, at now: Double) throws -> RecordingNote {
        let text = Self.trimmed(text)
        guard !text.isEmpty, text.count <= Self.maximumNoteLength else {
            throw CatalogError(.invalid, "a note must be 1 to \(Self.maximumNoteLength) characters long")
        }
        _ = try authorizedRecording(id: id, action: "note", by: actor, reason: nil, at: now)
        return try write { db in
            let row = try db.queryOne(
                sql: "INSERT INTO recording_notes (recording_id, author, at_epoch, body) VALUES (?, ?, ?, ?) RETURNING id",
                arguments: [id, actor.auditName, now, text])
            let note = RecordingNote(id: try row.map { try $0["id"] } ?? 0, author: actor.auditName, atEpoch: now, text: text)
            try Self.appendAudit(db, at: now, actor: actor, action: "note", target: id, outcome: .done, detail: "note #\(note.id), \(text.count) characters")
            return note
        }
    }

    /// The notes on recording `id`, oldest first (the caller has checked that the actor may see it).
    public func notes(of id: String) throws -> [RecordingNote] {
        try read { db in
            try db.query(
                sql: "SELECT id, author, at_epoch, body FROM recording_notes WHERE recording_id = ? ORDER BY id", arguments: [id]
            ).map { RecordingNote(id: try $0["id"], author: try $0["author"], atEpoch: try $0["at_epoch"], text: try $0["body"]) }
        }
    }

    /// Sets (`on`) or removes a tag on recording `id` for `actor`, who must be able to see it. Audited (`+tag`, `-tag`).
    /// - Throws: `CatalogError(.invalid)` for a tag `normalizedTag` refuses; `.notFound`, `.refused`.
    public func setTag(_ text: String, on: Bool, recording id: String, by actor: CatalogActor, at now: Double) throws {
        guard let tag = Self.normalizedTag(text) else {
            throw CatalogError(.invalid, "a tag is 1 to \(Self.maximumTagLength) letters, digits, '-', '_', '.' or ':'")
        }
        _ = try authorizedRecording(id: id, action: "tag", by: actor, reason: nil, at: now)
        try write { db in
            let changed: Int
            if on {
                changed = try db.execute(
                    sql: "INSERT INTO recording_tags (recording_id, tag, author, at_epoch) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [id, tag, actor.auditName, now])
            } else {
                changed = try db.execute(sql: "DELETE FROM recording_tags WHERE recording_id = ? AND tag = ?", arguments: [id, tag])
            }
            if changed > 0 {
                try Self.appendAudit(db, at: now, actor: actor, action: "tag", target: id, outcome: .done, detail: (on ? "+" : "-") + tag)
            }
        }
    }

    /// The tags on recording `id`, by name.
    public func tags(of id: String) throws -> [RecordingTag] {
        try read { db in
            try db.query(sql: "SELECT tag, author, at_epoch FROM recording_tags WHERE recording_id = ? ORDER BY tag", arguments: [id])
                .map { RecordingTag(tag: try $0["tag"], author: try $0["author"], atEpoch: try $0["at_epoch"]) }
        }
    }

    /// The notes on recording `id` as `actor` may read them (through the viewer role when there is one).
    public func notes(of id: String, by actor: CatalogActor) throws -> [RecordingNote] {
        try readAs(actor) { db in
            try db.query(
                sql: "SELECT id, author, at_epoch, body FROM recording_notes WHERE recording_id = ? ORDER BY id", arguments: [id]
            ).map { RecordingNote(id: try $0["id"], author: try $0["author"], atEpoch: try $0["at_epoch"], text: try $0["body"]) }
        }
    }

    /// The tags of recording `id` as `actor` may read them (through the viewer role when there is one).
    public func tags(of id: String, by actor: CatalogActor) throws -> [RecordingTag] {
        try readAs(actor) { db in
            try db.query(sql: "SELECT tag, author, at_epoch FROM recording_tags WHERE recording_id = ? ORDER BY tag", arguments: [id])
                .map { RecordingTag(tag: try $0["tag"], author: try $0["author"], atEpoch: try $0["at_epoch"]) }
        }
    }
}
