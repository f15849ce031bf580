import Foundation
import KeyPool
import Storage
import Testing

/// DESIGN.md §4 through the live stack: what each upstream failure does to the key.
@Suite struct FailureClassificationTests {
    @Test func aClientsMalformedRequestIsPassedOnAndDeactivatesNothing() async throws {
        let harness = try await RelayHarness(keys: testKeys(2, tag: "M"))
        let reply = try await harness.generate("[[invalid-argument]]")
        #expect(reply.status == 400)
        #expect(reply.json?["error"]?["status"]?.stringValue == "INVALID_ARGUMENT")
        #expect(try await harness.storedKeys().allSatisfy(\.isActive))
        #expect(try await harness.simulatorRequestsTotal() == 1, "a client error is not retried on other keys")
        await harness.shutdown()
    }

    @Test func anInvalidKeyIsDeactivatedForEveryModelAfterOneRequest() async throws {
        let keys = testKeys(2, tag: "I")
        // The simulator knows only the second key: the first gets Google's API_KEY_INVALID.
        let harness = try await RelayHarness(keys: keys, simulatorKeys: [keys[1]])
        for index in 0..<4 {
            #expect(try await harness.generate("request \(index)").status == 200)
        }
        let stored = try await harness.storedKeys()
        #expect(stored[0].isActive == false)
        #expect(stored[0].deactivationReason == "API_KEY_INVALID")
        #expect(stored[1].isActive)

        // Dead for a model it has never served too: every request on another model uses key 2.
        let before = try await harness.simulatorRequestsTotal()
        for _ in 0..<3 {
            #expect(try await harness.generate("other", model: "gemini-2.0-flash").status == 200)
        }
        #expect(try await harness.simulatorRequestsTotal() == before + 3)
        await harness.shutdown()
    }

    @Test func aPerDay429KeepsTheKeyOutUntilTheQuotaDayEnds() async throws {
        let keys = testKeys(2, tag: "D")
        let harness = try await RelayHarness(keys: keys) { options in
            options.dailyExhaustedKeys = [APIKey(keys[0])!]
        }
        for index in 0..<4 {
            #expect(try await harness.generate("request \(index)").status == 200)
        }
        let keyID = try #require(try await harness.storedKeys().first?.id)
        let row = try #require(try await harness.store.snapshot().first { $0.id.keyID == keyID })
        let dayEnd = QuotaCalendar.pacific.dayEnd(of: Date())
        #expect(row.exhaustedUntil == dayEnd)
        await harness.shutdown()
    }

    @Test func aPerMinute429KeepsTheKeyOutOnlyUntilItsRetryDelay() async throws {
        let keys = testKeys(2, tag: "P")
        let harness = try await RelayHarness(
            keys: keys,
            environment: ["KEYRELAY_RATE_LIMITS": singleModelTable(rpm: 100, rpd: 1000)],
            configureSimulator: { $0.rateLimits = try? RateLimitTable(json: singleModelTable(rpm: 1, rpd: 1000)) }
        )
        _ = try await RelayHarness.startOfUsableMinute()
        for index in 0..<2 {
            #expect(try await harness.generate("request \(index)").status == 200)
        }
        // The third request meets a per-minute 429 on whichever key it picks.
        _ = try await harness.generate("third")
        let rows = try await harness.store.snapshot().filter { $0.exhaustedUntil != nil }
        let row = try #require(rows.first)
        let until = try #require(row.exhaustedUntil)
        #expect(until <= QuotaCalendar.pacific.minuteEnd(of: Date()).addingTimeInterval(1))
        #expect(until < QuotaCalendar.pacific.dayEnd(of: Date()))
        await harness.shutdown()
    }

    @Test func aBurstOf503sOnEveryKeyDeactivatesNone() async throws {
        let harness = try await RelayHarness(keys: testKeys(3, tag: "O"))
        try await harness.setFaults(#"{"error_rate": 1.0, "error_status": 503}"#)
        for _ in 0..<3 {
            let reply = try await harness.generate("overloaded")
            #expect(reply.status == 503)
            #expect(reply.header("x-should-retry") == "false")
        }
        #expect(try await harness.storedKeys().allSatisfy { $0.isActive && $0.failureCount == 0 })
        try await harness.setFaults(#"{"error_rate": 0}"#)
        #expect(try await harness.generate("recovered").status == 200)
        await harness.shutdown()
    }
}
