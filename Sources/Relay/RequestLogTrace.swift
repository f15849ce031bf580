import Foundation
import HTTPServer
import KeyPool
import Logging
import Storage
import Synchronization

/// What one client request did on its way, gathered for its `request_log` row: the keys tried,
/// the tokens the upstream reported and the 429s met. The relay binds it to the request's task
/// (`current`), so the retry loop and the ledger report to it without passing it around.
final class RequestLogTrace: Sendable {
    /// The trace of the request the current task serves; nil outside one.
    @TaskLocal static var current: RequestLogTrace?

    private struct State {
        var attempts = 0
        var keyID: Int64? = nil
        var inputTokens = 0
        var totalTokens = 0
        var rateLimited = 0
    }

    private let state = Mutex(State())
    private let started = ContinuousClock.now
    private let at: Date
    private let requestID: String
    private let clientLabel: String?
    private let model: String?
    private let route: String

    init(at: Date, requestID: String, clientLabel: String?, model: String?, route: String) {
        self.at = at
        self.requestID = requestID
        self.clientLabel = clientLabel
        self.model = model
        self.route = route
    }

    /// An attempt with `keyID` started.
    func attempted(keyID: Int64) {
        self.state.withLock { state in
            state.attempts += 1
            state.keyID = keyID
        }
    }

    /// An attempt ended with the upstream's 429.
    func metRateLimit() {
        self.state.withLock { $0.rateLimited += 1 }
    }

    /// An attempt's usage was recorded.
    func recorded(tokens: TokenUsage?) {
        guard let tokens else { return }
        self.state.withLock { state in
            state.inputTokens += max(0, tokens.inputTokens)
            state.totalTokens += max(0, tokens.totalTokens)
        }
    }

    /// The row, as of now: latency runs from the request's arrival to this call.
    func entry(status: Int) -> RequestLogEntry {
        let elapsed = ContinuousClock.now - self.started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        return self.state.withLock { state in
            RequestLogEntry(
                at: self.at,
                requestID: self.requestID,
                clientLabel: self.clientLabel,
                keyID: state.keyID,
                model: self.model,
                route: self.route,
                status: status,
                latencyMilliseconds: Int(clamping: milliseconds),
                inputTokens: state.inputTokens,
                totalTokens: state.totalTokens,
                retries: max(0, state.attempts - 1),
                rateLimited: state.rateLimited
            )
        }
    }
}

extension Relay {
    /// `forward`, with one `request_log` row queued when the answer is complete: for a stream,
    /// after its last byte (its tokens are known only then).
    func forwardLogged(
        _ plan: ForwardPlan,
        route: Route,
        client: String,
        requestID: String,
        logger: Logger,
        metricsRoute: String
    ) async -> HTTPResponse {
        let log = self.ledger.requestLog
        guard log.isEnabled else {
            return await self.forward(plan, requestID: requestID, logger: logger, metricsRoute: metricsRoute)
        }
        let trace = RequestLogTrace(
            at: self.clock.now(),
            requestID: requestID,
            clientLabel: client,
            model: plan.quotaModel,
            route: route.logName
        )
        var response = await RequestLogTrace.$current.withValue(trace) {
            await self.forward(plan, requestID: requestID, logger: logger, metricsRoute: metricsRoute)
        }
        let status = response.status
        guard case .stream(let body) = response.body else {
            log.enqueue(trace.entry(status: status))
            return response
        }
        response.body = .stream { writer in
            await RequestLogTrace.$current.withValue(trace) { await body(writer) }
            log.enqueue(trace.entry(status: status))
        }
        return response
    }

    /// Writes request log rows still waiting in the batch to the store.
    public func flushRequestLog() async {
        await self.ledger.requestLog.flush()
    }

    /// Deletes request log rows older than `request_log_retention_days` now (SQLite does this
    /// hourly by itself; in a fleet the reset job does).
    public func purgeRequestLog() async {
        await self.ledger.requestLog.purge(retentionDays: self.settings.requestLogRetentionDays)
    }
}

extension Route {
    /// The route's name in `request_log.route`: the API and the operation, never a path or query
    /// (a query may hold the client's token).
    var logName: String {
        switch self {
        case .listModels: "gemini:models.list"
        case .getModel: "gemini:models.get"
        case .generate(_, _, let method): "gemini:" + method.rawValue
        case .vertex(_, let method): "vertex:" + method.rawValue
        case .openAIChat: "openai:chat.completions"
        case .openAIEmbeddings: "openai:embeddings"
        case .openAIModels: "openai:models.list"
        case .openAIPassthrough(let path):
            switch path {
            case "chat/completions": "openai-compat:chat.completions"
            case "embeddings": "openai-compat:embeddings"
            case "models": "openai-compat:models.list"
            default: "openai-compat:models.get"
            }
        default: "other"
        }
    }
}
