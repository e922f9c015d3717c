#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory lock beside the catalog (`catalog.sqlite.lock`, `flock(2)`):
/// converts hold it shared while they write recordings, `verify` holds it
/// exclusive while it repairs, so verify never settles a commit that a
/// running convert is still making. Released when the owner is dropped (or
/// the process dies).
public final class CatalogLock {
    private let fd: Int32

    /// Takes the lock for the catalog at `catalogPath` without waiting.
    /// - Throws: `CatalogError.busy` when a holder of the other kind has it.
    init(catalogPath: String, exclusive: Bool) throws {
        let path = catalogPath + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CatalogError(.io, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        guard flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            close(fd)
            throw CatalogError(
                .busy,
                exclusive
                    ? "\(catalogPath): a convert is writing to this catalog; run verify when it has finished"
                    : "\(catalogPath): catalog verify is repairing this catalog; convert when it has finished")
        }
    }

    deinit { close(fd) }
}

extension CatalogStore {
    /// The lock a writer of recordings (convert, record) holds while it runs.
    public func writerLock() throws -> CatalogLock { try CatalogLock(catalogPath: path, exclusive: false) }
}
