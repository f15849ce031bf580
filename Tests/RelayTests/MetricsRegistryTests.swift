import KeyPool
import Testing

@testable import Relay

/// The registry and its Prometheus text: names, escaping, cumulative buckets, value spelling.
@Suite struct MetricsRegistryTests {
    @Test func counterWithoutLabelsIsScrapedAtZeroBeforeItsFirstIncrease() {
        let registry = MetricsRegistry()
        let counter = registry.counter("keyrelay_things_total", help: "Things.")
        #expect(
            registry.render() == """
                # HELP keyrelay_things_total Things.
                # TYPE keyrelay_things_total counter
                keyrelay_things_total 0

                """
        )
        counter.increment()
        counter.increment(by: 2)
        #expect(registry.render().hasSuffix("keyrelay_things_total 3\n"))
    }

    @Test func labelledSeriesRenderInLabelOrderSortedByValue() {
        let registry = MetricsRegistry()
        let counter = registry.counter("keyrelay_requests_total", help: "Requests.", labels: ["route", "status"])
        counter.increment(["gemini.stream", "200"])
        counter.increment(["gemini.generate", "429"])
        counter.increment(["gemini.generate", "200"])
        counter.increment(["gemini.generate", "200"])
        let lines = registry.render().split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "# HELP keyrelay_requests_total Requests.",
                "# TYPE keyrelay_requests_total counter",
                #"keyrelay_requests_total{route="gemini.generate",status="200"} 2"#,
                #"keyrelay_requests_total{route="gemini.generate",status="429"} 1"#,
                #"keyrelay_requests_total{route="gemini.stream",status="200"} 1"#,
            ]
        )
    }

    @Test func labelValuesEscapeBackslashQuoteAndNewline() {
        let registry = MetricsRegistry()
        let counter = registry.counter("keyrelay_odd_total", help: "Odd \\ help\nsecond line.", labels: ["client"])
        counter.increment(["a\\b\"c\nd"])
        let text = registry.render()
        #expect(text.contains(#"# HELP keyrelay_odd_total Odd \\ help\nsecond line."#))
        #expect(text.contains(#"keyrelay_odd_total{client="a\\b\"c\nd"} 1"#))
        // One line per sample: the newline in the value never breaks the line.
        #expect(text.split(separator: "\n").count == 3)
    }

    @Test func histogramBucketsAreCumulativeWithInfSumAndCount() {
        let registry = MetricsRegistry()
        let histogram = registry.histogram(
            "keyrelay_latency_seconds",
            help: "Latency.",
            labels: ["route"],
            buckets: [0.25, 0.5, 1]
        )
        // A value equal to a bound belongs to that bound's bucket (`le` is inclusive).
        for value in [0.125, 0.25, 0.375, 0.75, 2.5] { histogram.observe(value, labels: ["openai.chat"]) }
        let lines = registry.render().split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "# HELP keyrelay_latency_seconds Latency.",
                "# TYPE keyrelay_latency_seconds histogram",
                #"keyrelay_latency_seconds_bucket{route="openai.chat",le="0.25"} 2"#,
                #"keyrelay_latency_seconds_bucket{route="openai.chat",le="0.5"} 3"#,
                #"keyrelay_latency_seconds_bucket{route="openai.chat",le="1"} 4"#,
                #"keyrelay_latency_seconds_bucket{route="openai.chat",le="+Inf"} 5"#,
                #"keyrelay_latency_seconds_sum{route="openai.chat"} 4"#,
                #"keyrelay_latency_seconds_count{route="openai.chat"} 5"#,
            ]
        )
        #expect(histogram.count(["openai.chat"]) == 5)
    }

    @Test func gaugeReplacedWholeDropsSeriesNoLongerPresent() {
        let registry = MetricsRegistry()
        let gauge = registry.gauge("keyrelay_keys", help: "Keys.", labels: ["state"])
        gauge.replaceAll([["available"]: 3, ["inactive"]: 1])
        gauge.replaceAll([["available"]: 2])
        #expect(gauge.value(["available"]) == 2)
        #expect(gauge.value(["inactive"]) == nil)
        #expect(!registry.render().contains("inactive"))
    }

    @Test(
        "values are spelled as the format spells them",
        arguments: [
            (0.0, "0"), (42.0, "42"), (0.25, "0.25"), (-3.0, "-3"), (Double.infinity, "+Inf"),
            (-Double.infinity, "-Inf"), (Double.nan, "NaN"), (1e20, "1e+20"),
        ]
    )
    func valueSpelling(value: Double, text: String) {
        #expect(PrometheusTextWriter.format(value) == text)
    }

    @Test func namesFollowThePrometheusGrammar() {
        #expect(PrometheusTextWriter.isValidMetricName("keyrelay_requests_total"))
        #expect(PrometheusTextWriter.isValidMetricName("a:b_c"))
        #expect(!PrometheusTextWriter.isValidMetricName("9lives"))
        #expect(!PrometheusTextWriter.isValidMetricName("with-dash"))
        #expect(PrometheusTextWriter.isValidLabelName("route"))
        #expect(!PrometheusTextWriter.isValidLabelName("__reserved"))
        #expect(!PrometheusTextWriter.isValidLabelName("a:b"))
    }

    @Test func concurrentIncrementsAreAllCounted() async {
        let registry = MetricsRegistry()
        let counter = registry.counter("keyrelay_hits_total", help: "Hits.", labels: ["route"])
        let histogram = registry.histogram("keyrelay_wait_seconds", help: "Wait.", buckets: [1])
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for _ in 0..<1000 {
                        counter.increment([task % 2 == 0 ? "even" : "odd"])
                        histogram.observe(0.5)
                    }
                }
            }
        }
        #expect(counter.value(["even"]) == 4000)
        #expect(counter.value(["odd"]) == 4000)
        #expect(histogram.count() == 8000)
    }
}

/// The relay's own families and labels.
@Suite struct RelayMetricsTests {
    @Test func everyFamilyIsPrefixedAndTypedAndAttemptOutcomesStartAtZero() {
        let metrics = RelayMetrics(version: "1.2.3")
        let text = metrics.render()
        let names = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        #expect(names.count == 12)
        #expect(names.allSatisfy { $0.hasPrefix("keyrelay_") })
        #expect(text.contains(#"keyrelay_build_info{version="1.2.3"} 1"#))
        for outcome in RelayMetrics.AttemptOutcome.allCases {
            #expect(text.contains(#"keyrelay_upstream_attempts_total{outcome="\#(outcome.rawValue)"} 0"#))
        }
        metrics.setVersion("2.0.0")
        #expect(metrics.render().contains(#"keyrelay_build_info{version="2.0.0"} 1"#))
        #expect(!metrics.render().contains("1.2.3"))
    }

    @Test func modelsOutsideTheTableFoldIntoOtherPastTheCap() {
        let metrics = RelayMetrics()
        #expect(metrics.modelLabel("") == "-")
        for index in 0..<RelayMetrics.maxUnknownModels {
            #expect(metrics.modelLabel("invented-\(index)") == "invented-\(index)")
        }
        #expect(metrics.modelLabel("invented-late") == "other")
        // Already seen, and the table's own models, keep their label.
        #expect(metrics.modelLabel("invented-0") == "invented-0")
        #expect(metrics.modelLabel("gemini-2.5-flash") == "gemini-2.5-flash")
        #expect(metrics.modelLabel("models.list") == "models.list")
    }

    @Test(
        "routes map onto a small fixed set of labels",
        arguments: [
            ("POST", "/v1beta/models/gemini-2.5-flash:generateContent", "gemini.generate"),
            ("POST", "/v1/models/gemini-2.5-flash:streamGenerateContent", "gemini.stream"),
            ("POST", "/gemini/v1beta/models/gemini-2.5-flash:countTokens", "gemini.count_tokens"),
            ("POST", "/v1beta/models/text-embedding-004:batchEmbedContents", "gemini.embed"),
            ("GET", "/v1beta/models", "gemini.models"),
            ("POST", "/v1/chat/completions", "openai.chat"),
            ("POST", "/v1/embeddings", "openai.embeddings"),
            ("GET", "/v1/models", "openai.models"),
            ("POST", "/openai/v1/chat/completions", "openai.passthrough"),
            ("POST", "/vertex-express/v1/publishers/google/models/gemini-2.5-flash:generateContent", "vertex"),
            ("GET", "/admin/keys", "admin"),
            ("GET", "/metrics", "metrics"),
            ("POST", "/metrics", "unmatched"),
            ("GET", "/no/such/AIzaSecretLookingPath", "unmatched"),
            ("POST", "/v1beta/files", "unsupported"),
        ]
    )
    func routeLabel(method: String, path: String, label: String) {
        #expect(Route(method: method, path: path).metricsLabel == label)
    }

    @Test func metricsTokenIsStoredAsAHashAndNeedsEightCharacters() throws {
        let (settings, _) = try Settings.load(environment: ["KEYRELAY_METRICS_TOKEN": "scrape-secret-1"])
        let token = try #require(settings.access.metricsToken)
        #expect(token.matches("scrape-secret-1"))
        #expect(settings.storedPoolSettings["metrics_token"] == "\"sha256:\(SHA256.hex(of: "scrape-secret-1"))\"")
        #expect(settings.allSecrets.contains("scrape-secret-1"))
        #expect(throws: SettingError.self) {
            try Settings.load(environment: ["KEYRELAY_METRICS_TOKEN": "short"])
        }
    }
}
