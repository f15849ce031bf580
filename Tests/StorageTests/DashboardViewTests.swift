import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Testing

/// The dashboard views on a database with traffic in it: every view answers, its rows add up,
/// closed windows read as zero, and no view shows a secret. The read-only role reads every view
/// and is refused every table.
@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct DashboardViewTests {
    static let secrets = [
        "AIzaSyDashboardViewSecret00000000000001", "AIzaSyDashboardViewSecret00000000000002",
    ]
    static let model = "gemini-2.5-flash"
    static let limits = Limits(rpm: 10, tpm: 1000, rpd: 100)

    /// Waits until at least `seconds` remain in the current UTC minute (DESIGN.md §10), so the
    /// counts of one window are read inside it.
    static func waitForUsableMinute(needing seconds: Double = 15) async throws {
        let intoMinute = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
        if 60 - intoMinute < seconds {
            try await Task.sleep(for: .milliseconds(Int((60 - intoMinute) * 1000) + 50))
        }
    }

    /// Two keys with traffic: key A took 3 requests (one recorded with tokens) and a row whose
    /// windows closed without a reset; key B took one and is exhausted by a 429. The request log
    /// has three requests now and one two days ago; one instance is alive and one is not.
    static func seed(_ store: PostgresStore, _ fixture: PostgresFixture) async throws -> (a: Int64, b: Int64) {
        let now = Date()
        let keys = try await store.syncKeys(
            [
                ConfiguredKey(secret: APIKey(Self.secrets[0])!, label: "team-a"),
                ConfiguredKey(secret: APIKey(Self.secrets[1])!),
            ],
            kind: .gemini,
            at: now
        )
        let a = try #require(keys.first { $0.label == "team-a" }?.id)
        let b = try #require(keys.first { $0.label == nil }?.id)

        func reserve(_ keyID: Int64, model: String = Self.model) async throws -> Reservation {
            let request = ReservationRequest(row: UsageRowID(model: model, keyID: keyID), limits: Self.limits, now: now)
            guard case .reserved(let reservation, _, _) = try await store.reserve(request) else {
                throw StoreError(.conflict, operation: "test reserve")
            }
            return reservation
        }
        let first = try await reserve(a)
        _ = try await reserve(a)
        _ = try await reserve(a)
        let onB = try await reserve(b)
        _ = try await reserve(a, model: "gemini-2.5-pro")
        try await store.record(batch: [
            UsageRecord(reservation: first, inputTokens: 50, totalTokens: 80, outcome: .success, at: now),
            UsageRecord(reservation: onB, inputTokens: 0, totalTokens: 0, outcome: .rateLimited, at: now),
        ])
        try await store.exhaust(UsageRowID(model: Self.model, keyID: b), until: now.addingTimeInterval(120))
        // The pro row's windows closed and no reset ran: its counters are stale.
        try await fixture.sql(
            """
            UPDATE key_usage SET minute_start = minute_start - INTERVAL '1 minute',
                day_start = day_start - INTERVAL '1 day'
            WHERE model = 'gemini-2.5-pro'
            """
        )

        try await store.appendRequestLog([
            RequestLogEntry(
                at: now, requestID: "r1", instanceID: "i-live", clientLabel: "batch", keyID: a, model: Self.model,
                route: "gemini:generateContent", status: 200, latencyMilliseconds: 100, inputTokens: 50,
                totalTokens: 80, retries: 1, rateLimited: 1
            ),
            RequestLogEntry(
                at: now, requestID: "r2", instanceID: "i-live", clientLabel: "batch", keyID: b, model: Self.model,
                route: "gemini:generateContent", status: 429, latencyMilliseconds: 20
            ),
            RequestLogEntry(
                at: now, requestID: "r3", instanceID: "i-live", clientLabel: "web", keyID: nil, model: Self.model,
                route: "gemini:generateContent", status: 503, latencyMilliseconds: 5
            ),
            RequestLogEntry(
                at: now.addingTimeInterval(-2 * 86_400), requestID: "r-old", keyID: a, model: Self.model,
                route: "gemini:generateContent", status: 200, latencyMilliseconds: 7
            ),
        ])
        try await store.registerInstance(id: "i-live", host: "host-1", version: "1.0")
        try await fixture.sql(
            """
            INSERT INTO instances (id, host, version, started_at, heartbeat_at)
            VALUES ('i-stale', 'host-2', '1.0', now() - INTERVAL '1 hour', now() - INTERVAL '2 minutes')
            """
        )
        return (a, b)
    }

    @Test func everyViewShowsTheTrafficWithClosedWindowsAsZero() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            try await Self.waitForUsableMinute()
            let (a, b) = try await Self.seed(store, fixture)
            let fingerprints = try await fixture.sql("SELECT id, fingerprint FROM api_keys ORDER BY id")
            let fingerprintOf = Dictionary(
                uniqueKeysWithValues: fingerprints.map { ($0["id"].int64 ?? -1, $0["fingerprint"].string ?? "") }
            )

            let headroom = try await fixture.sql("SELECT * FROM key_headroom ORDER BY model, key_id")
            #expect(headroom.count == 3)
            let proA = try #require(headroom.first { $0["model"].string == "gemini-2.5-pro" })
            #expect([proA["rpm"].int, proA["tpm"].int, proA["rpd"].int] == [0, 0, 0], "closed windows read as zero")
            #expect(proA["rpm_headroom"].int == 10 && proA["has_headroom"].bool == true)
            let flashA = try #require(headroom.first { $0["model"].string == Self.model && $0["key_id"].int64 == a })
            #expect(flashA["fingerprint"].string == fingerprintOf[a] && flashA["label"].string == "team-a")
            #expect([flashA["rpm"].int, flashA["tpm"].int, flashA["rpd"].int] == [3, 50, 3])
            let left = [flashA["rpm_headroom"].int, flashA["tpm_headroom"].int, flashA["rpd_headroom"].int]
            #expect(left == [7, 950, 97])
            #expect(flashA["rpm_used_pct"].string == "30.0" && flashA["tpm_used_pct"].string == "5.0")
            #expect(flashA["has_headroom"].bool == true && flashA["is_exhausted"].bool == false)
            let flashB = try #require(headroom.first { $0["model"].string == Self.model && $0["key_id"].int64 == b })
            #expect(flashB["rpm"].int == 1 && flashB["is_exhausted"].bool == true)
            #expect(flashB["has_headroom"].bool == false)

            let perMinute = try await fixture.sql("SELECT * FROM requests_per_minute")
            #expect(perMinute.count == 1, "the request of two days ago is outside the last 24 hours")
            let minute = try #require(perMinute.first)
            #expect(minute["model"].string == Self.model)
            #expect([minute["requests"].int, minute["errors"].int, minute["client_errors"].int] == [3, 2, 0])
            #expect([minute["rate_limited"].int, minute["server_errors"].int, minute["retries"].int] == [1, 1, 1])
            #expect(minute["input_tokens"].int == 50 && minute["total_tokens"].int == 80)
            #expect(minute["avg_latency_ms"].int == 42)

            let share = try await fixture.sql("SELECT * FROM rate_limited_share ORDER BY hour DESC")
            #expect(share.count == 2, "this hour, and the hour two days ago")
            let hour = try #require(share.first)
            // r1 took two attempts (one 429), r2 one, r3 none (no key was tried).
            #expect([hour["requests"].int, hour["attempts"].int, hour["rate_limited_attempts"].int] == [3, 3, 1])
            #expect(hour["answered_429"].int == 1)
            #expect(hour["rate_limited_pct"].string == "33.33" && hour["answered_429_pct"].string == "33.33")
            #expect(share.last?["requests"].int == 1 && share.last?["rate_limited_pct"].string == "0.00")

            let tokens = try await fixture.sql("SELECT * FROM tokens_per_day ORDER BY key_id")
            #expect(tokens.count == 2)
            let day = store.calendar.dayLabel(of: Date())
            #expect(tokens.allSatisfy { $0["day"].string == day && $0["key_removed"].bool == false })
            let onA = try #require(tokens.first)
            #expect(onA["fingerprint"].string == fingerprintOf[a] && onA["label"].string == "team-a")
            #expect([onA["requests"].int, onA["input_tokens"].int, onA["total_tokens"].int] == [1, 50, 80])
            #expect(tokens.last?["rate_limited"].int == 1 && tokens.last?["fingerprint"].string == fingerprintOf[b])

            let instances = try await fixture.sql("SELECT * FROM instance_liveness ORDER BY instance_id")
            #expect(instances.map { $0["instance_id"].string } == ["i-live", "i-stale"])
            #expect(instances[0]["is_alive"].bool == true && (instances[0]["seconds_since_heartbeat"].int ?? -1) < 5)
            #expect(instances[1]["is_alive"].bool == false)
            #expect((119...130).contains(instances[1]["seconds_since_heartbeat"].int ?? -1))

            let recent = try await fixture.sql("SELECT * FROM recent_requests ORDER BY request_id")
            #expect(recent.map { $0["request_id"].string } == ["r1", "r2", "r3"])
            #expect(recent[0]["key_fingerprint"].string == fingerprintOf[a])
            #expect(recent[0]["key_label"].string == "team-a")
            #expect(recent[2]["key_fingerprint"].isNull)

            let minuteNow = try await fixture.sql("SELECT date_trunc('minute', now()) = $1::timestamptz AS same", [
                PostgresValue(minute["minute"].date)
            ])
            #expect(minuteNow.first?["same"].bool == true, "the checks ran inside the minute of the traffic")
            await store.close()
        }
    }

    @Test func everyExampleQueryRunsAndPoolHeadroomCountsOnlyUsableKeys() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            try await Self.waitForUsableMinute()
            _ = try await Self.seed(store, fixture)
            let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../SQL/postgres/examples").standardizedFileURL
            let files = try FileManager.default.contentsOfDirectory(atPath: examples.path)
                .filter { $0.hasSuffix(".sql") && $0 != "readonly_role.sql" }.sorted()
            #expect(files.count >= 4)
            for file in files {
                let text = try String(contentsOf: examples.appendingPathComponent(file), encoding: .utf8)
                // A file may hold several statements (one panel each); each runs on its own.
                for statement in text.components(separatedBy: ";\n") {
                    let code = statement.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
                    if !code.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { _ = try await fixture.sql(code) }
                }
            }
            let pool = try String(contentsOf: examples.appendingPathComponent("pool_headroom.sql"), encoding: .utf8)
            let flash = try #require(try await fixture.sql(pool).first { $0["model"].string == Self.model })
            // Key A has 7 of 10 left; key B is under a 429 and adds nothing.
            #expect(flash["rpm_left"].int == 7)
            #expect(flash["keys_exhausted"].int == 1)
            await store.close()
        }
    }

    @Test func noViewShowsASecret() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            _ = try await Self.seed(store, fixture)
            for view in DashboardViewFileTests.viewNames {
                // Identifiers cannot be bound; the names are this test's own constants.
                let rows = try await fixture.sql("SELECT row_to_json(v)::text AS row FROM \(view) AS v")
                #expect(!rows.isEmpty, "\(view) has rows to check")
                for row in rows {
                    let text = row["row"].string ?? ""
                    #expect(!Self.secrets.contains { text.contains($0) }, "\(view) shows a secret")
                }
            }
            let readers = try await fixture.sql(
                """
                SELECT view_name FROM information_schema.view_column_usage
                WHERE table_name = 'api_keys' AND column_name IN ('secret', 'secret_hash')
                """
            )
            #expect(readers.isEmpty)
            await store.close()
        }
    }

    @Test func theReadOnlyRoleReadsEveryViewAndNoTable() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore()
            _ = try await Self.seed(store, fixture)
            let role = try await fixture.sql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'keyrelay_readonly'")
            #expect(role.first?["rolcanlogin"].bool == false, "migration 0010 created the NOLOGIN role")
            // To act as the role, the test's own role joins it (the test role may create roles).
            try await fixture.sql("GRANT keyrelay_readonly TO CURRENT_USER")

            let connection = try await PostgresConnection.connect(url: fixture.url, applicationName: "keyrelay-test")
            let views = DashboardViewFileTests.viewNames
            let counts = try await connection.perform("read views as the role") { connection throws(StoreError) in
                try connection.transaction { () throws(StoreError) -> [Int] in
                    try connection.execute("SET LOCAL ROLE keyrelay_readonly")
                    return try views.map { view throws(StoreError) in
                        try connection.query("SELECT count(*) AS n FROM \(view)").first?["n"].int ?? -1
                    }
                }
            }
            #expect(counts.allSatisfy { $0 > 0 }, "every view answers the role with rows: \(counts)")

            let tables = try await fixture.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                .compactMap { $0["tablename"].string }
            #expect(tables.contains("api_keys"))
            for table in tables {
                let query = table == "api_keys" ? "SELECT secret FROM api_keys" : "SELECT * FROM \(table)"
                let error = await #expect(throws: StoreError.self, "\(table) is refused") {
                    try await connection.perform("read \(table) as the role") { connection throws(StoreError) in
                        try connection.transaction { () throws(StoreError) in
                            try connection.execute("SET LOCAL ROLE keyrelay_readonly")
                            _ = try connection.query(query)
                        }
                    }
                }
                #expect(error?.nativeCode == "42501", "permission denied for \(table)")
            }
            await connection.close()
            await store.close()
        }
    }
}
