import Catalog
import CallrecTestSupport
import Testing

@Suite struct CatalogStoreTests {
    func sample(_ id: String, caller: String = "+4611") -> CatalogRecording {
        CatalogRecording(
            id: id, callID: "'; DROP TABLE recordings; --", caller: caller, callee: "+4622", direction: "unknown",
            start: "2026-11-29T08:15:30.120Z", startEpoch: 1_795_940_130.12, durationS: 12.5,
            audioPath: "2026/11/29/\(id).opus", indexPath: "2026/11/29/\(id).json", audioBytes: 1234,
            codecs: "PCMU,PCMU", endReason: "bye")
    }

    @Test func savesAndReadsBackWithHostileTextBound() throws {
        let path = FixturePaths.temporaryDirectory() + "/catalog.sqlite"
        let store = try CatalogStore(path: path)
        try store.save(sample("a"))
        try store.save(sample("b"))
        // Saving the same id again replaces it (idempotent conversion).
        try store.save(sample("a", caller: "+4699"))
        let all = try store.allRecordings()
        #expect(all.count == 2)
        #expect(try store.recording(id: "a")?.caller == "+4699")
        #expect(try store.recording(id: "a")?.callID == "'; DROP TABLE recordings; --")
        // Reopening runs the migrations again without harm.
        #expect(try CatalogStore(path: path).allRecordings().count == 2)
    }
}
