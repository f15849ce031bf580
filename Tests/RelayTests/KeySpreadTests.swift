import Foundation
import KeyPool
import Testing

/// 3 keys × 5 RPM (relay and simulator given the same table): 15 requests in one minute spread
/// 5/5/5, and the 16th follows `exhausted_policy`.
@Suite(.serialized) struct KeySpreadTests {
    @Test func fifteenRequestsSpreadFiveFiveFiveAndRejectAnswers429WithoutCallingUpstream() async throws {
        let table = singleModelTable(rpm: 5, rpd: 1000)
        let harness = try await RelayHarness(
            keys: testKeys(3),
            environment: ["KEYRELAY_RATE_LIMITS": table, "KEYRELAY_EXHAUSTED_POLICY": "reject"],
            configureSimulator: { $0.rateLimits = try? RateLimitTable(json: table) }
        )
        let minute = try await RelayHarness.startOfUsableMinute()

        for index in 0..<15 {
            let reply = try await harness.generate("request \(index)")
            #expect(reply.status == 200, "request \(index): \(reply.text)")
        }
        #expect(try await harness.admitted() == [5, 5, 5])

        let sixteenth = try await harness.generate("one too many")
        #expect(sixteenth.status == 429)
        #expect(sixteenth.json?["error"]?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
        let retryAfter = try #require(sixteenth.header("Retry-After").flatMap(Int.init))
        #expect((1...60).contains(retryAfter))
        #expect(try await harness.simulatorRequestsTotal() == 15)

        #expect(QuotaCalendar.pacific.minuteStart(of: Date()) == minute, "the test must finish inside its minute")
        await harness.shutdown()
    }

    @Test func cyclePolicyForwardsThe16thAndCountsItOverLimit() async throws {
        let table = singleModelTable(rpm: 5, rpd: 1000)
        let harness = try await RelayHarness(
            keys: testKeys(3, tag: "C"),
            environment: ["KEYRELAY_RATE_LIMITS": table, "KEYRELAY_EXHAUSTED_POLICY": "cycle"],
            configureSimulator: { $0.rateLimits = try? RateLimitTable(json: table) }
        )
        let minute = try await RelayHarness.startOfUsableMinute()
        for index in 0..<15 {
            #expect(try await harness.generate("request \(index)").status == 200)
        }

        // Past every limit the relay lets the upstream judge: the simulator refuses each key with
        // a per-minute 429, the relay tries the others, then passes the last 429 on.
        let sixteenth = try await harness.generate("past the limit")
        #expect(sixteenth.status == 429)
        #expect(sixteenth.header("x-should-retry") == "false")
        #expect(try await harness.simulatorRequestsTotal() > 15)
        #expect(harness.logs.captured.contains { $0.contains("forwarding past it") })
        #expect(QuotaCalendar.pacific.minuteStart(of: Date()) == minute)
        await harness.shutdown()
    }

    @Test func a429FromUpstreamMovesTheRequestToAnotherKeyUnseenByTheClient() async throws {
        let keys = testKeys(2, tag: "F")
        // Google refuses key 0 for the day; the relay cannot know until it tries. Selection prefers
        // the key with more headroom, so within two requests key 0 is tried and refused.
        let harness = try await RelayHarness(keys: keys) { options in
            options.dailyExhaustedKeys = [APIKey(keys[0])!]
        }
        for index in 0..<3 {
            let reply = try await harness.generate("request \(index)")
            #expect(reply.status == 200, "the client never sees the 429: \(reply.text)")
        }
        #expect(try await harness.admitted() == [0, 3])
        let stats = try await harness.request("GET", harness.simulatorURL + "/simulator/stats").json
        #expect(stats?["keys"]?.arrayValue?.first?["models"]?["gemini-2.5-flash"]?["rejected"]?.intValue == 1)
        #expect(harness.logs.captured.contains { $0.contains("key rate limited") && $0.contains("quota.scope=day") })
        await harness.shutdown()
    }
}
