import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Testing

/// What only a shared PostgreSQL store does: exactness across instances on the database's clock,
/// the reset job, settings seeding and the instance registry.
@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresFleetTests {
    static let model = UsageStoreConformance.model

    /// Adds one gemini key through `store` and returns its row for `model`.
    static func row(on store: PostgresStore, key: Int = 1, model: String = Self.model) async throws -> UsageRowID {
        let keys = try await store.syncKeys(
            [ConfiguredKey(secret: UsageStoreConformance.key(key))],
            kind: .gemini,
            at: Date()
        )
        let keyID = try #require(keys.first { $0.secret == UsageStoreConformance.key(key) }?.id)
        return UsageRowID(model: model, keyID: keyID)
    }

    static func isReserved(_ result: ReservationResult) -> Bool {
        if case .reserved = result { return true }
        return false
    }

    @Test func threeInstancesAdmitExactlyTheLimit() async throws {
        try await PostgresFixture.with { fixture in
            var stores: [PostgresStore] = []
            for _ in 0..<3 { stores.append(try await fixture.openPostgresStore(poolSize: 4)) }
            let row = try await Self.row(on: stores[0])
            // The day limit caps the total even if the minute rolls over during the run.
            let limits = Limits(rpm: 10, rpd: 10)

            let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
                for store in stores {
                    for _ in 0..<60 {
                        group.addTask {
                            let result = try await store.reserve(
                                ReservationRequest(row: row, limits: limits, now: Date())
                            )
                            return Self.isReserved(result) ? 1 : 0
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(admitted == 10)
            #expect(try await stores[2].loadRow(row)?.rpd == 10)
            for store in stores { await store.close() }
        }
    }

    /// Caller clocks one second either side of a minute boundary: on the database's clock every
    /// reservation lands in the database's minute, so the limit holds; on the callers' clocks the
    /// leading ones open a new window and one more is admitted.
    @Test func skewedInstanceClocksCannotReopenAFullWindow() async throws {
        try await PostgresFixture.with { fixture in
            let fleet = [try await fixture.openPostgresStore(), try await fixture.openPostgresStore()]
            let row = try await Self.row(on: fleet[0])
            let limits = Limits(rpm: 5)
            try await fixture.waitForRoomInDatabaseMinute()
            let minute = try await fixture.databaseMinute()
            let boundary = UsageStoreConformance.calendar.minuteEnd(of: Date())

            var admitted: [Reservation] = []
            for attempt in 0..<20 {
                let skewed = boundary + (attempt.isMultiple(of: 2) ? -1 : 1)
                let request = ReservationRequest(row: row, limits: limits, now: skewed)
                if case .reserved(let reservation, _, _) = try await fleet[attempt % 2].reserve(request) {
                    admitted.append(reservation)
                }
            }
            #expect(try await fixture.databaseMinute() == minute)
            #expect(admitted.count == 5)
            #expect(admitted.allSatisfy { $0.minuteStart == minute })

            let caller = try await fixture.openPostgresStore(windowClock: .caller)
            let other = UsageRowID(model: "gemini-2.5-pro", keyID: row.keyID)
            var callerAdmitted = 0
            for attempt in 0..<20 {
                let skewed = boundary + (attempt.isMultiple(of: 2) ? -1 : 1)
                let result = try await caller.reserve(ReservationRequest(row: other, limits: limits, now: skewed))
                callerAdmitted += Self.isReserved(result) ? 1 : 0
            }
            #expect(callerAdmitted == 6)
            for store in fleet + [caller] { await store.close() }
        }
    }

    @Test func resetsZeroClosedWindowsOnceAndKeepHistory() async throws {
        try await PostgresFixture.with { fixture in
            let past = try await fixture.openPostgresStore(windowClock: .caller)
            let fleet = [try await fixture.openPostgresStore(), try await fixture.openPostgresStore()]
            let first = try await Self.row(on: past, key: 1)
            let second = UsageRowID(model: "gemini-2.5-pro", keyID: first.keyID)
            let at = try UsageStoreConformance.instant("2026-08-20T10:00:05Z")
            let limits = Limits(rpm: 10, tpm: 1000, rpd: 100)
            for row in [first, second] {
                let result = try await past.reserve(ReservationRequest(row: row, limits: limits, now: at))
                let reservation = try #require(result.reservation)
                try await past.record(
                    UsageRecord(reservation: reservation, inputTokens: 10, totalTokens: 20, outcome: .success, at: at)
                )
            }
            try await past.exhaust(first, until: at + 30)

            try await fixture.waitForRoomInDatabaseMinute()
            let live = UsageRowID(model: "gemini-2.0-flash", keyID: first.keyID)
            _ = try await fleet[0].reserve(ReservationRequest(row: live, limits: limits, now: Date()))
            try await fixture.sql(
                """
                INSERT INTO request_log (at, request_id, route, status, latency_ms)
                VALUES (now() - INTERVAL '40 days', 'old', '/v1', 200, 5), (now(), 'new', '/v1', 200, 5)
                """
            )
            try await fleet[0].registerInstance(id: "fresh", host: "h1", version: "1")
            try await fixture.sql(
                "INSERT INTO instances (id, host, version, heartbeat_at) VALUES ('stale', 'h2', '1', now() - INTERVAL '10 minutes')"
            )
            let recorder = ChangeRecorder(fleet[1].changes())
            #expect(await recorder.next(timeout: .seconds(5)) { $0 == .resync } != nil)

            async let one = fleet[0].runResets(retentionDays: 30)
            async let two = fleet[1].runResets(retentionDays: 30)
            let outcomes = try await [one, two]
            #expect(outcomes.contains(.ran(rowsZeroed: 2)))
            #expect(outcomes.filter { $0 == .ran(rowsZeroed: 2) }.count == 1)
            #expect(outcomes.allSatisfy { [.ran(rowsZeroed: 2), .ran(rowsZeroed: 0), .skipped].contains($0) })

            let rows = try await fleet[0].snapshot()
            for id in [first, second] {
                let row = try #require(rows.first { $0.id == id })
                #expect(row.rpm == 0 && row.tpm == 0 && row.rpd == 0 && row.exhaustedUntil == nil)
            }
            #expect(rows.first { $0.id == live }?.rpm == 1)
            for id in [first, second] {
                let history = try await fixture.dailyUsage(day: "2026-08-20", row: id)
                #expect(history == DailyUsage(requests: 1, inputTokens: 10, totalTokens: 20, errors: 0, rateLimited: 0))
            }
            let logs = try await fixture.sql("SELECT request_id FROM request_log").compactMap {
                $0["request_id"].string
            }
            #expect(logs == ["new"])
            let instances = try await fixture.sql("SELECT id FROM instances").compactMap { $0["id"].string }
            #expect(instances == ["fresh"])
            #expect(await recorder.next(timeout: .seconds(5)) { $0 == .reset } != nil)

            #expect(try await fleet[1].runResets(retentionDays: 30) == .ran(rowsZeroed: 0))
            #expect(try await fleet[1].snapshot() == rows)
            await recorder.stop()
            for store in fleet + [past] { await store.close() }
        }
    }

    @Test func instancesStartingTogetherSeedSettingsOnce() async throws {
        try await PostgresFixture.with { fixture in
            var stores: [PostgresStore] = []
            for _ in 0..<3 { stores.append(try await fixture.openPostgresStore(poolSize: 1)) }
            let values = (0..<3).map { ["max_retries": "\($0)", "quota_tier": #""Tier \#($0)""#] }

            let seeded = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask { (index, try await store.seedSettings(values[index], by: "instance-\(index)")) }
                }
                return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            let winners = seeded.filter(\.value).map(\.key)
            #expect(winners.count == 1)
            let winner = try #require(winners.first)
            #expect(try await stores[0].loadSettings() == values[winner])
            #expect(try await stores[1].seedSettings(["max_retries": "9"], by: "late") == false)
            #expect(try await stores[2].loadSettings() == values[winner])
            for store in stores { await store.close() }
        }
    }

    @Test func instancesRegisterBeatAndLeave() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 1)
            try await store.registerInstance(id: "relay-1", host: "host-a", version: "0.1.0")
            try await store.heartbeat(instanceID: "relay-1")
            let rows = try await fixture.sql(
                "SELECT host, version, heartbeat_at >= started_at AS ordered FROM instances"
            )
            #expect(rows.count == 1)
            #expect(rows.first?["host"].string == "host-a" && rows.first?["ordered"].bool == true)

            try await store.deregisterInstance(id: "relay-1")
            try await store.deregisterInstance(id: "relay-1")
            let gone = await #expect(throws: StoreError.self) { try await store.heartbeat(instanceID: "relay-1") }
            #expect(gone?.code == .notFound)
            await store.close()
        }
    }

    @Test func loadRowReadsOneRowAsStored() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 1)
            let row = try await Self.row(on: store)
            #expect(try await store.loadRow(row) == nil)
            let result = try await store.reserve(ReservationRequest(row: row, limits: Limits(rpm: 3), now: Date()))
            #expect(try await store.loadRow(row) == result.row)
            #expect(try await store.snapshot() == [result.row])
            await store.close()
        }
    }
}

extension PostgresFixture {
    /// The database's current UTC minute.
    func databaseMinute() async throws -> Date {
        let rows = try await self.sql("SELECT date_trunc('minute', now()) AS minute")
        return try #require(rows.first?["minute"].date)
    }

    /// Returns at once when at least 10 s of the database's minute remain, else after the next
    /// minute has begun, so a test that must stay inside one minute has room (DESIGN.md §10).
    func waitForRoomInDatabaseMinute() async throws {
        let rows = try await self.sql("SELECT extract(second FROM now())::float8 AS second")
        let second = try #require(rows.first?["second"].string.flatMap(Double.init))
        if second > 50 {
            try await Task.sleep(for: .milliseconds(Int((60 - second) * 1000) + 100))
        }
    }
}
