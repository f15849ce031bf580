import Foundation
import KeyRelayTestSupport
import Testing

/// The shared conformance suite against PostgreSQL, each test on a database of its own.
@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresStoreConformanceTests {
    @Test func reserveAdmitsExactlyUpToTheLimit() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.reserveAdmitsExactlyUpToTheLimit($0) }
    }

    @Test func aBatchOfRecordsEqualsTheRecordsOneByOne() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.aBatchOfRecordsEqualsTheRecordsOneByOne($0) }
    }

    @Test func dailyLimitHoldsAcrossMinutes() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.dailyLimitHoldsAcrossMinutes($0) }
    }

    @Test func costAboveOneCountsEveryUnit() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.costAboveOneCountsEveryUnit($0) }
    }

    @Test func unlimitedCountersNeverRefuse() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.unlimitedCountersNeverRefuse($0) }
    }

    @Test func enforceOffAdmitsPastTheLimitAndReportsIt() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.enforceOffAdmitsPastTheLimitAndReportsIt($0) }
    }

    @Test func tokenLimitRefusesOnceReached() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.tokenLimitRefusesOnceReached($0) }
    }

    @Test func closedMinuteCountsAsZero() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.closedMinuteCountsAsZero($0) }
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
        try await PostgresFixture.with { fixture in
            try await UsageStoreConformance.closedDayCountsAsZero(
                fixture,
                dayStart: dayStart,
                sameDay: sameDay,
                nextDay: nextDay
            )
        }
    }

    @Test func windowsNeverMoveBackwards() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.windowsNeverMoveBackwards($0) }
    }

    @Test func exhaustedRowIsRefusedUntilTheMark() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.exhaustedRowIsRefusedUntilTheMark($0) }
    }

    @Test func releaseNeverGoesNegativeAndIgnoresClosedWindows() async throws {
        try await PostgresFixture.with { fixture in
            try await UsageStoreConformance.releaseNeverGoesNegativeAndIgnoresClosedWindows(fixture)
        }
    }

    @Test func recordAddsTokensInTheReservationsMinuteAndAlwaysToHistory() async throws {
        try await PostgresFixture.with { fixture in
            try await UsageStoreConformance.recordAddsTokensInTheReservationsMinuteAndAlwaysToHistory(fixture)
        }
    }

    @Test func concurrentInstancesNeverAdmitPastTheLimit() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.concurrentInstancesNeverAdmitPastTheLimit($0) }
    }

    @Test func keySyncUpsertsRemovesAndRestores() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.keySyncUpsertsRemovesAndRestores($0) }
    }

    @Test func recordFailureDeactivatesAtMaxFailuresAndSuccessResets() async throws {
        try await PostgresFixture.with { fixture in
            try await UsageStoreConformance.recordFailureDeactivatesAtMaxFailuresAndSuccessResets(fixture)
        }
    }

    @Test func settingsRoundTrip() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.settingsRoundTrip($0) }
    }

    @Test func stateSurvivesReopening() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.stateSurvivesReopening($0) }
    }

    @Test func outputsNeverShowASecret() async throws {
        try await PostgresFixture.with { try await UsageStoreConformance.outputsNeverShowASecret($0) }
    }
}
