import Foundation
import Storage

/// The server `scripts/with-postgres.sh` started (or any server named by
/// `KEYRELAY_TEST_DATABASE_URL`); PostgreSQL tests are skipped without it.
public enum PostgresTestServer {
    public static let adminURL = ProcessInfo.processInfo.environment["KEYRELAY_TEST_DATABASE_URL"]
    public static let isAvailable = Self.adminURL != nil

    /// The password of the admin URL, to check that no output repeats it.
    public static var password: String? {
        Self.adminURL.flatMap { URLComponents(string: $0)?.password }
    }

    /// The admin URL with its database replaced by `database`.
    public static func url(database: String) -> String {
        guard let adminURL = Self.adminURL, var components = URLComponents(string: adminURL) else { return "" }
        components.path = "/" + database
        return components.string ?? ""
    }
}

/// A fresh, empty database on the test server, so tests run in parallel without seeing each
/// other's rows, notifications or advisory locks. Call `drop()` when done.
public struct TestDatabase: Sendable {
    public let name: String
    public let url: String

    public static func create() async throws -> TestDatabase {
        let name = "kr_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        // Identifiers cannot be bound; the name is made here from hex digits only.
        try await Self.admin("CREATE DATABASE \(name)")
        return TestDatabase(name: name, url: PostgresTestServer.url(database: name))
    }

    public func drop() async throws {
        try await Self.admin("DROP DATABASE IF EXISTS \(self.name) WITH (FORCE)")
    }

    /// Runs `sql` on a connection of its own (like an operator's psql session).
    @discardableResult
    package func sql(_ sql: String, _ params: [PostgresValue] = []) async throws -> [PostgresRow] {
        let connection = try await PostgresConnection.connect(url: self.url, applicationName: "keyrelay-test")
        defer { Task { await connection.close() } }
        return try await connection.perform("test sql") { connection throws(StoreError) in
            try connection.query(sql, params)
        }
    }

    private static func admin(_ sql: String) async throws {
        let connection = try await PostgresConnection.connect(url: PostgresTestServer.adminURL ?? "")
        defer { Task { await connection.close() } }
        try await connection.perform("test admin") { connection throws(StoreError) in
            try connection.executeScript(sql)
        }
    }
}
