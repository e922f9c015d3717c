import Catalog
import CatalogPostgres
import CallrecTestSupport
import Foundation
import Testing

/// Notes and tags on recordings (serve's call page), on both backends: who
/// may write them, searching by them, their audit rows, and that they go
/// with their recording.
@Suite struct NotesTests {
    static let admin = CatalogActor.operator("test")

    func site(_ backend: CatalogBackend) throws -> (CatalogStore, CatalogActor, CatalogActor) {
        let store = try CatalogFixtures.store(backend)
        try CatalogFixtures.recordingWithFiles(store, id: CatalogFixtures.id(1), caller: "+4611", start: 1_795_940_130)
        try CatalogFixtures.recordingWithFiles(store, id: CatalogFixtures.id(2), caller: "+4633", start: 1_795_940_140)
        let alice = CatalogUser(name: "alice", role: .agent, numbers: [try NumberPattern.parse("+4611")])
        let bob = CatalogUser(name: "bob", role: .agent, numbers: [try NumberPattern.parse("+4633")])
        try store.putUser(alice, by: Self.admin, at: 1)
        try store.putUser(bob, by: Self.admin, at: 1)
        return (store, .user(alice), .user(bob))
    }

    @Test(arguments: CatalogBackend.all)
    func notesAndTagsAreKeptSearchedAndAudited(backend: CatalogBackend) throws {
        let (store, alice, bob) = try site(backend)
        let mine = CatalogFixtures.id(1), other = CatalogFixtures.id(2)
        let note = try store.addNote("  Customer asked for a refund; 50% off, call back_later \\ ok  ", to: mine, by: alice, at: 10)
        try store.addNote("second", to: mine, by: alice, at: 11)
        #expect(note.text == "Customer asked for a refund; 50% off, call back_later \\ ok")
        #expect(try store.notes(of: mine).map(\.text) == [note.text, "second"])
        #expect(try store.notes(of: mine).map(\.author) == ["alice", "alice"])
        try store.setTag("Complaint", on: true, recording: mine, by: alice, at: 12)
        try store.setTag("complaint", on: true, recording: mine, by: alice, at: 13)  // already there: no change, no audit row
        try store.setTag("qa:2026-11", on: true, recording: mine, by: alice, at: 14)
        #expect(try store.tags(of: mine).map(\.tag) == ["complaint", "qa:2026-11"])
        // Searching: by tag, by note text (literally: % and _ are not wildcards), within the actor's scope.
        var query = RecordingQuery()
        query.tag = "complaint"
        #expect(try store.find(query, by: alice, at: 20).recordings.map(\.id) == [mine])
        #expect(try store.find(query, by: bob, at: 20).recordings.isEmpty)
        for (text, found) in [("REFUND", true), ("50% off", true), ("50%", true), ("5_%", false), ("back_later", true), ("\\ ok", true), ("nothing", false)] {
            var byNote = RecordingQuery()
            byNote.noteText = text
            #expect(try store.find(byNote, by: Self.admin, at: 20).recordings.map(\.id) == (found ? [mine] : []), "\(text)")
        }
        try store.setTag("complaint", on: false, recording: mine, by: alice, at: 15)
        #expect(try store.tags(of: mine).map(\.tag) == ["qa:2026-11"])
        // Bob may not write on alice's call: refused and audited, nothing written.
        #expect(throws: CatalogError.self) { try store.addNote("mine now", to: mine, by: bob, at: 16) }
        #expect(throws: CatalogError.self) { try store.setTag("x", on: true, recording: mine, by: bob, at: 16) }
        #expect(try store.notes(of: mine).count == 2)
        // Bad input.
        for bad in ["", "   ", String(repeating: "x", count: CatalogStore.maximumNoteLength + 1)] {
            #expect(throws: CatalogError.self) { try store.addNote(bad, to: other, by: bob, at: 17) }
        }
        for bad in ["", "two words", "<b>", String(repeating: "t", count: 41), "naïve"] {
            #expect(throws: CatalogError.self) { try store.setTag(bad, on: true, recording: other, by: bob, at: 17) }
        }
        let log = try store.auditLog(limit: 1000, by: Self.admin, at: 30)
        #expect(log.filter { $0.action == "note" && $0.outcome == .done }.count == 2)
        #expect(log.filter { $0.action == "tag" && $0.outcome == .done }.map { $0.detail ?? "" } == ["+complaint", "+qa:2026-11", "-complaint"])
        #expect(log.contains { $0.action == "note" && $0.outcome == .refused && $0.actor == "bob" })
        // No note's text is in the audit log.
        #expect(!log.contains { ($0.detail ?? "").contains("refund") })
    }

    @Test(arguments: CatalogBackend.all)
    func notesAndTagsGoWithTheirRecording(backend: CatalogBackend) throws {
        let (store, alice, _) = try site(backend)
        let mine = CatalogFixtures.id(1)
        try store.addNote("a note", to: mine, by: alice, at: 10)
        try store.setTag("keep", on: true, recording: mine, by: alice, at: 10)
        _ = try store.delete(id: mine, by: Self.admin, reason: "test", at: 11)
        #expect(try store.notes(of: mine).isEmpty)
        #expect(try store.tags(of: mine).isEmpty)
        let left = try store.read { db in try db.scalar(Int.self, sql: "SELECT count(*) FROM recording_notes") ?? -1 }
        #expect(left == 0)
    }
}
