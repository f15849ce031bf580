import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Testing

@Suite struct MigrationRunnerTests {
    static let expectedNames = [
        "0001_create_api_keys", "0002_create_key_usage", "0003_create_usage_daily", "0004_create_settings",
        "0005_create_request_log",
    ]

    /// `SQL/sqlite/migrations` of the checkout these tests were built from.
    static let sourceDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SQL/sqlite/migrations", isDirectory: true)

    @Test func bundledMigrationsAreTheSQLDirectory() throws {
        let bundled = try MigrationRunner.bundled()
        let source = try MigrationRunner(directory: Self.sourceDirectory)
        #expect(bundled.files.map(\.name) == Self.expectedNames)
        #expect(bundled.files == source.files)
        #expect(bundled.files.map(\.version) == [1, 2, 3, 4, 5])
        #expect(bundled.files.allSatisfy { !$0.sql.uppercased().contains("BEGIN") && !$0.sql.contains("COMMIT") })
    }

    @Test func appliesEveryMigrationToAnEmptyDatabase() async throws {
        let fixture = try SQLiteFixture()
        let store = try await SQLiteStore(path: fixture.path, logger: .silent)
        let report = try await store.migrate()
        #expect(report == MigrationReport(applied: Self.expectedNames, currentVersion: 5))

        let tables = try await store.database.perform("test") { connection throws(StoreError) in
            try connection.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .compactMap { $0["name"].string }
        }
        #expect(tables == ["api_keys", "key_usage", "request_log", "schema_migrations", "settings", "usage_daily"])
        let recorded = try await store.database.perform("test") { connection throws(StoreError) in
            try connection.query("SELECT checksum FROM schema_migrations ORDER BY version")
                .compactMap { $0["checksum"].string }
        }
        #expect(recorded == (try MigrationRunner.bundled()).files.map(\.checksum))
        await store.close()
    }

    @Test func verifyingTheSchemaChangesNothingAndSaysWhenMigrationsArePending() async throws {
        let fixture = try SQLiteFixture()
        let store = try await SQLiteStore(path: fixture.path, logger: .silent)
        await #expect(throws: StoreError(.schemaBehind, operation: "verify schema")) {
            try await store.verifySchema()
        }
        _ = try await store.migrate()
        try await store.verifySchema()
        await store.close()
    }

    @Test func migratingAgainAppliesNothing() async throws {
        let fixture = try SQLiteFixture()
        let store = try await fixture.openSQLiteStore()
        #expect(try await store.migrate() == MigrationReport(applied: [], currentVersion: 5))
        let other = try await SQLiteStore(path: fixture.path, logger: .silent)
        #expect(try await other.migrate() == MigrationReport(applied: [], currentVersion: 5))
        await store.close()
        await other.close()
    }

    @Test func everyMigrationFileRunsTwiceWithoutError() async throws {
        let fixture = try SQLiteFixture()
        let store = try await fixture.openSQLiteStore()
        for file in try MigrationRunner.bundled().files {
            let sql = file.sql
            try await store.database.perform("rerun \(file.name)") { connection throws(StoreError) in
                try connection.executeScript(sql)
            }
        }
        await store.close()
    }

    @Test func changedAppliedFileIsRefused() async throws {
        let fixture = try SQLiteFixture()
        let copy = fixture.directory.url.appendingPathComponent("migrations", isDirectory: true)
        try FileManager.default.copyItem(at: try MigrationRunner.bundledDirectory(), to: copy)
        let store = try await fixture.openSQLiteStore(migrationsDirectory: copy)
        await store.close()

        let edited = copy.appendingPathComponent("0002_create_key_usage.sql")
        let text = try String(contentsOf: edited, encoding: .utf8)
        try (text + "\n-- an edit after release\n").write(to: edited, atomically: true, encoding: .utf8)

        let reopened = try await SQLiteStore(path: fixture.path, logger: .silent, migrationsDirectory: copy)
        let error = await #expect(throws: StoreError.self) { try await reopened.migrate() }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.operation == "migrate 0002_create_key_usage")
        #expect(error?.description == "store error: migrate 0002_create_key_usage failed (checksum mismatch)")
        await reopened.close()
    }

    @Test func newerSchemaIsRefused() async throws {
        let fixture = try SQLiteFixture()
        let store = try await fixture.openSQLiteStore()
        try await store.database.perform("test") { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, :name, 'x', 0)",
                ["name": .text("9999_from_the_future")]
            )
        }
        let error = await #expect(throws: StoreError.self) { try await store.migrate() }
        #expect(error?.code == .schemaTooNew)
        await store.close()
    }

    @Test func discoveryOrdersNumberedFilesAndIgnoresOthers() throws {
        let directory = try TemporaryDirectory()
        try "SELECT 2;".write(to: directory.url.appendingPathComponent("0002_b.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: directory.url.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try "notes".write(to: directory.url.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        try "x".write(to: directory.url.appendingPathComponent("01_short.sql"), atomically: true, encoding: .utf8)

        let runner = try MigrationRunner(directory: directory.url)
        #expect(runner.files.map(\.name) == ["0001_a", "0002_b"])
        #expect(runner.files.first?.checksum == SHA256.hex(of: "SELECT 1;"))
        #expect(runner.latestVersion == 2)

        let applied = [AppliedMigration(version: 1, name: "0001_a", checksum: SHA256.hex(of: "SELECT 1;"))]
        #expect(try runner.pending(applied: applied).map(\.name) == ["0002_b"])

        try "SELECT 4;".write(to: directory.url.appendingPathComponent("0004_d.sql"), atomically: true, encoding: .utf8)
        #expect(throws: StoreError.self) { try MigrationRunner(directory: directory.url) }
    }
}
