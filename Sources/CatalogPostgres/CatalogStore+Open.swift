import Catalog
import Foundation

extension CatalogStore {
    /// Opens the catalog at `location`, either backend:
    ///
    /// - a path (`recordings/catalog.sqlite`): the SQLite file; recordings'
    ///   paths are relative to its folder;
    /// - a URL (`postgresql://callrec@db.example.com/calls`, `postgres://...`,
    ///   `postgresql:///calls?host=/var/run/postgresql`): a PostgreSQL
    ///   database; recordings' paths are relative to `folder` (the `--out`
    ///   folder), whose storage is named `storage` (default:
    ///   `<host name>:<absolute folder>`).
    ///
    /// Runs the migrations.
    /// - Parameter create: when false, a missing catalog (no SQLite file; a
    ///   PostgreSQL database without the catalog's tables) is an error rather
    ///   than a new empty catalog. A PostgreSQL database itself is never
    ///   created: it must exist.
    public static func open(_ location: String, folder: String, storage: String? = nil, create: Bool = true) throws -> CatalogStore {
        guard PostgresURL.isURL(location) else { return try CatalogStore(path: location, create: create) }
        let url = try PostgresURL(location)
        let database = try PostgresCatalogDatabase(url: url)
        if !create, try !database.holdsCatalog() {
            throw CatalogError(
                .notFound,
                "\(url.redacted): no catalog in this database yet (callrec convert or record with --catalog \(url.redacted) creates it)")
        }
        return try CatalogStore(database: database, folder: folder, storage: storage ?? defaultStorage(folder: folder))
    }

    /// `<host name>:<absolute folder>`: what tells one recorder's storage from another's in a shared catalog.
    public static func defaultStorage(folder: String) -> String {
        var absolute = folder
        if let resolved = realpath(folder, nil) {
            absolute = String(cString: resolved)
            free(resolved)
        } else if !folder.hasPrefix("/") {
            absolute = FileManager.default.currentDirectoryPath + "/" + folder
        }
        return hostName + ":" + absolute
    }
}
