import Foundation
import KeyPool
import Storage
import Testing

/// A database that conformance checks can open stores on. Each fixture is a fresh, empty
/// database; every `openStore()` is a new connection (a new "instance") to the same data.
protocol UsageStoreFixture: Sendable {
    /// A migrated store on this fixture's database.
    func openStore() async throws -> any UsageStore
    /// The history row of (`day`, row), which `UsageStore` has no reader for.
    func dailyUsage(day: String, row: UsageRowID) async throws -> DailyUsage?
}

/// One `usage_daily` row.
struct DailyUsage: Equatable, Sendable {
    var requests: Int
    var inputTokens: Int
    var totalTokens: Int
    var errors: Int
    var rateLimited: Int
}

/// The behaviour every `UsageStore` must show (DESIGN.md §3, §5), written once as functions of a
/// fixture so each store's suite runs the same checks.
enum UsageStoreConformance {
    static let calendar = QuotaCalendar.pacific
    static let model = "gemini-2.5-flash"

    static func instant(_ text: String) throws -> Date {
        try Date(text, strategy: .iso8601)
    }

    /// A well-formed, recognisable test key; `n` tells keys apart.
    static func key(_ n: Int) -> APIKey {
        APIKey("AIzaSyConformanceSecret" + String(repeating: "0", count: 6) + String(n))!
    }

    /// A store holding one gemini key, and that key's row for `model`.
    static func storeWithKey(_ fixture: some UsageStoreFixture) async throws -> (any UsageStore, UsageRowID) {
        let store = try await fixture.openStore()
        let keys = try await store.syncKeys([ConfiguredKey(secret: Self.key(1))], kind: .gemini, at: Date())
        let keyID = try #require(keys.first?.id)
        return (store, UsageRowID(model: Self.model, keyID: keyID))
    }

    static func reserve(
        _ store: any UsageStore,
        _ row: UsageRowID,
        _ limits: Limits,
        at now: Date,
        cost: Int = 1,
        enforce: Bool = true
    ) async throws -> ReservationResult {
        try await store.reserve(
            ReservationRequest(row: row, limits: limits, cost: cost, now: now, enforceLimits: enforce)
        )
    }

    static func record(
        _ store: any UsageStore,
        _ reservation: Reservation,
        input: Int,
        total: Int,
        _ outcome: UsageRecord.Outcome,
        at now: Date
    ) async throws {
        try await store.record(
            UsageRecord(reservation: reservation, inputTokens: input, totalTokens: total, outcome: outcome, at: now)
        )
    }

    // MARK: - Limits

    static func reserveAdmitsExactlyUpToTheLimit(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 5, tpm: nil, rpd: 100)

        for expected in 1...5 {
            let result = try await Self.reserve(store, row, limits, at: now)
            #expect(result.isReserved)
            #expect(result.row.rpm == expected)
            #expect(result.row.rpd == expected)
        }
        let sixth = try await Self.reserve(store, row, limits, at: now)
        #expect(!sixth.isReserved)
        #expect(sixth.row.rpm == 5)
        #expect(sixth.row.limits == limits)
        await store.close()
    }

    static func dailyLimitHoldsAcrossMinutes(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let start = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 10, rpd: 3)

        for minute in 0..<3 {
            let result = try await Self.reserve(store, row, limits, at: start + Double(minute) * 60)
            #expect(result.isReserved)
        }
        let fourth = try await Self.reserve(store, row, limits, at: start + 180)
        #expect(!fourth.isReserved)
        #expect(fourth.row.rpd == 3)
        await store.close()
    }

    static func costAboveOneCountsEveryUnit(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 10, rpd: 1000)

        let tooBig = try await Self.reserve(store, row, limits, at: now, cost: 11)
        #expect(!tooBig.isReserved)
        #expect(tooBig.row.rpm == 0)

        #expect(try await Self.reserve(store, row, limits, at: now, cost: 4).row.rpm == 4)
        #expect(try await Self.reserve(store, row, limits, at: now, cost: 4).row.rpm == 8)
        let overflow = try await Self.reserve(store, row, limits, at: now, cost: 4)
        #expect(!overflow.isReserved)
        #expect(overflow.row.rpm == 8)
        let exact = try await Self.reserve(store, row, limits, at: now, cost: 2)
        #expect(exact.isReserved)
        #expect(exact.row.rpm == 10)
        #expect(exact.reservation?.cost == 2)
        #expect(exact.row.rpd == 10)
        await store.close()
    }

    static func unlimitedCountersNeverRefuse(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")

        for _ in 0..<100 {
            let result = try await Self.reserve(store, row, .unlimited, at: now)
            #expect(result.isReserved)
            #expect(result.overLimit == false)
        }
        let rows = try await store.snapshot()
        #expect(rows.map(\.rpm) == [100])
        #expect(rows.first?.limits == .unlimited)
        await store.close()
    }

    static func enforceOffAdmitsPastTheLimitAndReportsIt(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 2)

        #expect(try await Self.reserve(store, row, limits, at: now, enforce: false).overLimit == false)
        #expect(try await Self.reserve(store, row, limits, at: now, enforce: false).overLimit == false)
        let third = try await Self.reserve(store, row, limits, at: now, enforce: false)
        #expect(third.isReserved)
        #expect(third.overLimit == true)
        #expect(third.row.rpm == 3)

        let enforced = try await Self.reserve(store, row, limits, at: now)
        #expect(!enforced.isReserved)
        #expect(enforced.row.rpm == 3)
        await store.close()
    }

    static func tokenLimitRefusesOnceReached(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 100, tpm: 100)

        let first = try #require(try await Self.reserve(store, row, limits, at: now).reservation)
        try await Self.record(store, first, input: 60, total: 80, .success, at: now)
        let second = try #require(try await Self.reserve(store, row, limits, at: now).reservation)
        try await Self.record(store, second, input: 40, total: 40, .success, at: now)

        let refused = try await Self.reserve(store, row, limits, at: now)
        #expect(!refused.isReserved)
        #expect(refused.row.tpm == 100)
        let nextMinute = try await Self.reserve(store, row, limits, at: now + 60)
        #expect(nextMinute.isReserved)
        #expect(nextMinute.row.tpm == 0)
        await store.close()
    }

    // MARK: - Windows

    static func closedMinuteCountsAsZero(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 2, tpm: 1000)

        let first = try #require(try await Self.reserve(store, row, limits, at: now).reservation)
        try await Self.record(store, first, input: 500, total: 500, .success, at: now)
        #expect(try await Self.reserve(store, row, limits, at: now).isReserved)
        #expect(!(try await Self.reserve(store, row, limits, at: now).isReserved))

        let later = now + 61
        let result = try await Self.reserve(store, row, limits, at: later)
        #expect(result.isReserved)
        #expect(result.row.rpm == 1)
        #expect(result.row.tpm == 0)
        #expect(result.row.rpd == 3)
        #expect(result.row.minuteStart == Self.calendar.minuteStart(of: later))
        #expect(result.reservation?.minuteStart == Self.calendar.minuteStart(of: later))
        await store.close()
    }

    /// Quota days end at Pacific midnight, which is 23 or 25 hours after the start on a
    /// daylight-saving day: `sameDay` is still the first day, `nextDay` is the day after.
    static func closedDayCountsAsZero(
        _ fixture: some UsageStoreFixture,
        dayStart: String,
        sameDay: String,
        nextDay: String
    ) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let start = try Self.instant(dayStart)
        let limits = Limits(rpd: 1)

        let first = try await Self.reserve(store, row, limits, at: start + 30)
        #expect(first.isReserved)
        #expect(first.row.dayStart == start)
        let late = try await Self.reserve(store, row, limits, at: try Self.instant(sameDay))
        #expect(!late.isReserved)

        let next = try Self.instant(nextDay)
        let result = try await Self.reserve(store, row, limits, at: next)
        #expect(result.isReserved)
        #expect(result.row.rpd == 1)
        #expect(result.row.dayStart == Self.calendar.dayStart(of: next))
        #expect(result.row.dayStart > start)
        await store.close()
    }

    static func windowsNeverMoveBackwards(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let older = try Self.instant("2026-08-20T06:59:50Z")
        let newer = older + 20
        let limits = Limits(rpm: 2, rpd: 2)

        let ahead = try await Self.reserve(store, row, limits, at: newer)
        #expect(ahead.isReserved)
        // A caller whose clock lags is counted in the newer windows, not allowed to reset them.
        let behind = try await Self.reserve(store, row, limits, at: older)
        #expect(behind.isReserved)
        #expect(behind.row.rpm == 2)
        #expect(behind.row.rpd == 2)
        #expect(behind.row.minuteStart == Self.calendar.minuteStart(of: newer))
        #expect(behind.row.dayStart == Self.calendar.dayStart(of: newer))
        #expect(behind.reservation?.minuteStart == Self.calendar.minuteStart(of: newer))

        let refused = try await Self.reserve(store, row, limits, at: older)
        #expect(!refused.isReserved)
        #expect(refused.row.rpm == 2)
        await store.close()
    }

    static func exhaustedRowIsRefusedUntilTheMark(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 100)

        #expect(try await Self.reserve(store, row, limits, at: now).isReserved)
        try await store.exhaust(row, until: now + 30)
        try await store.exhaust(row, until: now + 5)  // must not shorten the mark
        let refused = try await Self.reserve(store, row, limits, at: now + 20)
        #expect(!refused.isReserved)
        #expect(refused.row.exhaustedUntil == now + 30)
        #expect(try await Self.reserve(store, row, limits, at: now + 30).isReserved)

        // A mark on a row that has never been reserved creates the row.
        let other = UsageRowID(model: "gemini-2.5-pro", keyID: row.keyID)
        try await store.exhaust(other, until: now + 90)
        #expect(!(try await Self.reserve(store, other, limits, at: now + 60).isReserved))
        #expect(try await Self.reserve(store, other, limits, at: now + 90).isReserved)
        await store.close()
    }

    static func releaseNeverGoesNegativeAndIgnoresClosedWindows(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 10, rpd: 10)

        let once = try #require(try await Self.reserve(store, row, limits, at: now).reservation)
        try await store.release(once)
        try await store.release(once)
        var rows = try await store.snapshot()
        #expect(rows.first?.rpm == 0)
        #expect(rows.first?.rpd == 0)

        let stale = try #require(try await Self.reserve(store, row, limits, at: now).reservation)
        #expect(try await Self.reserve(store, row, limits, at: now + 61).isReserved)
        // The minute of `stale` is over: its unit there is already forgotten; its day is not.
        try await store.release(stale)
        rows = try await store.snapshot()
        #expect(rows.first?.rpm == 1)
        #expect(rows.first?.rpd == 1)
        await store.close()
    }

    static func recordAddsTokensInTheReservationsMinuteAndAlwaysToHistory(
        _ fixture: some UsageStoreFixture
    ) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 10, tpm: 10_000)

        let first = try #require(try await Self.reserve(store, row, limits, at: now).reservation)
        try await Self.record(store, first, input: 100, total: 150, .success, at: now + 5)
        #expect(try await store.snapshot().first?.tpm == 100)

        let second = try #require(try await Self.reserve(store, row, limits, at: now + 1).reservation)
        #expect(try await Self.reserve(store, row, limits, at: now + 61).isReserved)
        // The stream of `second` ended after its minute: its tokens do not land in the new one.
        try await Self.record(store, second, input: 50, total: 70, .error, at: now + 70)
        #expect(try await store.snapshot().first?.tpm == 0)

        let third = try #require(try await Self.reserve(store, row, limits, at: now + 62).reservation)
        try await Self.record(store, third, input: 7, total: 7, .rateLimited, at: now + 62)

        let day = Self.calendar.dayLabel(of: now)
        #expect(day == "2026-08-20")
        let history = try await fixture.dailyUsage(day: day, row: row)
        #expect(history == DailyUsage(requests: 3, inputTokens: 157, totalTokens: 227, errors: 1, rateLimited: 1))
        await store.close()
    }

    static func aBatchOfRecordsEqualsTheRecordsOneByOne(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 10, tpm: 10_000)
        var reservations: [Reservation] = []
        for offset in 0..<4 {
            reservations.append(try #require(try await Self.reserve(store, row, limits, at: now + Double(offset)).reservation))
        }
        let outcomes: [UsageRecord.Outcome] = [.success, .error, .error, .rateLimited]
        let batch = zip(reservations, outcomes).map { reservation, outcome in
            UsageRecord(reservation: reservation, inputTokens: 10, totalTokens: 15, outcome: outcome, at: now + 5)
        }
        try await store.record(batch: batch)
        #expect(try await store.snapshot().first?.tpm == 40)
        let history = try await fixture.dailyUsage(day: Self.calendar.dayLabel(of: now), row: row)
        #expect(history == DailyUsage(requests: 4, inputTokens: 40, totalTokens: 60, errors: 2, rateLimited: 1))
        await store.close()
    }

    static func concurrentInstancesNeverAdmitPastTheLimit(_ fixture: some UsageStoreFixture) async throws {
        let (first, row) = try await Self.storeWithKey(fixture)
        let second = try await fixture.openStore()
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let limits = Limits(rpm: 20, rpd: 1000)

        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in [first, second] {
                for _ in 0..<50 {
                    group.addTask { try await Self.reserve(store, row, limits, at: now).isReserved ? 1 : 0 }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(admitted == 20)
        #expect(try await second.snapshot().first?.rpm == 20)
        await first.close()
        await second.close()
    }
}

extension ReservationResult {
    var isReserved: Bool {
        if case .reserved = self { return true }
        return false
    }

    var reservation: Reservation? {
        if case .reserved(let reservation, _, _) = self { return reservation }
        return nil
    }

    var overLimit: Bool? {
        if case .reserved(_, _, let overLimit) = self { return overLimit }
        return nil
    }

    var row: UsageRow {
        switch self {
        case .reserved(_, let row, _): row
        case .refused(let row): row
        }
    }
}
