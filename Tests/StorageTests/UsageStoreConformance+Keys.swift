import Foundation
import KeyPool
import Storage
import Testing

extension UsageStoreConformance {
    static func keySyncUpsertsRemovesAndRestores(_ fixture: some UsageStoreFixture) async throws {
        let store = try await fixture.openStore()
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let (a, b) = (ConfiguredKey(secret: Self.key(1), label: "a"), ConfiguredKey(secret: Self.key(2), isPaid: true))

        let synced = try await store.syncKeys([a, b], kind: .gemini, at: now)
        #expect(synced.map(\.secret) == [a.secret, b.secret])
        #expect(synced.map(\.label) == ["a", nil])
        #expect(synced.map(\.isPaid) == [false, true])
        let idB = try #require(synced.last?.id)
        let rowB = UsageRowID(model: Self.model, keyID: idB)
        #expect(try await Self.reserve(store, rowB, Limits(rpd: 10), at: now).isReserved)
        _ = try await store.recordFailure(keyID: idB, error: "unexplained", maxFailures: 5, at: now)

        let vertex = try await store.syncKeys([ConfiguredKey(secret: Self.key(3))], kind: .vertex, at: now)
        #expect(vertex.count == 3)  // syncing vertex keys leaves gemini keys alone
        let afterRemoval = try await store.syncKeys([a], kind: .gemini, at: now + 1)
        #expect(afterRemoval.map(\.secret) == [a.secret, Self.key(3)])
        #expect(try await store.loadKeys().map(\.secret) == [a.secret, Self.key(3)])
        #expect(try await store.snapshot().map(\.id) == [rowB])  // history stays

        let restored = try await store.syncKeys([a, b], kind: .gemini, at: now + 2)
        let keyB = try #require(restored.first { $0.secret == b.secret })
        #expect(keyB.id == idB)
        #expect(keyB.failureCount == 1)
        #expect(keyB.lastError == "unexplained")
        // Removal cannot reset today's quota: the counters come back with the id.
        let again = try await Self.reserve(store, rowB, Limits(rpd: 10), at: now + 3)
        #expect(again.row.rpd == 2)
        await store.close()
    }

    static func recordFailureDeactivatesAtMaxFailuresAndSuccessResets(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")

        var key = try await store.recordFailure(keyID: row.keyID, error: "odd answer 1", maxFailures: 3, at: now)
        #expect(key.isActive && key.failureCount == 1)
        try await store.recordSuccess(keyID: row.keyID)
        #expect(try await store.loadKeys().first?.failureCount == 0)

        for attempt in 1...2 {
            key = try await store.recordFailure(keyID: row.keyID, error: "odd answer", maxFailures: 3, at: now)
            #expect(key.isActive && key.failureCount == attempt)
        }
        key = try await store.recordFailure(keyID: row.keyID, error: "odd answer 3", maxFailures: 3, at: now + 1)
        #expect(!key.isActive)
        #expect(key.failureCount == 3)
        #expect(key.deactivationReason == "max_failures")
        #expect(key.deactivatedAt == now + 1)
        #expect(key.lastError == "odd answer 3")
        #expect(try await store.loadKeys().first == key)

        try await store.noteError(keyID: row.keyID, error: "503 overloaded")
        try await store.reactivate(keyID: row.keyID)
        key = try #require(try await store.loadKeys().first)
        #expect(key.isActive && key.failureCount == 0 && key.deactivationReason == nil && key.deactivatedAt == nil)
        #expect(key.lastError == "503 overloaded")

        try await store.deactivate(keyID: row.keyID, reason: "API_KEY_INVALID", at: now + 2)
        key = try #require(try await store.loadKeys().first)
        #expect(!key.isActive && key.deactivationReason == "API_KEY_INVALID" && key.deactivatedAt == now + 2)

        let missing = await #expect(throws: StoreError.self) {
            try await store.deactivate(keyID: 9_999, reason: "x", at: now)
        }
        #expect(missing?.code == .notFound)
        await store.close()
    }

    static func settingsRoundTrip(_ fixture: some UsageStoreFixture) async throws {
        let store = try await fixture.openStore()
        let now = try Self.instant("2026-08-20T10:00:05Z")
        #expect(try await store.loadSettings().isEmpty)

        try await store.saveSettings(["max_retries": "3", "paid_models": #"["gemini-2.5-pro"]"#], by: "test", at: now)
        try await store.saveSettings(["max_retries": "5"], by: "admin", at: now + 1)
        #expect(try await store.loadSettings() == ["max_retries": "5", "paid_models": #"["gemini-2.5-pro"]"#])

        // One transaction: a bad value leaves the good one beside it unwritten too.
        let bad = await #expect(throws: StoreError.self) {
            try await store.saveSettings(["a_new": "1", "broken": "{not json"], by: "admin", at: now + 2)
        }
        #expect(bad?.code == .conflict)
        #expect(try await store.loadSettings().keys.sorted() == ["max_retries", "paid_models"])
        await store.close()
    }

    static func stateSurvivesReopening(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let now = try Self.instant("2026-08-20T10:00:05Z")
        let result = try await Self.reserve(store, row, Limits(rpm: 5, tpm: 900), at: now)
        let reservation = try #require(result.reservation)
        try await Self.record(store, reservation, input: 12, total: 20, .success, at: now)
        try await store.exhaust(row, until: now + 45)
        try await store.deactivate(keyID: row.keyID, reason: "CONSUMER_SUSPENDED", at: now)
        try await store.saveSettings(["quota_tier": #""Tier 1""#], by: "test", at: now)
        let rows = try await store.snapshot()
        let keys = try await store.loadKeys()
        await store.close()

        let closed = await #expect(throws: StoreError.self) { try await store.snapshot() }
        #expect(closed?.code == .closed)

        let reopened = try await fixture.openStore()
        #expect(try await reopened.snapshot() == rows)
        #expect(try await reopened.loadKeys() == keys)
        #expect(try await reopened.loadSettings() == ["quota_tier": #""Tier 1""#])
        #expect(rows.first?.tpm == 12)
        #expect(rows.first?.exhaustedUntil == now + 45)
        await reopened.close()
    }

    static func outputsNeverShowASecret(_ fixture: some UsageStoreFixture) async throws {
        let (store, row) = try await Self.storeWithKey(fixture)
        let secret = Self.key(1).revealedForUpstream
        let now = try Self.instant("2026-08-20T10:00:05Z")
        _ = try await Self.reserve(store, row, Limits(rpm: 1), at: now)
        let refused = try await Self.reserve(store, row, Limits(rpm: 1), at: now)

        var texts: [String] = []
        let keys = try await store.loadKeys()
        texts += [String(describing: keys), String(reflecting: keys), "\(keys)"]
        let rows = try await store.snapshot()
        texts += [String(describing: rows), String(reflecting: rows), String(reflecting: refused)]
        for attempt in [
            { try await store.reactivate(keyID: 424_242) },
            { try await store.saveSettings(["k": "{"], by: secret, at: now) },
            { _ = try await store.recordFailure(keyID: 424_242, error: "x", maxFailures: 3, at: now) },
        ] as [@Sendable () async throws -> Void] {
            do {
                try await attempt()
            } catch let error as StoreError {
                texts += [error.description, error.debugDescription, String(reflecting: error)]
            }
        }
        await store.close()
        let closed = await #expect(throws: StoreError.self) { try await store.loadKeys() }
        texts += [closed?.description ?? "", closed?.debugDescription ?? ""]

        #expect(texts.count >= 14)
        #expect(texts.contains { $0.contains(Self.key(1).fingerprint.description) })
        // Counted, not compared in `#expect`, which would print the secret on failure.
        let leaks = texts.filter { $0.contains(secret) }.count
        #expect(leaks == 0)
    }
}
