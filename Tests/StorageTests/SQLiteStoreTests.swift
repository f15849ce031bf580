import Foundation
import KeyPool
import KeyRelayTestSupport
import Logging
import Storage
import Testing

/// A fresh SQLite file in its own temp directory.
struct SQLiteFixture: UsageStoreFixture {
    let directory: TemporaryDirectory
    var path: String { self.directory.path("data/keyrelay.sqlite") }

    init() throws {
        self.directory = try TemporaryDirectory(prefix: "keyrelay-storage")
    }

    func openStore() async throws -> any UsageStore {
        try await self.openSQLiteStore()
    }

    func openSQLiteStore(migrationsDirectory: URL? = nil) async throws -> SQLiteStore {
        let store = try await SQLiteStore(
            path: self.path,
            calendar: .pacific,
            logger: .silent,
            migrationsDirectory: migrationsDirectory
        )
        _ = try await store.migrate()
        return store
    }

    func dailyUsage(day: String, row: UsageRowID) async throws -> DailyUsage? {
        let store = try await self.openSQLiteStore()
        let bindings: [String: SQLiteValue] = [
            "day": .text(day), "model": .text(row.model), "key_id": .integer(row.keyID),
        ]
        let rows = try await store.database.perform("test") { connection throws(StoreError) in
            try connection.query(
                "SELECT * FROM usage_daily WHERE day = :day AND model = :model AND key_id = :key_id",
                bindings
            )
        }
        await store.close()
        return rows.first.map { row in
            DailyUsage(
                requests: row["requests"].int ?? -1,
                inputTokens: row["input_tokens"].int ?? -1,
                totalTokens: row["total_tokens"].int ?? -1,
                errors: row["errors"].int ?? -1,
                rateLimited: row["rate_limited"].int ?? -1
            )
        }
    }
}

@Suite struct SQLiteStoreConformanceTests {
    @Test func reserveAdmitsExactlyUpToTheLimit() async throws {
        try await UsageStoreConformance.reserveAdmitsExactlyUpToTheLimit(try SQLiteFixture())
    }

    @Test func aBatchOfRecordsEqualsTheRecordsOneByOne() async throws {
        try await UsageStoreConformance.aBatchOfRecordsEqualsTheRecordsOneByOne(try SQLiteFixture())
    }

    @Test func dailyLimitHoldsAcrossMinutes() async throws {
        try await UsageStoreConformance.dailyLimitHoldsAcrossMinutes(try SQLiteFixture())
    }

    @Test func costAboveOneCountsEveryUnit() async throws {
        try await UsageStoreConformance.costAboveOneCountsEveryUnit(try SQLiteFixture())
    }

    @Test func unlimitedCountersNeverRefuse() async throws {
        try await UsageStoreConformance.unlimitedCountersNeverRefuse(try SQLiteFixture())
    }

    @Test func enforceOffAdmitsPastTheLimitAndReportsIt() async throws {
        try await UsageStoreConformance.enforceOffAdmitsPastTheLimitAndReportsIt(try SQLiteFixture())
    }

    @Test func tokenLimitRefusesOnceReached() async throws {
        try await UsageStoreConformance.tokenLimitRefusesOnceReached(try SQLiteFixture())
    }

    @Test func closedMinuteCountsAsZero() async throws {
        try await UsageStoreConformance.closedMinuteCountsAsZero(try SQLiteFixture())
    }

    /// An ordinary day, the 23-hour spring-forward day and the 25-hour fall-back day (Pacific).
    @Test(
        "closed quota day counts as zero",
        arguments: [
            ("2026-08-19T07:00:00Z", "2026-08-20T06:59:30Z", "2026-08-20T07:00:30Z"),
            ("2026-03-08T08:00:00Z", "2026-03-09T06:59:30Z", "2026-03-09T07:00:30Z"),
            ("2026-11-01T07:00:00Z", "2026-11-02T07:59:30Z", "2026-11-02T08:00:30Z"),
        ]
    )
    func closedDayCountsAsZero(dayStart: String, sameDay: String, nextDay: String) async throws {
        try await UsageStoreConformance.closedDayCountsAsZero(
            try SQLiteFixture(),
            dayStart: dayStart,
            sameDay: sameDay,
            nextDay: nextDay
        )
    }

    @Test func windowsNeverMoveBackwards() async throws {
        try await UsageStoreConformance.windowsNeverMoveBackwards(try SQLiteFixture())
    }

    @Test func exhaustedRowIsRefusedUntilTheMark() async throws {
        try await UsageStoreConformance.exhaustedRowIsRefusedUntilTheMark(try SQLiteFixture())
    }

    @Test func releaseNeverGoesNegativeAndIgnoresClosedWindows() async throws {
        try await UsageStoreConformance.releaseNeverGoesNegativeAndIgnoresClosedWindows(try SQLiteFixture())
    }

    @Test func recordAddsTokensInTheReservationsMinuteAndAlwaysToHistory() async throws {
        try await UsageStoreConformance.recordAddsTokensInTheReservationsMinuteAndAlwaysToHistory(
            try SQLiteFixture()
        )
    }

    @Test func concurrentInstancesNeverAdmitPastTheLimit() async throws {
        try await UsageStoreConformance.concurrentInstancesNeverAdmitPastTheLimit(try SQLiteFixture())
    }

    @Test func keySyncUpsertsRemovesAndRestores() async throws {
        try await UsageStoreConformance.keySyncUpsertsRemovesAndRestores(try SQLiteFixture())
    }

    @Test func recordFailureDeactivatesAtMaxFailuresAndSuccessResets() async throws {
        try await UsageStoreConformance.recordFailureDeactivatesAtMaxFailuresAndSuccessResets(try SQLiteFixture())
    }

    @Test func settingsRoundTrip() async throws {
        try await UsageStoreConformance.settingsRoundTrip(try SQLiteFixture())
    }

    @Test func stateSurvivesReopening() async throws {
        try await UsageStoreConformance.stateSurvivesReopening(try SQLiteFixture())
    }

    @Test func outputsNeverShowASecret() async throws {
        try await UsageStoreConformance.outputsNeverShowASecret(try SQLiteFixture())
    }
}

@Suite struct SQLiteDatabaseTests {
    @Test func connectionUsesWALForeignKeysAndABusyTimeout() async throws {
        let fixture = try SQLiteFixture()
        let store = try await fixture.openSQLiteStore()
        let settings = try await store.database.perform("test") { connection throws(StoreError) in
            var values: [String] = []
            for pragma in ["journal_mode", "synchronous", "foreign_keys", "busy_timeout"] {
                let row = try connection.query("PRAGMA \(pragma)").first
                values.append(row.map { $0.columns.values.first.map { "\($0)" } ?? "" } ?? "")
            }
            return values
        }
        #expect(settings == [#"text("wal")"#, "integer(1)", "integer(1)", "integer(5000)"])
        await store.close()
    }

    @Test func unopenablePathIsUnavailable() async throws {
        let directory = try TemporaryDirectory()
        let blocker = directory.path("not-a-directory")
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let error = await #expect(throws: StoreError.self) {
            _ = try await SQLiteStore(path: blocker + "/keyrelay.sqlite", logger: .silent)
        }
        #expect(error?.code == .unavailable)
        #expect(error?.operation == "open")
    }
}
