import Foundation
import KeyPool

/// One numbered migration file, `NNNN_verb_object.sql`, as read from disk.
public struct MigrationFile: Sendable, Hashable {
    /// The 4-digit number, e.g. 3 for `0003_create_usage_daily.sql`.
    public var version: Int
    /// The file name without `.sql`, e.g. `0003_create_usage_daily`.
    public var name: String
    /// The SQL text; files hold no `BEGIN`/`COMMIT`, the store wraps each one in a transaction.
    public var sql: String
    /// Lower-case hex SHA-256 of the file's text, stored when applied and compared afterwards.
    public var checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = SHA256.hex(of: sql)
    }
}

/// A row of `schema_migrations`: a migration a database says it has applied.
public struct AppliedMigration: Sendable, Hashable {
    /// The file's number.
    public var version: Int
    /// The file name without `.sql`.
    public var name: String
    /// Hex SHA-256 of the file as it was applied.
    public var checksum: String

    public init(version: Int, name: String, checksum: String) {
        self.version = version
        self.name = name
        self.checksum = checksum
    }
}

/// The database-independent half of migrating: finds the numbered files of a directory, checks
/// applied ones against their checksums and says what is left to apply. Each store applies the
/// plan in its own dialect (one transaction per file, recorded in `schema_migrations`).
public struct MigrationRunner: Sendable {
    /// The files found, ordered by version.
    public let files: [MigrationFile]

    public init(files: [MigrationFile]) {
        self.files = files.sorted { $0.version < $1.version }
    }

    /// Reads every `NNNN_name.sql` file of `directory` (other files are ignored).
    /// - Throws: `StoreError.Code.unavailable` when the directory or a file cannot be read, or two
    ///   files share a version, or the versions have a gap.
    public init(directory: URL) throws(StoreError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw StoreError(.unavailable, operation: "read migrations")
        }

        var files: [MigrationFile] = []
        for fileName in names.sorted() {
            guard let version = Self.version(ofFileName: fileName) else { continue }
            let name = String(fileName.dropLast(".sql".count))
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(fileName).path),
                let sql = String(data: data, encoding: .utf8)
            else { throw StoreError(.unavailable, operation: "read migration \(name)") }
            files.append(MigrationFile(version: version, name: name, sql: sql))
        }

        // Numbers are sequential from 1; a duplicate or gap means a bad checkout or a typo.
        for (index, file) in files.sorted(by: { $0.version < $1.version }).enumerated()
        where file.version != index + 1 {
            throw StoreError(.unavailable, operation: "read migration \(file.name)")
        }
        self.init(files: files)
    }

    /// The migrations shipped with this build: the `migrations` directory of the Storage bundle
    /// resource `resource`. The default, `Migrations`, is `Sources/Storage/Migrations`, which
    /// `SQL/sqlite` links to (SwiftPM copies a symlinked resource as a dangling link, so the files
    /// live in the target and the `SQL` path is the link); a PostgreSQL store adds its own resource.
    /// - Throws: `StoreError.Code.unavailable` when the resource is missing.
    public static func bundled(resource: String = "Migrations") throws(StoreError) -> MigrationRunner {
        try MigrationRunner(directory: Self.bundledDirectory(resource: resource))
    }

    /// The directory `bundled(resource:)` reads.
    /// - Throws: `StoreError.Code.unavailable` when the resource is missing.
    public static func bundledDirectory(resource: String = "Migrations") throws(StoreError) -> URL {
        guard let root = Bundle.module.url(forResource: resource, withExtension: nil) else {
            throw StoreError(.unavailable, operation: "read migrations")
        }
        return root.appendingPathComponent("migrations", isDirectory: true)
    }

    /// The files of `directory` when given (tests), else the bundled `resource`.
    public static func load(directory: URL?, bundledResource resource: String) throws(StoreError) -> MigrationRunner {
        if let directory { return try MigrationRunner(directory: directory) }
        return try Self.bundled(resource: resource)
    }

    /// Checks a database's applied migrations without changing anything.
    /// - Throws: `.schemaTooNew`, `.checksumMismatch`, or `.schemaBehind` when files are pending.
    public func verifyUpToDate(applied: [AppliedMigration]) throws(StoreError) {
        guard try self.pending(applied: applied).isEmpty else {
            throw StoreError(.schemaBehind, operation: "verify schema")
        }
    }

    /// The newest version this build knows; 0 with no files.
    public var latestVersion: Int { self.files.last?.version ?? 0 }

    /// The files still to apply, in order, given what the database has applied.
    /// - Throws: `StoreError.Code.schemaTooNew` when the database has a version this build does
    ///   not know; `.checksumMismatch` (operation `migrate NNNN_name`) when an applied file changed.
    public func pending(applied: [AppliedMigration]) throws(StoreError) -> [MigrationFile] {
        if let newest = applied.map(\.version).max(), newest > self.latestVersion {
            throw StoreError(.schemaTooNew, operation: "migrate", nativeCode: "schema version \(newest)")
        }
        let appliedByVersion = Dictionary(applied.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        var pending: [MigrationFile] = []
        for file in self.files {
            if let record = appliedByVersion[file.version] {
                guard record.checksum == file.checksum else {
                    throw StoreError(.checksumMismatch, operation: "migrate \(file.name)")
                }
            } else {
                pending.append(file)
            }
        }
        return pending
    }

    /// The version of `NNNN_name.sql`, or nil for any other name.
    static func version(ofFileName fileName: String) -> Int? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let digits = fileName.prefix(while: { $0.isASCII && $0.isNumber })
        guard digits.count == 4, fileName.dropFirst(4).first == "_", fileName.count > ".sql".count + 5 else {
            return nil
        }
        return Int(digits)
    }
}
