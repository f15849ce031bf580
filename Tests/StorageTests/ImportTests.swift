import Foundation
import KeyPool
import KeyRelayTestSupport
import Logging
import Storage
import Testing

/// `keyrelay import-v1` against fixture gemini-balance databases in both shapes, on SQLite.
@Suite struct ImportTests {
    typealias Fixture = GeminiBalanceFixture
    let directory: TemporaryDirectory

    init() throws {
        self.directory = try TemporaryDirectory(prefix: "keyrelay-import")
    }

    func store() async throws -> SQLiteStore {
        let store = try await SQLiteStore(path: self.directory.path("keyrelay.sqlite"), logger: .silent)
        _ = try await store.migrate()
        return store
    }

    func v2Source() async throws -> ImportSource {
        let path = self.directory.path("default_db")
        if !FileManager.default.fileExists(atPath: path) {
            try await Fixture.writeSQLite(
                path: path,
                ddl: Fixture.settingsDDL + Fixture.matrixDDL,
                tables: [Fixture.settingsV2(), Fixture.matrix()]
            )
        }
        return try await ImportSource.readSQLite(path: path)
    }

    func v15Source() async throws -> ImportSource {
        let path = self.directory.path("v15_db")
        if !FileManager.default.fileExists(atPath: path) {
            try await Fixture.writeSQLite(
                path: path,
                ddl: Fixture.settingsDDL + Fixture.statsDDL,
                tables: [Fixture.settingsV15(), Fixture.stats()]
            )
        }
        return try await ImportSource.readSQLite(path: path)
    }

    @Test func matrixShapeImportsKeysTokensSettingsAndHistoryRowByRow() async throws {
        let store = try await self.store()
        let plan = Fixture.plan(try await self.v2Source())
        let outcome = try await store.applyImport(plan, dryRun: false, at: Date())

        let keys = try await store.loadKeys()
        #expect(keys.map(\.secret.revealedForUpstream) == [Fixture.gemini1, Fixture.gemini2, Fixture.vertex1])
        #expect(keys.map(\.kind) == [.gemini, .gemini, .vertex])
        #expect(outcome.keysAdded.count == 3)
        #expect(try await ImportDump.history(store) == Fixture.expectedV2)
        #expect(outcome.requestsAdded == 19 && outcome.tokensTotalAdded == 2500)

        let settings = try await store.loadSettings()
        let tokens = try #require(settings["allowed_tokens"])
        for token in Fixture.tokens {
            #expect(tokens.contains("sha256:\(SHA256.hex(of: token))"))
            #expect(!tokens.contains(token))
        }
        #expect(settings["admin_token"] == "\"sha256:\(SHA256.hex(of: Fixture.adminToken))\"")
        #expect(settings["max_failures"] == "10")
        // gemini-balance counts every attempt, KeyRelay the further keys after the first.
        #expect(settings["max_retries"] == "2")
        #expect(settings["test_model"] == "\"gemini-2.5-flash-lite\"")
        #expect(settings["upstream_base_url"] == "\"https://generativelanguage.googleapis.com\"")

        let skipped = (plan.skipped + outcome.skipped).map(\.description)
        #expect(skipped.contains { $0.hasPrefix("API_KEYS entry 4") && $0.contains("duplicate of API_KEYS entry 1") })
        #expect(skipped.contains { $0.hasPrefix("t_usage_matrix row 7") && $0.contains("model name") })
        #expect(skipped.contains { $0.contains(Fingerprint(secret: Fixture.orphan).description) })
        #expect(plan.notes.contains { $0.contains("SHOW_SEARCH_LINK") })
        await store.close()
    }

    @Test func aSecondRunChangesNothing() async throws {
        let store = try await self.store()
        let source = try await self.v2Source()
        _ = try await store.applyImport(Fixture.plan(source), dryRun: false, at: Date())
        let before = try await ImportDump.everything(store)

        let again = try await store.applyImport(Fixture.plan(source), dryRun: false, at: Date())
        #expect(again.keysAdded.isEmpty && again.keysAlreadyStored.count == 3)
        #expect(again.tokensAdded.isEmpty && again.tokensAlreadyAllowed.count == 2)
        #expect(again.settingsWritten.isEmpty)
        #expect(again.historyRowsChanged == 0 && again.requestsAdded == 0 && again.tokensTotalAdded == 0)
        #expect(try await ImportDump.everything(store) == before)
        await store.close()
    }

    @Test func statsShapeSumsRawModelNamesIntoQuotaModelsPerQuotaDay() async throws {
        let store = try await self.store()
        let plan = Fixture.plan(try await self.v15Source())
        _ = try await store.applyImport(plan, dryRun: false, at: Date())
        #expect(try await ImportDump.history(store) == Fixture.expectedV15)
        #expect(plan.skipped.map(\.description).contains { $0.hasPrefix("t_usage_stats row 5") })
        #expect(plan.notes.contains { $0.contains("unknown column 'extra_note'") })
        #expect(try await store.loadKeys().count == 2)

        let before = try await ImportDump.everything(store)
        _ = try await store.applyImport(Fixture.plan(try await self.v15Source()), dryRun: false, at: Date())
        #expect(try await ImportDump.everything(store) == before)
        await store.close()
    }

    @Test func csvExportImportsLikeTheSQLiteFile() async throws {
        let csv = self.directory.path("csv")
        try FileManager.default.createDirectory(atPath: csv, withIntermediateDirectories: true)
        try Fixture.writeCSV(
            directory: csv,
            tables: [Fixture.settingsV2(), Fixture.matrix()],
            extraLines: ["t_usage_matrix": ["\"only\",\"two\""]]
        )
        let source = try ImportSource.readCSV(directory: csv)
        let store = try await self.store()
        let plan = Fixture.plan(source)
        _ = try await store.applyImport(plan, dryRun: false, at: Date())
        #expect(try await ImportDump.history(store) == Fixture.expectedV2)
        #expect(try await store.loadKeys().count == 3)
        #expect(plan.skipped.map(\.description).contains { $0.hasPrefix("t_usage_matrix.csv row 8") })

        let before = try await ImportDump.everything(store)
        _ = try await store.applyImport(
            Fixture.plan(try ImportSource.readCSV(directory: csv)),
            dryRun: false,
            at: Date()
        )
        #expect(try await ImportDump.everything(store) == before)
        await store.close()
    }

    @Test func aMalformedKeyIsSkippedAndReportedWithoutItsSecret() async throws {
        let store = try await self.store()
        let plan = Fixture.plan(try await self.v2Source())
        let outcome = try await store.applyImport(plan, dryRun: false, at: Date())
        let report =
            (plan.skipped + outcome.skipped).map(\.description) + plan.notes + outcome.keysAdded
            + outcome.keysAlreadyStored + outcome.tokensAdded
        let skip = try #require(report.first { $0.hasPrefix("API_KEYS entry 3") })
        #expect(skip.contains("malformed key"))
        for secret in [Fixture.malformed, Fixture.gemini1, Fixture.vertex1, Fixture.orphan] + Fixture.tokens {
            #expect(!report.joined(separator: "\n").contains(secret))
        }
        #expect(!(try await ImportDump.everything(store)).joined().contains("Malformed"))
        await store.close()
    }

    @Test func usageThatGrewSinceTheLastRunIsAddedOnce() async throws {
        let store = try await self.store()
        _ = try await store.applyImport(Fixture.plan(try await self.v2Source()), dryRun: false, at: Date())

        let grown = self.directory.path("grown_db")
        try await Fixture.writeSQLite(
            path: grown,
            ddl: Fixture.settingsDDL + Fixture.matrixDDL,
            tables: [Fixture.settingsV2(), Fixture.matrix(rpdOfFirst: 15, tokensOfFirst: 1600)]
        )
        let plan = Fixture.plan(try await ImportSource.readSQLite(path: grown))
        let outcome = try await store.applyImport(plan, dryRun: false, at: Date())
        #expect(outcome.requestsAdded == 5 && outcome.tokensTotalAdded == 600)
        var expected = Fixture.expectedV2
        expected[0] = "2025-06-01 gemini-2.5-flash \(Fingerprint(secret: Fixture.gemini1)) 15 0 1600"
        #expect(try await ImportDump.history(store) == expected)
        await store.close()
    }

    @Test func storedKeysAndSettingsAreLeftUntouched() async throws {
        let store = try await self.store()
        let mine = ConfiguredKey(secret: APIKey(Fixture.gemini1)!, label: "mine")
        _ = try await store.addKeys([mine], kind: .gemini, restoreRemoved: true, at: Date())
        try await store.saveSettings(["max_failures": "5"], by: "test", at: Date())

        let outcome = try await store.applyImport(Fixture.plan(try await self.v2Source()), dryRun: false, at: Date())
        #expect(outcome.keysAlreadyStored.count == 1 && outcome.keysAdded.count == 2)
        #expect(outcome.settingsKept == ["max_failures"])
        let first = try #require(try await store.loadKeys().first)
        #expect(first.label == "mine")
        #expect(try await store.loadSettings()["max_failures"] == "5")
        // Its history still lands on the stored key's id.
        #expect(try await ImportDump.history(store) == Fixture.expectedV2)
        await store.close()
    }

    @Test func aDryRunReportsAndWritesNothing() async throws {
        let store = try await self.store()
        let before = try await ImportDump.everything(store)
        let outcome = try await store.applyImport(Fixture.plan(try await self.v2Source()), dryRun: true, at: Date())
        #expect(outcome.dryRun && outcome.keysAdded.count == 3 && outcome.requestsAdded == 19)
        #expect(try await ImportDump.everything(store) == before)
        #expect(try await store.loadKeys().isEmpty)
        await store.close()
    }

    @Test func aSourceWithoutGeminiBalanceTablesIsRefused() async throws {
        let path = self.directory.path("other.sqlite")
        try await Fixture.writeSQLite(path: path, ddl: "CREATE TABLE unrelated (id INTEGER);", tables: [])
        await #expect(throws: ImportError.self) { try await ImportSource.readSQLite(path: path) }
        await #expect(throws: ImportError.self) { try await ImportSource.readSQLite(path: self.directory.path("none")) }
        #expect(throws: ImportError.self) { try ImportSource.readCSV(directory: self.directory.path("none")) }
    }
}

/// The same import on PostgreSQL, each test on a database of its own.
@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresImportTests {
    typealias Fixture = GeminiBalanceFixture

    @Test func matrixShapeImportsOnceAndASecondRunChangesNothing() async throws {
        let directory = try TemporaryDirectory(prefix: "keyrelay-import-pg")
        let path = directory.path("default_db")
        try await Fixture.writeSQLite(
            path: path,
            ddl: Fixture.settingsDDL + Fixture.matrixDDL,
            tables: [Fixture.settingsV2(), Fixture.matrix()]
        )
        let source = try await ImportSource.readSQLite(path: path)
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            let dry = try await store.applyImport(Fixture.plan(source), dryRun: true, at: Date())
            #expect(dry.keysAdded.count == 3)
            #expect(try await store.loadKeys().isEmpty)

            _ = try await store.applyImport(Fixture.plan(source), dryRun: false, at: Date())
            #expect(try await ImportDump.history(store) == Fixture.expectedV2)
            #expect(try await store.loadKeys().count == 3)
            let tokens = try #require(try await store.loadSettings()["allowed_tokens"])
            #expect(!tokens.contains(Fixture.tokens[0]))

            let before = try await ImportDump.everything(store)
            let again = try await store.applyImport(Fixture.plan(source), dryRun: false, at: Date())
            #expect(again.historyRowsChanged == 0 && again.keysAdded.isEmpty)
            #expect(try await ImportDump.everything(store) == before)
            await store.close()
        }
    }
}
