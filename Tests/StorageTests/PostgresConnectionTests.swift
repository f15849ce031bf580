import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Testing

/// Value encoding, payload decoding and error mapping (no server needed).
@Suite struct PostgresValueTests {
    @Test func instantsAreWrittenAsUTCMicroseconds() throws {
        let instant = try UsageStoreConformance.instant("2026-08-20T10:00:05Z")
        #expect(PostgresValue(instant).text == "2026-08-20 10:00:05.000000+00")
        #expect(PostgresValue(instant + 0.123456).text == "2026-08-20 10:00:05.123456+00")
        #expect(PostgresValue(Date(timeIntervalSince1970: -0.5)).text == "1969-12-31 23:59:59.500000+00")
        #expect(PostgresValue(nil as Date?).text == nil)
        #expect(PostgresValue(true).text == "t")
    }

    @Test(
        "timestamps in PostgreSQL's ISO output are read",
        arguments: [
            ("2026-08-20 10:00:05+00", 1_787_220_005.0),
            ("2026-08-20 10:00:05.5+00", 1_787_220_005.5),
            ("2026-08-20 15:30:05.25+05:30", 1_787_220_005.25),
            ("2026-08-20 03:00:05-07", 1_787_220_005.0),
            ("1970-01-01 00:00:00+00", 0),
            ("1969-12-31 23:59:59.5+00", -0.5),
            ("2024-02-29 00:00:00+00", 1_709_164_800),
        ]
    )
    func timestampsAreRead(text: String, seconds: Double) {
        #expect(PostgresCell(text: text).date == Date(timeIntervalSince1970: seconds))
    }

    @Test func malformedTimestampsAreNil() {
        for text in ["infinity", "-infinity", "2026-08-20", "2026-08-20 10:00", "2026-08-20 10:00:05+", "x"] {
            #expect(PostgresCell(text: text).date == nil)
        }
    }

    @Test func instantsRoundTripToTheMicrosecond() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            // 1900 to 2100: a Double holds microseconds exactly enough in this range.
            let micros = Int64.random(in: -2_208_988_800_000_000...4_102_444_800_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
            let text = PostgresValue(date).text ?? ""
            #expect(PostgresCell(text: text).date.map { PostgresValue($0).text } == text)
        }
    }

    @Test func payloadsDecodeToChanges() {
        #expect(PostgresListener.change(fromPayload: "setting:max_retries") == .setting("max_retries"))
        #expect(PostgresListener.change(fromPayload: "key:42") == .key(42))
        #expect(
            PostgresListener.change(fromPayload: "row:7:gemini-2.5-flash")
                == .row(UsageRowID(model: "gemini-2.5-flash", keyID: 7))
        )
        #expect(PostgresListener.change(fromPayload: "reset") == .reset)
        for other in ["resync", "key:x", "row:7:", "row:x:m", "something else", ""] {
            #expect(PostgresListener.change(fromPayload: other) == .resync)
        }
    }

    @Test(
        "SQLSTATEs map to store codes",
        arguments: [
            ("08006", false, StoreError.Code.connectionLost), ("57P01", false, .connectionLost),
            ("23505", false, .conflict), ("23503", false, .conflict), ("23514", false, .conflict),
            ("40P01", false, .conflict), ("42P01", false, .database), ("23505", true, .connectionLost),
        ]
    )
    func sqlStatesMapToCodes(state: String, broken: Bool, code: StoreError.Code) {
        #expect(PostgresConnection.code(sqlState: state, connectionBroken: broken) == code)
    }
}

@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresConnectionTests {
    /// Terminates the store's backends (not the listener's, not this session) and waits until
    /// they are gone; returns how many there were.
    static func terminatePool(of fixture: PostgresFixture, where condition: String = "TRUE") async throws -> Int {
        let rows = try await fixture.sql(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) AS killed FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'keyrelay' AND \(condition)
            """
        )
        return rows.first?["killed"].int ?? 0
    }

    @Test func lostConnectionsAreReopenedOnNextUse() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 2)
            let row = try await PostgresFleetTests.row(on: store)
            let limits = Limits(rpm: 1000)
            _ = try await store.reserve(ReservationRequest(row: row, limits: limits, now: Date()))
            #expect(try await Self.terminatePool(of: fixture) == 2)

            do {
                _ = try await store.reserve(ReservationRequest(row: row, limits: limits, now: Date()))
            } catch let error as StoreError {
                #expect(error.code == .connectionLost)
            }
            for _ in 0..<4 {
                #expect(try await store.reserve(ReservationRequest(row: row, limits: limits, now: Date())).row.rpm >= 2)
            }
            #expect(try await store.loadKeys().count == 1)
            await store.close()
        }
    }

    @Test func backendKilledMidStatementIsConnectionLost() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 1)
            let sleeper = Task {
                try await store.pool.perform("sleep") { connection throws(StoreError) in
                    try connection.query("SELECT pg_sleep(10)")
                }
            }
            var killed = 0
            for _ in 0..<200 where killed == 0 {
                killed = try await Self.terminatePool(of: fixture, where: "query LIKE 'SELECT pg_sleep%'")
                if killed == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(killed == 1)
            let error = await #expect(throws: StoreError.self) { try await sleeper.value }
            #expect(error?.code == .connectionLost)
            // libpq reports the closed socket; the server's 57P01 comes with it only sometimes.
            #expect(["57P01", "connection bad"].contains(error?.nativeCode))
            #expect(try await store.loadSettings().isEmpty)
            await store.close()
        }
    }

    @Test func errorsAndLogsNeverShowThePassword() async throws {
        let wrongPassword = "s3cret-pw-XYZ"
        let realPassword = try #require(PostgresTestServer.password)
        let adminURL = try #require(PostgresTestServer.adminURL)
        var wrong = try #require(URLComponents(string: adminURL))
        wrong.password = wrongPassword
        let urls = [
            try #require(wrong.string),
            "postgres://keyrelay:\(wrongPassword)@127.0.0.1:1/keyrelay_test",
            "postgres://keyrelay:\(wrongPassword)@127.0.0.1:notaport/keyrelay_test",
        ]
        let capture = CapturingLogHandler()
        var texts: [String] = []
        for url in urls {
            let error = await #expect(throws: StoreError.self) {
                _ = try await PostgresStore(url: url, logger: capture.logger(), poolSize: 1)
            }
            #expect(error?.code == .unavailable)
            texts += [error?.description ?? "", error?.debugDescription ?? "", String(reflecting: error)]
        }

        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 1, logger: capture.logger())
            let recorder = ChangeRecorder(store.changes())
            _ = await recorder.next(timeout: .seconds(5)) { $0 == .resync }
            _ = try await fixture.sql(
                """
                SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name LIKE 'keyrelay%' AND pid <> pg_backend_pid()
                """
            )
            _ = await recorder.next(timeout: .seconds(5)) { $0 == .resync }
            for attempt in [
                { try await store.saveSettings(["k": "{"], by: "test", at: Date()) },
                { try await store.reactivate(keyID: 424_242) },
                { try await store.exhaust(UsageRowID(model: "m", keyID: 424_242), until: Date()) },
                {
                    try await store.pool.perform("bad sql") { connection throws(StoreError) in
                        _ = try connection.query("SELECT * FROM no_such_table")
                    }
                },
            ] as [@Sendable () async throws -> Void] {
                do {
                    try await attempt()
                } catch let error as StoreError {
                    texts += [error.description, error.debugDescription, String(reflecting: error)]
                }
            }
            await recorder.stop()
            await store.close()
            let closed = await #expect(throws: StoreError.self) { try await store.loadKeys() }
            texts += [closed?.description ?? "", closed?.debugDescription ?? ""]
        }

        #expect(texts.count >= 20)
        texts += capture.captured
        // Counted, not compared in `#expect`, which would print the password on failure.
        let leaks = texts.filter { $0.contains(wrongPassword) || $0.contains(realPassword) }.count
        #expect(leaks == 0)
    }
}
