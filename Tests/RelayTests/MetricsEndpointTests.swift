import Foundation
import KeyPool
import Testing

/// `GET /metrics` on a live relay: counters move with the requests made, and no key or token
/// ever appears in the scrape.
@Suite struct MetricsEndpointTests {
    @Test func countersMoveWithAnsweredRequestsAndNoSecretIsScraped() async throws {
        let keys = testKeys(1, tag: "M")
        let table = singleModelTable(rpm: 2, rpd: 100)
        let harness = try await RelayHarness(
            keys: keys,
            environment: ["KEYRELAY_RATE_LIMITS": table, "KEYRELAY_EXHAUSTED_POLICY": "reject"],
            configureSimulator: { $0.rateLimits = try? RateLimitTable(json: table) }
        )
        let series = #"keyrelay_requests_total{route="gemini.generate",model="gemini-2.5-flash",status="#
        let before = try await harness.scrape()
        #expect(before.status == 200)
        #expect(before.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(sample(before.text, series + #""200",client="harness"}"#) == nil)
        #expect(sample(before.text, #"keyrelay_upstream_attempts_total{outcome="success"}"#) == 0)

        let minute = try await RelayHarness.startOfUsableMinute()
        #expect(try await harness.generate("fine").status == 200)
        // The upstream refuses this one as the client's mistake; it still spends the second request.
        #expect(try await harness.generate("[[invalid-argument]]").status == 400)
        // Nothing left this minute under `reject`: the relay answers 429 itself.
        #expect(try await harness.generate("one too many").status == 429)
        #expect(QuotaCalendar.pacific.minuteStart(of: Date()) == minute, "the test spilled into the next minute")
        let malformed = try await harness.send("/v1beta/models/gemini-2.5-flash:generateContent", body: "{")
        #expect(malformed.status == 400)
        let stranger = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:generateContent",
            body: "{}",
            token: "not-a-client-token"
        )
        #expect(stranger.status == 401)

        let after = try await harness.scrape()
        let text = after.text
        #expect(sample(text, series + #""200",client="harness"}"#) == 1)
        #expect(sample(text, series + #""400",client="harness"}"#) == 1)
        #expect(sample(text, series + #""429",client="harness"}"#) == 1)
        // Refused before a model was planned, or before the client was known.
        let unplanned = #"keyrelay_requests_total{route="gemini.generate",model="-",status="#
        #expect(sample(text, unplanned + #""400",client="harness"}"#) == 1)
        #expect(sample(text, unplanned + #""401",client="-"}"#) == 1)
        #expect(sample(text, #"keyrelay_requests_total{route="metrics",model="-",status="200",client="-"}"#) == 1)

        #expect(sample(text, "keyrelay_exhausted_rejections_total") == 1)
        #expect(sample(text, "keyrelay_retries_total") == 0)
        #expect(sample(text, #"keyrelay_upstream_attempts_total{outcome="success"}"#) == 1)
        #expect(sample(text, #"keyrelay_upstream_attempts_total{outcome="client_error"}"#) == 1)
        #expect(sample(text, #"keyrelay_upstream_latency_seconds_count{route="gemini.generate"}"#) == 2)
        #expect(sample(text, #"keyrelay_upstream_latency_seconds_bucket{route="gemini.generate",le="+Inf"}"#) == 2)
        #expect(sample(text, #"keyrelay_keys{model="gemini-2.5-flash",state="exhausted"}"#) == 1)
        #expect(sample(text, #"keyrelay_keys{model="gemini-2.5-flash",state="available"}"#) == 0)
        #expect(sample(text, #"keyrelay_keys{model="-",state="available"}"#) == 1)
        #expect(sample(text, "keyrelay_usage_records_pending") != nil)
        #expect(text.contains("keyrelay_build_info{version="))

        for key in keys {
            #expect(!text.contains(key))
            #expect(!text.contains(APIKey(key)!.fingerprint.description))
        }
        #expect(!text.contains(RelayHarness.token))
        #expect(!text.contains("not-a-client-token"))
        await harness.shutdown()
    }

    @Test func retriesTransientFailuresAndForwardingPastTheLimitAreCounted() async throws {
        let harness = try await RelayHarness(
            keys: testKeys(2, tag: "R"),
            environment: ["KEYRELAY_RATE_LIMITS": singleModelTable(rpm: 1, rpd: 100), "KEYRELAY_MAX_RETRIES": "1"]
        )
        let minute = try await RelayHarness.startOfUsableMinute()
        // Both keys answer 503: two transient attempts, one of them a retry.
        try await harness.setFaults(#"{"error_rate": 1.0, "error_status": 503}"#)
        #expect(try await harness.generate("overloaded").status == 503)
        try await harness.setFaults(#"{"error_rate": 0}"#)
        // Both keys spent their one request this minute: `cycle` forwards past the limit.
        #expect(try await harness.generate("past the limit").status == 200)
        #expect(QuotaCalendar.pacific.minuteStart(of: Date()) == minute, "the test spilled into the next minute")

        let text = try await harness.scrape().text
        #expect(sample(text, "keyrelay_retries_total") == 1)
        #expect(sample(text, #"keyrelay_upstream_attempts_total{outcome="transient"}"#) == 2)
        #expect(sample(text, #"keyrelay_upstream_attempts_total{outcome="success"}"#) == 1)
        #expect(sample(text, "keyrelay_over_limit_total") == 1)
        #expect(sample(text, "keyrelay_exhausted_rejections_total") == 0)
        let series = #"keyrelay_requests_total{route="gemini.generate",model="gemini-2.5-flash",status="#
        #expect(sample(text, series + #""503",client="harness"}"#) == 1)
        #expect(sample(text, series + #""200",client="harness"}"#) == 1)
        #expect(sample(text, #"keyrelay_keys{model="gemini-2.5-flash",state="exhausted"}"#) == 2)
        await harness.shutdown()
    }

    @Test func metricsTokenClosesTheScrapeToEveryoneElse() async throws {
        let metricsToken = "scrape-token-0123"
        let harness = try await RelayHarness(
            keys: testKeys(1, tag: "N"),
            environment: ["KEYRELAY_METRICS_TOKEN": metricsToken]
        )
        let anonymous = try await harness.scrape()
        #expect(anonymous.status == 401)
        #expect(anonymous.json?["error"]?["status"]?.stringValue == "UNAUTHENTICATED")
        #expect(try await harness.scrape(bearer: "scrape-token-wrong").status == 401)
        // A client token opens the API, not the metrics.
        #expect(try await harness.scrape(bearer: RelayHarness.token).status == 401)
        let viaGoogleHeader = try await harness.send("GET", "/metrics")
        #expect(viaGoogleHeader.status == 401)

        let scraped = try await harness.scrape(bearer: metricsToken)
        #expect(scraped.status == 200)
        let refused = #"keyrelay_requests_total{route="metrics",model="-",status="401",client="-"}"#
        #expect(sample(scraped.text, refused) == 4)
        #expect(!scraped.text.contains(metricsToken))
        #expect(!scraped.text.contains(SHA256.hex(of: metricsToken)))
        #expect(!harness.logs.captured.joined().contains(metricsToken))
        await harness.shutdown()
    }
}

extension RelayHarness {
    /// `GET /metrics`, with `Authorization: Bearer <bearer>` when given.
    func scrape(bearer: String? = nil) async throws -> Reply {
        let headers = bearer.map { [(name: "Authorization", value: "Bearer \($0)")] } ?? []
        return try await self.send("GET", "/metrics", token: nil, headers: headers)
    }
}

/// The value of the sample line whose name and labels are exactly `series`, nil when absent.
func sample(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}
