import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Testing

/// The bundled PostgreSQL migrations (no server needed).
@Suite struct PostgresMigrationFileTests {
    static let expectedNames =
        MigrationRunnerTests.expectedNames + [
            "0006_create_instances", "0007_notify_config_changes", "0008_add_request_log_rate_limited",
            "0009_create_dashboard_views", "0010_create_readonly_role",
        ]

    /// `SQL/postgres/migrations` of the checkout these tests were built from.
    static let sourceDirectory = MigrationRunnerTests.sourceDirectory
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("postgres/migrations", isDirectory: true)

    @Test func bundledMigrationsAreTheSQLDirectoryWithSQLitesNumbersAndNames() throws {
        let bundled = try MigrationRunner.bundled(resource: "PostgresSQL")
        let source = try MigrationRunner(directory: Self.sourceDirectory)
        #expect(bundled.files.map(\.name) == Self.expectedNames)
        #expect(bundled.files == source.files)
        let sqlite = try MigrationRunner.bundled()
        #expect(Array(bundled.files.map(\.name).prefix(sqlite.files.count)) == sqlite.files.map(\.name))
        // The runner wraps each file in a transaction; a file of its own must not.
        let wrapped = bundled.files.filter { file in
            file.sql.components(separatedBy: "\n").contains { line in
                let statement = line.trimmingCharacters(in: .whitespaces).uppercased()
                return statement.hasPrefix("BEGIN;") || statement.hasPrefix("COMMIT")
            }
        }
        #expect(wrapped.isEmpty)
    }
}

@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresMigrationTests {
    static let expectedTables = [
        "api_keys", "instances", "key_usage", "request_log", "schema_migrations", "settings", "usage_daily",
    ]

    @Test func appliesEveryMigrationToAnEmptyDatabase() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(migrate: false)
            let report = try await store.migrate()
            #expect(report == MigrationReport(applied: PostgresMigrationFileTests.expectedNames, currentVersion: 10))

            let tables = try await fixture.sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).compactMap { $0["tablename"].string }
            #expect(tables == Self.expectedTables)
            let recorded = try await fixture.sql("SELECT checksum FROM schema_migrations ORDER BY version")
                .compactMap { $0["checksum"].string }
            #expect(recorded == (try MigrationRunner.bundled(resource: "PostgresSQL")).files.map(\.checksum))
            await store.close()
        }
    }

    @Test func migratingAgainAppliesNothing() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            #expect(try await store.migrate() == MigrationReport(applied: [], currentVersion: 10))
            let other = try await fixture.openPostgresStore(migrate: false)
            #expect(try await other.migrate() == MigrationReport(applied: [], currentVersion: 10))
            await store.close()
            await other.close()
        }
    }

    @Test func everyMigrationFileRunsTwiceWithoutError() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            for file in try MigrationRunner.bundled(resource: "PostgresSQL").files {
                let sql = file.sql
                try await store.pool.perform("rerun \(file.name)") { connection throws(StoreError) in
                    try connection.transaction { () throws(StoreError) in try connection.executeScript(sql) }
                }
            }
            await store.close()
        }
    }

    @Test func changedAppliedFileIsRefused() async throws {
        try await PostgresFixture.with { fixture in
            let directory = try TemporaryDirectory()
            let copy = directory.url.appendingPathComponent("migrations", isDirectory: true)
            try FileManager.default.copyItem(
                at: try MigrationRunner.bundledDirectory(resource: "PostgresSQL"),
                to: copy
            )
            let store = try await PostgresStore(
                url: fixture.url,
                logger: .silent,
                poolSize: 1,
                migrationsDirectory: copy
            )
            _ = try await store.migrate()
            await store.close()

            let edited = copy.appendingPathComponent("0002_create_key_usage.sql")
            let text = try String(contentsOf: edited, encoding: .utf8)
            try (text + "\n-- an edit after release\n").write(to: edited, atomically: true, encoding: .utf8)

            let reopened = try await PostgresStore(
                url: fixture.url,
                logger: .silent,
                poolSize: 1,
                migrationsDirectory: copy
            )
            let error = await #expect(throws: StoreError.self) { try await reopened.migrate() }
            #expect(error?.code == .checksumMismatch)
            #expect(error?.description == "store error: migrate 0002_create_key_usage failed (checksum mismatch)")
            await reopened.close()
        }
    }

    @Test func newerSchemaIsRefused() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            try await fixture.sql(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, $1::text, 'x')",
                [PostgresValue("9999_from_the_future")]
            )
            let error = await #expect(throws: StoreError.self) { try await store.migrate() }
            #expect(error?.code == .schemaTooNew)
            await store.close()
        }
    }

    @Test func instancesMigratingTogetherApplyEachFileOnce() async throws {
        try await PostgresFixture.with { fixture in
            let stores = [
                try await fixture.openPostgresStore(poolSize: 1, migrate: false),
                try await fixture.openPostgresStore(poolSize: 1, migrate: false),
                try await fixture.openPostgresStore(poolSize: 1, migrate: false),
            ]
            let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
                for store in stores { group.addTask { try await store.migrate() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(reports.flatMap(\.applied).sorted() == PostgresMigrationFileTests.expectedNames)
            #expect(reports.allSatisfy { $0.currentVersion == 10 })
            let versions = try await fixture.sql("SELECT version FROM schema_migrations ORDER BY version")
            #expect(versions.compactMap { $0["version"].int } == Array(1...10))
            for store in stores { await store.close() }
        }
    }
}
