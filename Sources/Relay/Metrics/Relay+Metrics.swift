import Foundation
import HTTPServer
import KeyPool
import Synchronization

extension Relay {
    /// Answers `GET /metrics`: open unless `metrics_token` is set, then only to
    /// `Authorization: Bearer <metrics_token>`.
    func metricsResponse(_ request: HTTPRequest, settings: Settings, requestID: String) -> HTTPResponse {
        guard self.isMetricsScraper(request, settings: settings) else {
            var response = APIError(
                status: 401,
                googleStatus: "UNAUTHENTICATED",
                message: "missing or invalid metrics token: send 'Authorization: Bearer <metrics_token>'"
            ).response(requestID: requestID)
            response.headers.add("WWW-Authenticate", "Bearer")
            return response
        }
        self.updateScrapeTimeMetrics()
        return HTTPResponse(
            status: 200,
            headers: ["Content-Type": PrometheusTextWriter.contentType, "x-request-id": requestID],
            body: .bytes(Array(self.metrics.render().utf8))
        )
    }

    /// True when no `metrics_token` is set, or the request carries it as `Authorization: Bearer`
    /// (compared by hash, like the admin token).
    func isMetricsScraper(_ request: HTTPRequest, settings: Settings) -> Bool {
        guard let token = settings.access.metricsToken else { return true }
        guard let authorization = request.headers["authorization"] else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return token.matches(String(parts[1]).trimmingWhitespace())
    }

    /// Gauges read from the ledger when scraped, rather than kept up to date on every request.
    func updateScrapeTimeMetrics() {
        let now = self.clock.now()
        let counts = self.ledger.withMatrix { matrix in Self.keyStateCounts(matrix, at: now) }
        var values: [[String]: Double] = [:]
        for (row, count) in counts {
            // Unknown models past the cap fold into `other`, summed.
            values[[self.metrics.modelLabel(row.model), row.state], default: 0] += Double(count)
        }
        self.metrics.keys.replaceAll(values)
        self.metrics.usageRecordsPending.set(Double(self.ledger.records.pendingCount))
    }

    /// Keys per quota model and state, from the usage matrix: `inactive` when the key is out of
    /// service, `exhausted` when a 429 holds it off the model or a counter is at its limit,
    /// otherwise `available`. Model `-` counts every key by health alone. Every state of a
    /// model that has rows is present, at 0 when no key is in it.
    static func keyStateCounts(_ matrix: UsageMatrix, at now: Date) -> [KeyStateCount: Int] {
        let states = ["available", "exhausted", "inactive"]
        var counts: [KeyStateCount: Int] = [:]
        for state in states { counts[KeyStateCount(model: "-", state: state)] = 0 }
        for key in matrix.keys.values {
            counts[KeyStateCount(model: "-", state: key.isActive ? "available" : "inactive"), default: 0] += 1
        }
        for row in matrix.rows {
            guard let key = matrix.keys[row.id.keyID] else { continue }
            let state: String
            if !key.isActive {
                state = "inactive"
            } else if row.isExhausted(at: now) || !row.headroom(at: now, calendar: matrix.calendar).admits(cost: 1) {
                state = "exhausted"
            } else {
                state = "available"
            }
            for each in states { counts[KeyStateCount(model: row.id.model, state: each), default: 0] += 0 }
            counts[KeyStateCount(model: row.id.model, state: state), default: 0] += 1
        }
        return counts
    }

    /// One series of `keyrelay_keys` before its model is made a label.
    struct KeyStateCount: Hashable {
        var model: String
        var state: String
    }
}

/// What the request counter learns about one request as it is answered: its route (fixed at
/// the start), then the client's label once authenticated and the quota model once planned.
final class RequestTally: Sendable {
    private struct Learned {
        var client = "-"
        var model = ""
    }

    let route: String
    private let learned = Mutex(Learned())

    init(route: Route) {
        self.route = route.metricsLabel
    }

    /// The client's label from `allowed_tokens` (never its token); `-` until authenticated.
    var client: String {
        get { self.learned.withLock { $0.client } }
        set { self.learned.withLock { $0.client = newValue } }
    }

    /// The quota model; empty (labelled `-`) until the request is planned.
    var model: String {
        get { self.learned.withLock { $0.model } }
        set { self.learned.withLock { $0.model = newValue } }
    }
}

extension Route {
    /// The `route` label: a small fixed set, whatever the path held.
    var metricsLabel: String {
        switch self {
        case .listModels, .getModel: "gemini.models"
        case .generate(_, _, let method):
            switch method {
            case .generateContent: "gemini.generate"
            case .streamGenerateContent: "gemini.stream"
            case .countTokens: "gemini.count_tokens"
            case .embedContent, .batchEmbedContents: "gemini.embed"
            }
        case .vertex(_, let method): method.isStreaming ? "vertex.stream" : "vertex"
        case .openAIChat: "openai.chat"
        case .openAIEmbeddings: "openai.embeddings"
        case .openAIModels: "openai.models"
        case .openAIPassthrough: "openai.passthrough"
        case .notImplemented: "unsupported"
        case .health: "health"
        case .livez: "livez"
        case .metrics: "metrics"
        case .keyPage: "page"
        case .admin: "admin"
        case .methodNotAllowed, .invalidModel, .unknownMethod, .notFound: "unmatched"
        }
    }
}
