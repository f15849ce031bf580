import Foundation
import KeyPool
import Synchronization

/// The relay's Prometheus metrics (`GET /metrics`). Labels carry route names, quota models,
/// HTTP statuses, client labels from `allowed_tokens`, outcomes and store operations: never a
/// key, a token or a fingerprint (DESIGN.md §9).
public final class RelayMetrics: Sendable {
    /// What one upstream attempt ended in (`keyrelay_upstream_attempts_total{outcome}`).
    public enum AttemptOutcome: String, Sendable, CaseIterable {
        case success
        case rateLimited = "rate_limited"
        case keyInvalid = "key_invalid"
        case transient
        case clientError = "client_error"
        case unrecognised
        /// No HTTP answer: connect failure, timeout, a stream cut before its first event.
        case transport
    }

    /// Distinct models outside the rate-limit table that get a label of their own; later ones
    /// are counted under `other`, so clients inventing model names cannot grow the scrape.
    public static let maxUnknownModels = 32
    /// Upper bounds of `keyrelay_upstream_latency_seconds`, in seconds.
    public static let latencyBuckets: [Double] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
    ]

    /// The families, in the order they are scraped.
    public let registry = MetricsRegistry()
    let requests: CounterFamily
    let upstreamLatency: HistogramFamily
    let upstreamAttempts: CounterFamily
    let retries: CounterFamily
    let reservationsRefused: CounterFamily
    let overLimit: CounterFamily
    let exhaustedRejections: CounterFamily
    let keys: GaugeFamily
    let storeErrors: CounterFamily
    let listenerReconnects: CounterFamily
    let usageRecordsPending: GaugeFamily
    let buildInfo: GaugeFamily

    private struct ModelLabels {
        /// Quota models of the rate-limit tables in force, plus the relay's own pseudo-models.
        var known: Set<String> = []
        var unknown: Set<String> = []
    }

    private let modelLabels = Mutex(ModelLabels())
    private let resyncs = Atomic<Int>(0)

    /// - Parameter version: the `version` label of `keyrelay_build_info`.
    public init(version: String = "dev") {
        let registry = self.registry
        self.requests = registry.counter(
            "keyrelay_requests_total",
            help: "Requests answered, by route, quota model ('-' when none), HTTP status and client label.",
            labels: ["route", "model", "status", "client"]
        )
        self.upstreamLatency = registry.histogram(
            "keyrelay_upstream_latency_seconds",
            help: "Time from sending an attempt upstream to its response head, by route.",
            labels: ["route"],
            buckets: Self.latencyBuckets
        )
        self.upstreamAttempts = registry.counter(
            "keyrelay_upstream_attempts_total",
            help: "Upstream attempts, by what they ended in.",
            labels: ["outcome"]
        )
        self.upstreamAttempts.initialize(AttemptOutcome.allCases.map { [$0.rawValue] })
        self.retries = registry.counter(
            "keyrelay_retries_total",
            help: "Attempts made with another key after a first one failed."
        )
        self.reservationsRefused = registry.counter(
            "keyrelay_reservations_refused_total",
            help: "Reservations the store refused because the key had no headroom left."
        )
        self.overLimit = registry.counter(
            "keyrelay_over_limit_total",
            help: "Requests forwarded past every key's limit under exhausted_policy=cycle."
        )
        self.exhaustedRejections = registry.counter(
            "keyrelay_exhausted_rejections_total",
            help: "Requests the relay answered 429 itself because no key had headroom."
        )
        self.keys = registry.gauge(
            "keyrelay_keys",
            help: "Keys by quota model and state (available, exhausted, inactive); model '-' is key health.",
            labels: ["model", "state"]
        )
        self.storeErrors = registry.counter(
            "keyrelay_store_errors_total",
            help: "Store operations that failed, by operation.",
            labels: ["operation"]
        )
        self.listenerReconnects = registry.counter(
            "keyrelay_listener_reconnects_total",
            help: "Times the fleet change listener reconnected and resynchronised."
        )
        self.usageRecordsPending = registry.gauge(
            "keyrelay_usage_records_pending",
            help: "Usage records waiting to be written to the store."
        )
        self.buildInfo = registry.gauge(
            "keyrelay_build_info",
            help: "Always 1; the version label names the running build.",
            labels: ["version"]
        )
        self.buildInfo.set(1, labels: [version])
        self.setKnownModels(Settings.default)
    }

    /// Names the running build in `keyrelay_build_info`.
    public func setVersion(_ version: String) {
        self.buildInfo.replaceAll([[version]: 1])
    }

    /// The Prometheus text of every metric, as a scrape answers it.
    public func render() -> String { self.registry.render() }

    // MARK: - Events

    /// Counts one answered request (a stream when its head is sent).
    func requestAnswered(_ tally: RequestTally, status: Int) {
        self.requests.increment([tally.route, self.modelLabel(tally.model), String(status), tally.client])
    }

    func attemptAnswered(route: String, after elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        self.upstreamLatency.observe(seconds, labels: [route])
    }

    func attemptEnded(_ outcome: AttemptOutcome) {
        self.upstreamAttempts.increment([outcome.rawValue])
    }

    /// The outcome label of a classifier verdict.
    func attemptClassified(_ verdict: FailureClass) {
        let outcome: AttemptOutcome =
            switch verdict {
            case .success: .success
            case .clientError, .notForThisKey: .clientError
            case .rateLimited: .rateLimited
            case .keyInvalid: .keyInvalid
            case .transient: .transient
            case .unrecognised: .unrecognised
            }
        self.attemptEnded(outcome)
    }

    func storeFailed(_ operation: String) {
        self.storeErrors.increment([operation])
    }

    /// Notes that the fleet listener (re)started; every start after the first is a reconnect.
    func listenerResynced() {
        if self.resyncs.add(1, ordering: .relaxed).newValue > 1 {
            self.listenerReconnects.increment()
        }
    }

    // MARK: - Model labels

    /// Takes the quota models of `settings`' tables as known labels (always their own series).
    func setKnownModels(_ settings: Settings) {
        var known = settings.pool.rateLimits.allPrefixes
        known.formUnion(settings.pool.vertexRateLimits?.allPrefixes ?? [])
        known.formUnion(["models.list", "models.get", "countTokens"])
        self.modelLabels.withLock { $0.known = known }
    }

    /// The label of a quota model: itself when known, or among the first `maxUnknownModels`
    /// others seen; `other` beyond; `-` for none.
    func modelLabel(_ quotaModel: String) -> String {
        guard !quotaModel.isEmpty else { return "-" }
        return self.modelLabels.withLock { labels in
            if labels.known.contains(quotaModel) || labels.unknown.contains(quotaModel) { return quotaModel }
            guard labels.unknown.count < Self.maxUnknownModels else { return "other" }
            labels.unknown.insert(quotaModel)
            return quotaModel
        }
    }
}
