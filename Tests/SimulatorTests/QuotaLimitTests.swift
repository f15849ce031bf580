import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct QuotaLimitTests {
    private func simulator(_ configure: (inout SimulatorOptions) -> Void, clock: TestWallClock) -> GeminiSimulator {
        var options = TestKeys.options([TestKeys.first, TestKeys.second, TestKeys.third])
        configure(&options)
        return GeminiSimulator(options: options, clock: clock)
    }

    @Test func requestsPerMinuteAreCountedPerKeyInFixedUTCMinutes() async throws {
        let clock = TestWallClock("2026-01-15T12:00:10Z")
        let simulator = self.simulator({ $0.defaultLimits = Limits(rpm: 2) }, clock: clock)

        #expect(await simulator.respond(modelRequest()).status == 200)
        #expect(await simulator.respond(modelRequest()).status == 200)
        clock.set("2026-01-15T12:00:59.900Z")
        #expect(await simulator.respond(modelRequest()).status == 429)
        // Another key has its own counters.
        #expect(await simulator.respond(modelRequest(key: TestKeys.second)).status == 200)
        // The window is the UTC minute, not a sliding 60 s: a new minute starts at :00.
        clock.set("2026-01-15T12:01:00Z")
        #expect(await simulator.respond(modelRequest()).status == 200)
    }

    @Test func perMinute429CarriesGooglesQuotaFailureAndRetryInfo() async throws {
        let clock = TestWallClock("2026-01-15T12:00:00Z")
        // 36.5 s is exact in a Double, so the message's nanosecond figure is too.
        clock.advance(seconds: 36.5)
        let simulator = self.simulator({ $0.defaultLimits = Limits(rpm: 1) }, clock: clock)
        _ = await simulator.respond(modelRequest())

        let response = await simulator.respond(modelRequest())
        let body = try parse(response)

        #expect(response.status == 429)
        #expect(response.headers["retry-after"] == nil)
        #expect(body["error"]?["status"] == "RESOURCE_EXHAUSTED")
        #expect(body["error"]?["code"] == 429)
        let found = violations(body)
        #expect(found.count == 1)
        #expect(found.first?["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier")
        #expect(found.first?["quotaMetric"] == "generativelanguage.googleapis.com/generate_content_free_tier_requests")
        #expect(found.first?["quotaValue"] == "1")
        #expect(found.first?["quotaDimensions"]?["model"] == "gemini-2.5-flash")
        #expect(detail(body, "RetryInfo")?["retryDelay"] == "23s")
        let message = try #require(body["error"]?["message"]?.stringValue)
        #expect(message.hasPrefix("You exceeded your current quota, please check your plan and billing details."))
        #expect(
            message.contains(
                "\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
                    + "generate_content_free_tier_requests, limit: 1, model: gemini-2.5-flash"
            )
        )
        #expect(message.hasSuffix("\nPlease retry in 23.5s."))
    }

    @Test func inputTokensPerMinuteCountPromptTokens() async throws {
        let clock = TestWallClock("2026-01-15T12:00:00Z")
        let simulator = self.simulator({ $0.defaultLimits = Limits(tpm: 15) }, clock: clock)
        let fortyCharacters = String(repeating: "abcd", count: 10)

        let first = await simulator.respond(modelRequest(body: generateBody(fortyCharacters)))
        #expect(try parse(first)["usageMetadata"]?["promptTokenCount"] == 10)
        let second = await simulator.respond(modelRequest(body: generateBody(fortyCharacters)))
        #expect(second.status == 429)
        #expect(
            violations(try parse(second)).first?["quotaId"] == "GenerateContentInputTokensPerModelPerMinute-FreeTier"
        )
        #expect(violations(try parse(second)).first?["quotaValue"] == "15")
        // A smaller request still fits: the refused one was not counted.
        #expect(await simulator.respond(modelRequest(body: generateBody("abcdefghijklmnopqrst"))).status == 200)
    }

    @Test func requestsPerDayResetAtPacificMidnight() async throws {
        let clock = TestWallClock("2026-01-15T07:58:00Z")
        let simulator = self.simulator({ $0.defaultLimits = Limits(rpd: 2) }, clock: clock)

        #expect(await simulator.respond(modelRequest()).status == 200)
        clock.advance(seconds: 30)
        #expect(await simulator.respond(modelRequest()).status == 200)
        clock.set("2026-01-15T07:59:59Z")
        let refused = await simulator.respond(modelRequest())
        #expect(refused.status == 429)
        #expect(
            violations(try parse(refused)).map { $0["quotaId"] } == [
                "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
            ]
        )
        #expect(detail(try parse(refused), "RetryInfo")?["retryDelay"] == "1s")
        // 08:00 UTC is midnight in Los Angeles in January.
        clock.set("2026-01-15T08:00:00Z")
        #expect(await simulator.respond(modelRequest()).status == 200)
    }

    @Test func dailyExhaustedKeysAnswerAPerDay429() async throws {
        let clock = TestWallClock("2026-01-15T12:00:47Z")
        let simulator = self.simulator({ $0.dailyExhaustedKeys = [APIKey(TestKeys.second)!] }, clock: clock)

        let response = await simulator.respond(modelRequest(key: TestKeys.second))
        let body = try parse(response)

        #expect(response.status == 429)
        #expect(violations(body).first?["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier")
        #expect(violations(body).first?["quotaValue"] == "250")
        #expect(detail(body, "RetryInfo")?["retryDelay"] == "13s")
        #expect(detail(body, "Help") != nil)
        #expect(await simulator.respond(modelRequest(key: TestKeys.first)).status == 200)
    }

    @Test func noQuotaKeysQuoteQuotaValueZero() async throws {
        let simulator = self.simulator(
            { $0.noQuotaKeys = [APIKey(TestKeys.third)!] },
            clock: TestWallClock("2026-01-15T12:00:00Z")
        )

        let response = await simulator.respond(modelRequest("gemini-2.5-pro", key: TestKeys.third))
        let body = try parse(response)

        #expect(response.status == 429)
        #expect(violations(body).count == 3)
        #expect(violations(body).allSatisfy { $0["quotaValue"] == "0" })
        #expect(body["error"]?["message"]?.stringValue?.contains("limit: 0, model: gemini-2.5-pro") == true)
    }

    @Test func rateLimitTableCountsUnderTheLongestPrefixAndLeavesUnknownModelsUnlimited() async throws {
        let json = #"{"Free Tier": {"gemini-2.5-flash": {"rpm": 5}, "gemini-2.5-flash-lite": {"rpm": 1}}}"#
        let table = try RateLimitTable(json: json)
        let simulator = self.simulator({ $0.rateLimits = table }, clock: TestWallClock("2026-01-15T12:00:00Z"))

        #expect(await simulator.respond(modelRequest("gemini-2.5-flash-lite-preview-09-2025")).status == 200)
        let refused = await simulator.respond(modelRequest("gemini-2.5-flash-lite"))
        #expect(refused.status == 429)
        #expect(violations(try parse(refused)).first?["quotaDimensions"]?["model"] == "gemini-2.5-flash-lite")
        #expect(await simulator.respond(modelRequest("gemini-2.5-flash")).status == 200)
        for _ in 0..<20 {
            #expect(await simulator.respond(modelRequest("some-unlisted-model")).status == 200)
        }
    }

    @Test func paidTiersUsePaidQuotaIDs() async throws {
        let json = #"{"Free Tier": {"gemini-2.5-pro": {"rpm": 0}}, "Tier 2": {"gemini-2.5-pro": {"rpd": 0}}}"#
        let simulator = self.simulator(
            { options in
                options.rateLimits = try? RateLimitTable(json: json)
                options.quotaTier = "Tier 2"
            },
            clock: TestWallClock("2026-01-15T12:00:00Z")
        )

        let body = try parse(await simulator.respond(modelRequest("gemini-2.5-pro")))

        #expect(violations(body).first?["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-PaidTier2")
        #expect(
            violations(body).first?["quotaMetric"]
                == "generativelanguage.googleapis.com/generate_content_paid_tier_requests"
        )
    }

    @Test func batchEmbedContentsCountsOneRequestPerText() async throws {
        let simulator = self.simulator(
            { $0.defaultLimits = Limits(rpm: 5) },
            clock: TestWallClock("2026-01-15T12:00:00Z")
        )
        func batch(_ texts: [String]) -> [UInt8] {
            let requests = texts.map {
                #"{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "\#($0)"}]}}"#
            }
            return Array(#"{"requests": [\#(requests.joined(separator: ","))]}"#.utf8)
        }

        let three = await simulator.respond(
            modelRequest("gemini-embedding-001", "batchEmbedContents", body: batch(["a", "b", "c"]))
        )
        #expect(three.status == 200)
        #expect(try parse(three)["embeddings"]?.arrayValue?.count == 3)
        #expect(try parse(three)["embeddings"]?.arrayValue?.first?["values"]?.arrayValue?.count == 16)

        let refused = await simulator.respond(
            modelRequest("gemini-embedding-001", "batchEmbedContents", body: batch(["d", "e", "f"]))
        )
        #expect(refused.status == 429)
        #expect(
            violations(try parse(refused)).first?["quotaId"]
                == "EmbedContentRequestsPerMinutePerProjectPerModel-FreeTier"
        )

        let single = #"{"content": {"parts": [{"text": "g"}]}, "outputDimensionality": 4}"#
        let one = await simulator.respond(
            modelRequest("gemini-embedding-001", "embedContent", body: Array(single.utf8))
        )
        #expect(try parse(one)["embedding"]?["values"]?.arrayValue?.count == 4)
        let stats = try parse(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats")))
        #expect(stats["keys"]?.arrayValue?.first?["models"]?["gemini-embedding-001"]?["admitted"] == 4)
        #expect(stats["keys"]?.arrayValue?.first?["models"]?["gemini-embedding-001"]?["rejected"] == 1)
    }

    @Test func countTokensIsNotChargedAgainstGenerateLimits() async throws {
        let simulator = self.simulator(
            { $0.defaultLimits = Limits(rpm: 1) },
            clock: TestWallClock("2026-01-15T12:00:00Z")
        )

        for _ in 0..<3 {
            let counted = await simulator.respond(
                modelRequest("gemini-2.5-flash", "countTokens", body: generateBody("abcdefgh"))
            )
            #expect(try parse(counted)["totalTokens"] == 2)
        }
        #expect(await simulator.respond(modelRequest()).status == 200)
    }
}
