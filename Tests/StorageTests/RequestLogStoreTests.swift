import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Testing

/// A `request_log` row as read back, the same for both stores.
struct LoggedRequest: Equatable, Sendable {
    var atMilliseconds: Int64
    var requestID: String
    var instanceID: String?
    var clientLabel: String?
    var keyID: Int64?
    var model: String?
    var route: String
    var status: Int
    var latencyMilliseconds: Int
    var inputTokens: Int
    var totalTokens: Int
    var retries: Int
    var rateLimited: Int

    init(_ entry: RequestLogEntry) {
        self.atMilliseconds = Int64((entry.at.timeIntervalSince1970 * 1000).rounded(.down))
        self.requestID = entry.requestID
        self.instanceID = entry.instanceID
        self.clientLabel = entry.clientLabel
        self.keyID = entry.keyID
        self.model = entry.model
        self.route = entry.route
        self.status = entry.status
        self.latencyMilliseconds = entry.latencyMilliseconds
        self.inputTokens = entry.inputTokens
        self.totalTokens = entry.totalTokens
        self.retries = entry.retries
        self.rateLimited = entry.rateLimited
    }

    /// Every text and number of the row, to check that none holds a secret.
    var allText: String {
        "\(self.requestID) \(self.instanceID ?? "") \(self.clientLabel ?? "") \(self.model ?? "") \(self.route)"
    }

    static func read(_ store: SQLiteStore) async throws -> [LoggedRequest] {
        try await store.database.perform("test") { connection throws(StoreError) in
            try connection.query("SELECT * FROM request_log ORDER BY id")
        }.map { row in
            var entry = LoggedRequest(
                RequestLogEntry(
                    at: row["at"].date ?? .distantPast,
                    requestID: row["request_id"].string ?? "",
                    instanceID: row["instance_id"].string,
                    clientLabel: row["client_label"].string,
                    keyID: row["key_id"].int64,
                    model: row["model"].string,
                    route: row["route"].string ?? "",
                    status: row["status"].int ?? -1,
                    latencyMilliseconds: row["latency_ms"].int ?? -1,
                    inputTokens: row["input_tokens"].int ?? -1,
                    totalTokens: row["total_tokens"].int ?? -1,
                    retries: row["retries"].int ?? -1,
                    rateLimited: row["rate_limited"].int ?? -1
                )
            )
            entry.atMilliseconds = row["at"].int64 ?? -1
            return entry
        }
    }

    static func read(_ fixture: PostgresFixture) async throws -> [LoggedRequest] {
        try await read(postgres: fixture.sql("SELECT * FROM request_log ORDER BY id"))
    }

    static func read(postgres rows: [PostgresRow]) -> [LoggedRequest] {
        rows.map { row in
            LoggedRequest(
                RequestLogEntry(
                    at: row["at"].date ?? .distantPast,
                    requestID: row["request_id"].string ?? "",
                    instanceID: row["instance_id"].string,
                    clientLabel: row["client_label"].string,
                    keyID: row["key_id"].int64,
                    model: row["model"].string,
                    route: row["route"].string ?? "",
                    status: row["status"].int ?? -1,
                    latencyMilliseconds: row["latency_ms"].int ?? -1,
                    inputTokens: row["input_tokens"].int ?? -1,
                    totalTokens: row["total_tokens"].int ?? -1,
                    retries: row["retries"].int ?? -1,
                    rateLimited: row["rate_limited"].int ?? -1
                )
            )
        }
    }
}

/// The request log of both stores: batches written whole with every field, numbers clamped to
/// the table's rules, a refused batch leaving nothing, and old rows deleted by age.
enum RequestLogStoreChecks {
    static let secret = "AIzaSyRequestLogSecret000000000000001"

    /// Two entries with every field set (one with NULLs and awkward text), written as one batch.
    static func entries(keyID: Int64, at now: Date) -> [RequestLogEntry] {
        [
            RequestLogEntry(
                at: now, requestID: "00000000000000a1", instanceID: "instance-1", clientLabel: "batch-jobs",
                keyID: keyID, model: "gemini-2.5-flash", route: "gemini:generateContent", status: 200,
                latencyMilliseconds: 42, inputTokens: 11, totalTokens: 30, retries: 2, rateLimited: 1
            ),
            RequestLogEntry(
                at: now.addingTimeInterval(0.5), requestID: "00000000000000a2", instanceID: nil,
                clientLabel: #"we"ird,{label}\ ü"#, keyID: nil, model: nil, route: "openai:chat.completions",
                status: 429, latencyMilliseconds: 3
            ),
        ]
    }

    static func addKey(_ store: any UsageStore, at now: Date) async throws -> Int64 {
        let keys = try await store.syncKeys([ConfiguredKey(secret: APIKey(Self.secret)!)], kind: .gemini, at: now)
        return try #require(keys.first?.id)
    }

    static func writesEveryField(
        _ store: any UsageStore & RequestLogStore,
        read: () async throws -> [LoggedRequest]
    ) async throws {
        let now = Date(timeIntervalSince1970: 1_780_000_000.123)
        let keyID = try await Self.addKey(store, at: now)
        let entries = Self.entries(keyID: keyID, at: now)
        try await store.appendRequestLog(entries)
        let rows = try await read()
        #expect(rows == entries.map(LoggedRequest.init))
        #expect(rows.allSatisfy { !$0.allText.contains(Self.secret) })
    }

    static func clampsNumbers(
        _ store: any UsageStore & RequestLogStore,
        read: () async throws -> [LoggedRequest]
    ) async throws {
        let odd = RequestLogEntry(
            at: Date(timeIntervalSince1970: 1_780_000_000), requestID: "odd", route: "other", status: 0,
            latencyMilliseconds: -5, inputTokens: -1, totalTokens: -2, retries: -3, rateLimited: -4
        )
        try await store.appendRequestLog([odd])
        let row = try #require(try await read().first)
        #expect(row.status == 599)
        let counts: [Int] = [row.latencyMilliseconds, row.inputTokens, row.totalTokens, row.retries, row.rateLimited]
        #expect(counts == [0, 0, 0, 0, 0])
    }

    static func refusedBatchWritesNothing(
        _ store: any UsageStore & RequestLogStore,
        read: () async throws -> [LoggedRequest]
    ) async throws {
        let now = Date()
        let keyID = try await Self.addKey(store, at: now)
        var entries = Self.entries(keyID: keyID, at: now)
        entries[1].keyID = keyID + 1000
        let error = await #expect(throws: StoreError.self) { try await store.appendRequestLog(entries) }
        #expect(error?.code == .conflict)
        #expect(try await read().isEmpty)
    }

    static func deletesOnlyOldRows(
        _ store: any UsageStore & RequestLogStore,
        read: () async throws -> [LoggedRequest]
    ) async throws {
        let now = Date()
        let old = RequestLogEntry(
            at: now.addingTimeInterval(-31 * 86_400), requestID: "old", route: "other", status: 200,
            latencyMilliseconds: 1
        )
        var recent = old
        recent.at = now.addingTimeInterval(-29 * 86_400)
        recent.requestID = "recent"
        try await store.appendRequestLog([old, recent])
        #expect(try await store.deleteRequestLog(before: now.addingTimeInterval(-30 * 86_400)) == 1)
        #expect(try await read().map(\.requestID) == ["recent"])
        #expect(try await store.deleteRequestLog(before: now.addingTimeInterval(-30 * 86_400)) == 0)
    }
}

@Suite struct SQLiteRequestLogTests {
    func withStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        let fixture = try SQLiteFixture()
        let store = try await fixture.openSQLiteStore()
        try await body(store)
        await store.close()
    }

    @Test func aBatchIsWrittenWithEveryFieldAndNoSecret() async throws {
        try await self.withStore { store in
            try await RequestLogStoreChecks.writesEveryField(store) { try await LoggedRequest.read(store) }
        }
    }

    @Test func numbersOutsideTheTablesRulesAreClamped() async throws {
        try await self.withStore { store in
            try await RequestLogStoreChecks.clampsNumbers(store) { try await LoggedRequest.read(store) }
        }
    }

    @Test func aRefusedBatchWritesNothing() async throws {
        try await self.withStore { store in
            try await RequestLogStoreChecks.refusedBatchWritesNothing(store) { try await LoggedRequest.read(store) }
        }
    }

    @Test func deletingByAgeKeepsNewerRows() async throws {
        try await self.withStore { store in
            try await RequestLogStoreChecks.deletesOnlyOldRows(store) { try await LoggedRequest.read(store) }
        }
    }
}

@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresRequestLogTests {
    func withStore(_ body: (PostgresStore, PostgresFixture) async throws -> Void) async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            try await body(store, fixture)
            await store.close()
        }
    }

    @Test func aBatchIsWrittenWithEveryFieldAndNoSecret() async throws {
        try await self.withStore { store, fixture in
            try await RequestLogStoreChecks.writesEveryField(store) { try await LoggedRequest.read(fixture) }
        }
    }

    @Test func numbersOutsideTheTablesRulesAreClamped() async throws {
        try await self.withStore { store, fixture in
            try await RequestLogStoreChecks.clampsNumbers(store) { try await LoggedRequest.read(fixture) }
        }
    }

    @Test func aRefusedBatchWritesNothing() async throws {
        try await self.withStore { store, fixture in
            try await RequestLogStoreChecks.refusedBatchWritesNothing(store) { try await LoggedRequest.read(fixture) }
        }
    }

    @Test func deletingByAgeKeepsNewerRows() async throws {
        try await self.withStore { store, fixture in
            try await RequestLogStoreChecks.deletesOnlyOldRows(store) { try await LoggedRequest.read(fixture) }
        }
    }

    @Test func aLargeBatchIsOneStatement() async throws {
        try await self.withStore { store, fixture in
            let now = Date()
            let entries = (0..<1500).map { index in
                RequestLogEntry(
                    at: now, requestID: "r\(index)", route: "gemini:generateContent", status: 200,
                    latencyMilliseconds: index
                )
            }
            try await store.appendRequestLog(entries)
            let count = try await fixture.sql("SELECT count(*) AS n, sum(latency_ms) AS total FROM request_log")
            #expect(count.first?["n"].int == 1500)
            #expect(count.first?["total"].int == (0..<1500).reduce(0, +))
        }
    }
}
