import Foundation
import Storage
import Testing

/// `SQL/postgres/views/*.sql` are the DBA's copy of the views; the migrations are the truth.
/// These checks keep the two the same, and keep every view away from `api_keys.secret`.
@Suite struct DashboardViewFileTests {
    static let viewNames = [
        "instance_liveness", "key_headroom", "rate_limited_share", "recent_requests", "requests_per_minute",
        "tokens_per_day",
    ]

    static var viewsDirectory: URL {
        get throws {
            try MigrationRunner.bundledDirectory(resource: "PostgresSQL").deletingLastPathComponent()
                .appendingPathComponent("views", isDirectory: true)
        }
    }

    /// The view files by name (without `.sql`), from the bundle.
    static func viewFiles() throws -> [String: String] {
        let directory = try Self.viewsDirectory
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".sql") {
            files[String(name.dropLast(4))] = try String(
                contentsOf: directory.appendingPathComponent(name),
                encoding: .utf8
            )
        }
        return files
    }

    /// The statement of a view file: from `CREATE OR REPLACE VIEW` to its end.
    static func statement(of file: String) -> String? {
        file.range(of: "CREATE OR REPLACE VIEW").map { String(file[$0.lowerBound...]) }
    }

    @Test func everyViewFileIsTheDefinitionOfTheLatestMigrationThatCreatesIt() throws {
        let files = try Self.viewFiles()
        #expect(files.keys.sorted() == Self.viewNames)
        let migrations = try MigrationRunner.bundled(resource: "PostgresSQL").files
        for (name, text) in files {
            let statement = try #require(Self.statement(of: text), "\(name).sql has no CREATE OR REPLACE VIEW")
            #expect(statement.hasPrefix("CREATE OR REPLACE VIEW \(name) AS\n"))
            let latest = migrations.last { $0.sql.contains("CREATE OR REPLACE VIEW \(name) AS\n") }
            let migration = try #require(latest, "no migration creates \(name)")
            #expect(migration.sql.contains(statement), "\(name).sql differs from \(migration.name)")
        }
    }

    @Test func noViewFileReadsTheSecretColumn() throws {
        for (name, text) in try Self.viewFiles() {
            let statement = Self.statement(of: text) ?? text
            #expect(!statement.lowercased().contains("secret"), "\(name).sql mentions the secret column")
        }
    }

    @Test func theReadOnlyRoleIsGrantedEveryViewAndNothingElse() throws {
        let migration = try #require(
            try MigrationRunner.bundled(resource: "PostgresSQL").files.first { $0.name == "0010_create_readonly_role" }
        )
        for name in Self.viewNames { #expect(migration.sql.contains(name)) }
        #expect(!migration.sql.contains("api_keys,") && !migration.sql.contains("ON api_keys"))
    }
}
