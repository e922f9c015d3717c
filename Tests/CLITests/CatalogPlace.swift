import CallrecTestSupport
import Testing

/// A new output folder for a CLI test, and what names it to convert, record
/// and every catalog command: `--out DIR` (the catalog is DIR/catalog.sqlite),
/// or on PostgreSQL `--out DIR --catalog postgresql://...`, a database of its
/// own on the test server.
func catalogPlace(_ backend: CatalogBackend, _ name: String) throws -> (out: String, at: [String]) {
    let out = FixturePaths.temporaryDirectory(name)
    return (out, ["--out", out] + (backend == .sqlite ? [] : ["--catalog", try backend.newCatalog(folder: out)]))
}

extension Trait where Self == ConditionTrait {
    /// A test that needs the test PostgreSQL server (off with `CALLREC_TEST_POSTGRES=skip`).
    static var postgres: Self { .enabled(if: !PostgresServer.skipped, "CALLREC_TEST_POSTGRES=skip") }
}
