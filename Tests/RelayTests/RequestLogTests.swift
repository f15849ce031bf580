import Foundation
import KeyPool
import KeyRelayTestSupport
import Relay
import Storage
import Testing

/// The request log through the relay: one row per client request, written in batches, with the
/// request's id, client, last key, tokens, retries and 429s, and never a secret.
@Suite struct RequestLogTests {
    /// One row as column → text (NULL is nil).
    struct Row {
        var columns: [String: String?]
        func text(_ column: String) -> String? { self.columns[column] ?? nil }
        func int(_ column: String) -> Int { self.text(column).flatMap { Int($0) } ?? -1 }
    }

    /// The SQLite harness's request log, oldest first.
    static func rows(_ harness: RelayHarness) async throws -> [Row] {
        await harness.relay.flushRequestLog()
        return try await harness.store.database.perform("test") { connection throws(StoreError) in
            try connection.query("SELECT * FROM request_log ORDER BY id")
        }.map { row in
            Row(
                columns: row.columns.mapValues { value -> String? in
                    switch value {
                    case .null: nil
                    case .integer(let number): String(number)
                    case .real(let number): String(number)
                    case .text(let text): text
                    }
                }
            )
        }
    }

    /// The log once it has `count` rows: a stream's row is queued just after its last byte left,
    /// which may be a moment after the client read it. Gives up after 5 s.
    static func rows(_ harness: RelayHarness, count: Int) async throws -> [Row] {
        let deadline = ContinuousClock.now + .seconds(5)
        var rows = try await Self.rows(harness)
        while rows.count < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            rows = try await Self.rows(harness)
        }
        return rows
    }

    /// Fails when any column of any row holds a key or the client token.
    static func expectNoSecret(_ rows: [Row], secrets: [String]) {
        for row in rows {
            for (column, value) in row.columns {
                #expect(!secrets.contains { value?.contains($0) == true }, "request_log.\(column) holds a secret")
            }
        }
    }

    @Test func eachRequestIsLoggedOnceWithItsFields() async throws {
        let harness = try await RelayHarness(keys: testKeys(2, tag: "RL"))
        let replies = [try await harness.generate("one"), try await harness.generate("two")]
        #expect(replies.map(\.status) == [200, 200])
        let rows = try await Self.rows(harness)
        let keyIDs = try await harness.storedKeys().map { String($0.id) }

        #expect(rows.map { $0.text("request_id") } == replies.map { $0.header("x-request-id") })
        for row in rows {
            #expect(row.text("client_label") == "harness")
            #expect(row.text("model") == "gemini-2.5-flash")
            #expect(row.text("route") == "gemini:generateContent")
            #expect(row.int("status") == 200)
            #expect(row.int("retries") == 0 && row.int("rate_limited") == 0)
            #expect(keyIDs.contains(row.text("key_id") ?? "none"))
            #expect(row.int("input_tokens") > 0)
            #expect(row.int("total_tokens") >= row.int("input_tokens"))
            #expect(row.int("latency_ms") >= 0)
            #expect(row.text("instance_id") != nil)
        }
        Self.expectNoSecret(rows, secrets: harness.keys + [RelayHarness.token])
        await harness.shutdown()
    }

    @Test func aRateLimitedKeyAndAnExhaustedPoolAreLoggedAsSuch() async throws {
        let keys = testKeys(1, tag: "RQ")
        let harness = try await RelayHarness(keys: keys) { $0.dailyExhaustedKeys = [APIKey(keys[0])!] }
        #expect(try await harness.generate("upstream 429").status == 429)
        #expect(try await harness.generate("relay 429").status == 429)
        let rows = try await Self.rows(harness)
        let keyID = try #require(try await harness.storedKeys().first?.id)

        #expect(rows.count == 2)
        // The key was tried and answered 429; then the relay refused without trying any key.
        #expect(rows.first?.text("key_id") == String(keyID) && rows.first?.int("rate_limited") == 1)
        #expect(rows.last?.text("key_id") == nil && rows.last?.int("rate_limited") == 0)
        #expect(rows.allSatisfy { $0.int("status") == 429 && $0.int("retries") == 0 })
        Self.expectNoSecret(rows, secrets: keys + [RelayHarness.token])
        await harness.shutdown()
    }

    @Test func aStreamIsLoggedAfterItsLastByteWithItsTokens() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "RS"))
        let reply = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"parts":[{"text":"stream me"}]}]}"#
        )
        #expect(reply.status == 200)
        let rows = try await Self.rows(harness, count: 1)
        #expect(rows.count == 1)
        #expect(rows.first?.text("route") == "gemini:streamGenerateContent")
        #expect(rows.first?.text("request_id") == reply.header("x-request-id"))
        #expect((rows.first?.int("total_tokens") ?? 0) > 0, "tokens come from the stream's last event")
        await harness.shutdown()
    }

    @Test func rowsOlderThanTheRetentionAreDeleted() async throws {
        let harness = try await RelayHarness(
            keys: testKeys(1, tag: "RR"),
            environment: ["KEYRELAY_REQUEST_LOG_RETENTION_DAYS": "7"]
        )
        let now = Date()
        try await harness.store.appendRequestLog([
            RequestLogEntry(
                at: now.addingTimeInterval(-8 * 86_400),
                requestID: "old",
                route: "x",
                status: 200,
                latencyMilliseconds: 1
            ),
            RequestLogEntry(
                at: now.addingTimeInterval(-6 * 86_400),
                requestID: "kept",
                route: "x",
                status: 200,
                latencyMilliseconds: 1
            ),
        ])
        await harness.relay.purgeRequestLog()
        #expect(try await Self.rows(harness).map { $0.text("request_id") } == ["kept"])
        await harness.shutdown()
    }
}

@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct FleetRequestLogTests {
    @Test func aFleetInstanceLogsItsRequestsUnderItsInstanceID() async throws {
        let keys = testKeys(2, tag: "FL")
        let fleet = try await FleetHarness(instances: 1, keys: keys)
        let reply = try await fleet.generate(on: 0)
        #expect(reply.status == 200)
        await fleet.relays[0].flushRequestLog()

        let rows = try await fleet.database.sql(
            "SELECT r.*, i.id AS registered FROM request_log AS r LEFT JOIN instances AS i ON i.id = r.instance_id"
        )
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row["request_id"].string == reply.header("x-request-id"))
        #expect(row["registered"].string != nil, "instance_id names the instance's row")
        #expect(row["client_label"].string == "fleet" && row["status"].int == 200)
        #expect((row["input_tokens"].int ?? 0) > 0 && row["key_id"].int64 != nil)
        let text = row.columns.values.compactMap(\.text).joined(separator: " ")
        #expect(!(keys + [FleetHarness.token]).contains { text.contains($0) })
        await fleet.shutdown()
    }
}
