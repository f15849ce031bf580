import Foundation
import KeyPool
import Logging
import Storage
import Testing

/// The server `scripts/with-postgres.sh` started (or any server named by
/// `KEYRELAY_TEST_DATABASE_URL`); PostgreSQL tests are skipped without it.
enum PostgresTestServer {
    static let adminURL = ProcessInfo.processInfo.environment["KEYRELAY_TEST_DATABASE_URL"]
    static let isAvailable = Self.adminURL != nil

    /// The password of the admin URL, to check that no output repeats it.
    static var password: String? {
        Self.adminURL.flatMap { URLComponents(string: $0)?.password }
    }

    /// The admin URL with its database replaced by `database`.
    static func url(database: String) -> String {
        guard let adminURL = Self.adminURL, var components = URLComponents(string: adminURL) else { return "" }
        components.path = "/" + database
        return components.string ?? ""
    }
}

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

    private init() async throws {
        let name = "kr_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        // Identifiers cannot be bound; the name is made here from hex digits only.
        try await Self.admin("CREATE DATABASE \(name)")
        self.database = name
        self.url = PostgresTestServer.url(database: name)
    }

    private func drop() async throws {
        try await Self.admin("DROP DATABASE IF EXISTS \(self.database) WITH (FORCE)")
    }

    private static func admin(_ sql: String) async throws {
        let connection = try await PostgresConnection.connect(url: PostgresTestServer.adminURL ?? "")
        defer { Task { await connection.close() } }
        try await connection.perform("test admin") { connection throws(StoreError) in
            try connection.executeScript(sql)
        }
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
        let connection = try await PostgresConnection.connect(url: self.url, applicationName: "keyrelay-test")
        defer { Task { await connection.close() } }
        return try await connection.perform("test sql") { connection throws(StoreError) in
            try connection.query(sql, params)
        }
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
