import Synchronization

/// A small set of Prometheus metric families, rendered in the text exposition format 0.0.4.
///
/// Families are registered once (at start) and then updated from any thread: each family keeps
/// its series behind its own `Mutex`, held only for a dictionary update, never across an `await`.
/// Rendering takes each family's lock in turn, so a scrape never blocks requests for long.
public final class MetricsRegistry: Sendable {
    private let families = Mutex<[any MetricFamily]>([])

    public init() {}

    /// Registers a counter. - Precondition: `name` and `labels` are valid Prometheus names, and
    /// `name` is not registered yet.
    public func counter(_ name: String, help: String, labels: [String] = []) -> CounterFamily {
        self.register(CounterFamily(name: name, help: help, labelNames: labels))
    }

    /// Registers a gauge. - Precondition: as for `counter`.
    public func gauge(_ name: String, help: String, labels: [String] = []) -> GaugeFamily {
        self.register(GaugeFamily(name: name, help: help, labelNames: labels))
    }

    /// Registers a histogram with fixed upper bounds (`le`), `+Inf` implied.
    /// - Precondition: as for `counter`; `buckets` strictly increasing, finite, not empty; no
    ///   label named `le`.
    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double]) -> HistogramFamily {
        self.register(HistogramFamily(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    /// Every family in registration order, as Prometheus text (`# HELP`, `# TYPE`, samples).
    public func render() -> String {
        let families = self.families.withLock { $0 }
        var writer = PrometheusTextWriter()
        for family in families { family.render(into: &writer) }
        return writer.text
    }

    private func register<Family: MetricFamily>(_ family: Family) -> Family {
        precondition(PrometheusTextWriter.isValidMetricName(family.name), "invalid metric name \(family.name)")
        for label in family.labelNames {
            precondition(PrometheusTextWriter.isValidLabelName(label), "invalid label name \(label)")
        }
        self.families.withLock { families in
            precondition(!families.contains { $0.name == family.name }, "metric \(family.name) registered twice")
            families.append(family)
        }
        return family
    }
}

/// A registered family: its name, help, labels, and how it writes itself out.
protocol MetricFamily: Sendable {
    var name: String { get }
    var labelNames: [String] { get }
    func render(into writer: inout PrometheusTextWriter)
}

/// A monotonically increasing count per label set (`_total` by convention).
public final class CounterFamily: MetricFamily {
    public let name: String
    public let help: String
    public let labelNames: [String]
    private let series = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        // A counter without labels exists from the start, so `rate()` sees its first increase.
        if labelNames.isEmpty { self.series.withLock { $0[[]] = 0 } }
    }

    /// Adds `amount` (default 1) to the series of `labels`, given in the order of `labelNames`.
    /// - Precondition: one value per label name; `amount` ≥ 0 (a counter never goes down).
    public func increment(_ labels: [String] = [], by amount: Double = 1) {
        precondition(labels.count == self.labelNames.count, "\(self.name) takes \(self.labelNames.count) labels")
        precondition(amount >= 0, "a counter never decreases")
        self.series.withLock { $0[labels, default: 0] += amount }
    }

    /// Creates the given series at 0 if absent, so they are scraped before their first event.
    public func initialize(_ labelSets: [[String]]) {
        self.series.withLock { series in
            for labels in labelSets where labels.count == self.labelNames.count {
                series[labels, default: 0] += 0
            }
        }
    }

    /// The current value of one series (0 when it was never incremented).
    public func value(_ labels: [String] = []) -> Double {
        self.series.withLock { $0[labels] ?? 0 }
    }

    func render(into writer: inout PrometheusTextWriter) {
        let series = self.series.withLock { $0 }
        writer.header(name: self.name, help: self.help, type: "counter")
        for labels in series.keys.sorted(by: PrometheusTextWriter.labelOrder) {
            writer.sample(self.name, labelNames: self.labelNames, labels: labels, value: series[labels] ?? 0)
        }
    }
}

/// A value that goes up and down per label set; set as events happen or replaced whole at scrape
/// time.
public final class GaugeFamily: MetricFamily {
    public let name: String
    public let help: String
    public let labelNames: [String]
    private let series = Mutex<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    /// Sets the series of `labels`. - Precondition: one value per label name.
    public func set(_ value: Double, labels: [String] = []) {
        precondition(labels.count == self.labelNames.count, "\(self.name) takes \(self.labelNames.count) labels")
        self.series.withLock { $0[labels] = value }
    }

    /// Replaces every series at once (series absent from `values` disappear), for gauges
    /// computed at scrape time. Entries with the wrong number of labels are ignored.
    public func replaceAll(_ values: [[String]: Double]) {
        let valid = values.filter { $0.key.count == self.labelNames.count }
        self.series.withLock { $0 = valid }
    }

    /// The current value of one series, nil when absent.
    public func value(_ labels: [String] = []) -> Double? {
        self.series.withLock { $0[labels] }
    }

    func render(into writer: inout PrometheusTextWriter) {
        let series = self.series.withLock { $0 }
        writer.header(name: self.name, help: self.help, type: "gauge")
        for labels in series.keys.sorted(by: PrometheusTextWriter.labelOrder) {
            writer.sample(self.name, labelNames: self.labelNames, labels: labels, value: series[labels] ?? 0)
        }
    }
}

/// Observations counted into fixed buckets per label set, with their sum and count. Buckets are
/// kept per bucket and made cumulative when rendered.
public final class HistogramFamily: MetricFamily {
    struct Series: Sendable {
        /// One slot per bound, plus the last for values above every bound (`+Inf`).
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0

        mutating func add(_ value: Double, slot: Int) {
            self.counts[slot] += 1
            self.sum += value
            self.count += 1
        }
    }

    public let name: String
    public let help: String
    public let labelNames: [String]
    /// Upper bounds (`le`), strictly increasing; `+Inf` is implied.
    public let buckets: [Double]
    private let series = Mutex<[[String]: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        precondition(!buckets.isEmpty && buckets.allSatisfy(\.isFinite), "buckets must be finite and not empty")
        precondition(zip(buckets, buckets.dropFirst()).allSatisfy { $0 < $1 }, "buckets must be increasing")
        precondition(!labelNames.contains("le"), "'le' is reserved for buckets")
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.buckets = buckets
    }

    /// Counts `value` (in the metric's unit) for `labels`. NaN is ignored.
    /// - Precondition: one value per label name.
    public func observe(_ value: Double, labels: [String] = []) {
        precondition(labels.count == self.labelNames.count, "\(self.name) takes \(self.labelNames.count) labels")
        guard !value.isNaN else { return }
        // `le` is inclusive: a value equal to a bound belongs to that bound's bucket.
        let slot = self.buckets.firstIndex { value <= $0 } ?? self.buckets.count
        let empty = Series(counts: Array(repeating: 0, count: self.buckets.count + 1))
        self.series.withLock { $0[labels, default: empty].add(value, slot: slot) }
    }

    /// Observations of one series so far.
    public func count(_ labels: [String] = []) -> UInt64 {
        self.series.withLock { $0[labels]?.count ?? 0 }
    }

    func render(into writer: inout PrometheusTextWriter) {
        let series = self.series.withLock { $0 }
        writer.header(name: self.name, help: self.help, type: "histogram")
        let bucketLabels = self.labelNames + ["le"]
        let bounds = self.buckets.map(PrometheusTextWriter.format) + ["+Inf"]
        for labels in series.keys.sorted(by: PrometheusTextWriter.labelOrder) {
            guard let one = series[labels] else { continue }
            var cumulative: UInt64 = 0
            for (slot, bound) in bounds.enumerated() {
                cumulative += one.counts[slot]
                writer.sample(
                    self.name + "_bucket",
                    labelNames: bucketLabels,
                    labels: labels + [bound],
                    value: Double(cumulative)
                )
            }
            writer.sample(self.name + "_sum", labelNames: self.labelNames, labels: labels, value: one.sum)
            writer.sample(self.name + "_count", labelNames: self.labelNames, labels: labels, value: Double(one.count))
        }
    }
}
