import Foundation
import KeyPool
import KeyRelayTestSupport
import Logging
import Storage
import Testing

/// A fresh, empty database on the test server, dropped by `with`, so tests run in parallel
/// without seeing each other's rows, notifications or advisory locks.
struct PostgresFixture: UsageStoreFixture {
    let database: String
    let url: String

    /// Runs `body` with a new database and drops it afterwards, whatever `body` does.
    static func with<T>(_ body: (PostgresFixture) async throws -> T) async throws -> T {
        let fixture = try await PostgresFixture()
        do {
            let value = try await body(fixture)
            try await fixture.drop()
            return value
        } catch {
            try? await fixture.drop()
            throw error
        }
    }

    private let testDatabase: TestDatabase

    private init() async throws {
        self.testDatabase = try await TestDatabase.create()
        self.database = self.testDatabase.name
        self.url = self.testDatabase.url
    }

    private func drop() async throws {
        try await self.testDatabase.drop()
    }

    /// A migrated store using the caller's clock, as the shared conformance suite drives time
    /// through `ReservationRequest.now`.
    func openStore() async throws -> any UsageStore {
        try await self.openPostgresStore(windowClock: .caller)
    }

    func openPostgresStore(
        windowClock: PostgresStore.WindowClock = .database,
        poolSize: Int = 2,
        logger: Logger = .silent,
        migrate: Bool = true
    ) async throws -> PostgresStore {
        let store = try await PostgresStore(
            url: self.url,
            calendar: .pacific,
            logger: logger,
            poolSize: poolSize,
            windowClock: windowClock
        )
        if migrate { _ = try await store.migrate() }
        return store
    }

    /// Runs `sql` on a connection of its own (like an operator's psql session).
    @discardableResult
    func sql(_ sql: String, _ params: [PostgresValue] = []) async throws -> [PostgresRow] {
        try await self.testDatabase.sql(sql, params)
    }

    func dailyUsage(day: String, row: UsageRowID) async throws -> DailyUsage? {
        let rows = try await self.sql(
            "SELECT * FROM usage_daily WHERE day = $1::date AND model = $2::text AND key_id = $3::bigint",
            [PostgresValue(day), PostgresValue(row.model), PostgresValue(row.keyID)]
        )
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
