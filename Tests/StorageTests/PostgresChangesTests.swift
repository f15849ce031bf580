import Foundation
import KeyPool
import KeyRelayTestSupport
import Storage
import Synchronization
import Testing

/// Collects a change stream in the background, so tests can wait for a change with a timeout.
final class ChangeRecorder: Sendable {
    private final class Log: Sendable {
        let entries = Mutex<[(change: StoreChange, at: ContinuousClock.Instant)]>([])
        let cursor = Mutex(0)
    }

    private let log = Log()
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<StoreChange>) {
        let log = self.log
        self.task = Task {
            for await change in stream {
                log.entries.withLock { $0.append((change, ContinuousClock.now)) }
            }
        }
    }

    /// The next change (after the ones already returned) matching `predicate`, with the instant
    /// it arrived; nil when none arrives within `timeout`. Changes skipped over are consumed.
    func next(
        timeout: Duration,
        where predicate: (StoreChange) -> Bool
    ) async -> (change: StoreChange, at: ContinuousClock.Instant)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = self.log.entries.withLock { entries in
                self.log.cursor.withLock { cursor -> (change: StoreChange, at: ContinuousClock.Instant)? in
                    while cursor < entries.count {
                        let entry = entries[cursor]
                        cursor += 1
                        if predicate(entry.change) { return entry }
                    }
                    return nil
                }
            }
            if let found { return found }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    func stop() async {
        self.task.cancel()
        await self.task.value
    }
}

@Suite(.enabled(if: PostgresTestServer.isAvailable)) struct PostgresChangesTests {
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.2f", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }

    @Test func editsMadeInSQLReachEveryInstance() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 1)
            let recorder = ChangeRecorder(store.changes())
            #expect(await recorder.next(timeout: .seconds(5)) { $0 == .resync } != nil)
            try await store.saveSettings(["max_retries": "3"], by: "test", at: Date())
            #expect(await recorder.next(timeout: .seconds(5)) { $0 == .setting("max_retries") } != nil)

            let operator_ = try await PostgresConnection.connect(url: fixture.url, applicationName: "keyrelay-test")
            var sent = ContinuousClock.now
            try await operator_.perform("test") { connection throws(StoreError) in
                try connection.execute("UPDATE settings SET value = '5' WHERE name = 'max_retries'")
            }
            let setting = await recorder.next(timeout: .seconds(5)) { $0 == .setting("max_retries") }
            let settingAt = try #require(setting?.at)
            print("notification latency: UPDATE settings \(Self.milliseconds(settingAt - sent)) ms")

            let secret = UsageStoreConformance.key(7)
            sent = ContinuousClock.now
            let inserted = try await operator_.perform("test") { connection throws(StoreError) in
                try connection.query(
                    """
                    INSERT INTO api_keys (kind, secret, secret_hash, fingerprint)
                    VALUES ('gemini', $1::text, $2::text, $3::text) RETURNING id
                    """,
                    [
                        PostgresValue(secret.revealedForUpstream), PostgresValue(secret.hash),
                        PostgresValue(secret.fingerprint.description),
                    ]
                )
            }
            let keyID = try #require(inserted.first?["id"].int64)
            let key = await recorder.next(timeout: .seconds(5)) { $0 == .key(keyID) }
            let keyAt = try #require(key?.at)
            print("notification latency: INSERT INTO api_keys \(Self.milliseconds(keyAt - sent)) ms")

            // Counters are not announced; an exhaustion mark is, naming its row.
            let row = UsageRowID(model: "gemini-2.5-flash", keyID: keyID)
            _ = try await store.reserve(ReservationRequest(row: row, limits: Limits(rpm: 10), now: Date()))
            try await store.exhaust(row, until: Date() + 60)
            let next = await recorder.next(timeout: .seconds(5)) { _ in true }
            #expect(next?.change == .row(row))

            await recorder.stop()
            await operator_.close()
            await store.close()
        }
    }

    @Test func listenerReconnectsAndAsksForAResync() async throws {
        try await PostgresFixture.with { fixture in
            let store = try await fixture.openPostgresStore(poolSize: 1)
            let recorder = ChangeRecorder(store.changes())
            #expect(await recorder.next(timeout: .seconds(5)) { $0 == .resync } != nil)

            let terminated = ContinuousClock.now
            let killed = try await fixture.sql(
                """
                SELECT pg_terminate_backend(pid, 5000) AS killed FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = 'keyrelay-listener'
                """
            )
            #expect(killed.compactMap { $0["killed"].bool } == [true])
            let resync = await recorder.next(timeout: .seconds(5)) { $0 == .resync }
            let resyncAt = try #require(resync?.at)
            print("listener resync after termination: \(Self.milliseconds(resyncAt - terminated)) ms")

            try await fixture.sql("INSERT INTO settings (name, value) VALUES ('quota_tier', '\"Tier 1\"')")
            #expect(await recorder.next(timeout: .seconds(5)) { $0 == .setting("quota_tier") } != nil)

            await store.close()
            // Closing the store finishes the stream.
            await recorder.stop()
        }
    }
}
