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
    /// - Parameter viewer: a PostgreSQL URL for the same database as a
    ///   viewer role (`catalog viewer-role`): catalog users' queries read
    ///   through it under row-level security (`viewerDatabase`). Refused for
    ///   an SQLite catalog, and for a role that owns the tables or bypasses
    ///   row-level security.
    public static func open(_ location: String, folder: String, storage: String? = nil, create: Bool = true, viewer: String? = nil) throws -> CatalogStore {
        guard PostgresURL.isURL(location) else {
            if viewer != nil {
                throw CatalogError(.invalid, "\(location): a viewer catalog needs a PostgreSQL --catalog (SQLite has no row-level security)")
            }
            return try CatalogStore(path: location, create: create)
        }
        let url = try PostgresURL(location)
        let database = try PostgresCatalogDatabase(url: url)
        if !create, try !database.holdsCatalog() {
            throw CatalogError(
                .notFound,
                "\(url.redacted): no catalog in this database yet (callrec convert or record with --catalog \(url.redacted) creates it)")
        }
        // Migrated first (through the owner), then the viewer role checked against the migrated catalog.
        let owner = try CatalogStore(database: database, folder: folder, storage: storage ?? defaultStorage(folder: folder))
        guard let viewer else { return owner }
        let viewerURL = try PostgresURL(viewer)
        guard viewerURL.host == url.host, viewerURL.port == url.port, viewerURL.database == url.database else {
            throw CatalogError(
                .invalid, "\(viewerURL.redacted): the viewer catalog must be the same database as --catalog \(url.redacted), as another role")
        }
        let viewerDatabase = try PostgresCatalogDatabase(url: viewerURL)
        try viewerDatabase.checkViewerRole()
        return try CatalogStore(database: database, folder: owner.folder, storage: owner.storage, viewerDatabase: viewerDatabase)
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
