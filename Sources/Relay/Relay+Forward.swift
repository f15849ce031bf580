import Foundation
import HTTPServer
import KeyPool
import Logging
import Storage
import Upstream

extension Relay {
    /// What one attempt ended in.
    enum AttemptOutcome: Sendable {
        /// Answer the client with this (success, a client error, or a committed stream).
        case answer(HTTPResponse)
        /// Try another key; `failure` is what the client gets if no try succeeds.
        case retry(FailedAttempt, backoff: Bool)
    }

    /// The last failure seen, kept to answer the client when every try fails.
    struct FailedAttempt: Sendable {
        var status: Int
        /// Google-shaped JSON, already scrubbed of secrets.
        var body: [UInt8]
        var retryAt: Date?
    }

    /// The retry loop of DESIGN.md §4: at most `max_retries` further keys, never the same key
    /// twice, all within `request_deadline_s`; a model-wide 5xx backs off before the next key.
    /// `metricsRoute` labels the attempts' upstream latency.
    func forward(_ plan: ForwardPlan, requestID: String, logger: Logger, metricsRoute: String) async -> HTTPResponse {
        let deadline = ContinuousClock.now + plan.settings.upstream.requestDeadline
        let maxAttempts = plan.settings.pool.maxRetries + 1
        var tried = Set<Int64>()
        var lastFailure: FailedAttempt? = nil
        var backoffs = 0

        // A batch larger than a whole window can never be admitted; waiting would not help.
        let windowLimits = [plan.limits.rpm, plan.limits.rpd].compactMap { $0 }
        if plan.isMetered, plan.paidLimits == nil, let smallest = windowLimits.min(), plan.cost > smallest {
            return APIError.invalidArgument(
                "this request counts \(plan.cost) requests (one per text), more than the model's limit of \(smallest) "
                    + "per window: send at most \(smallest) texts at a time",
                param: "input"
            ).response(requestID: requestID, shape: plan.errorShape)
        }

        while tried.count < maxAttempts && ContinuousClock.now < deadline {
            let selection = SelectionRequest(
                quotaModel: plan.quotaModel,
                kind: plan.kind,
                limits: plan.limits,
                cost: plan.cost,
                now: self.clock.now(),
                excluding: tried,
                paidUse: plan.paidUse,
                paidLimits: plan.paidLimits
            )
            let key: KeyRecord
            let reservation: Reservation?
            if plan.isMetered {
                switch await self.ledger.acquire(selection, policy: plan.settings.pool.exhaustedPolicy) {
                case .reserved(let chosen, let granted, let overLimit):
                    key = chosen
                    reservation = granted
                    if overLimit {
                        self.metrics.overLimit.increment()
                        logger.warning("all keys at their limit; forwarding past it", ["model": plan.quotaModel])
                    }
                case .exhausted(let retryAt):
                    if let lastFailure { return self.finalResponse(lastFailure, plan: plan, requestID: requestID) }
                    logger.warning("all keys exhausted", ["model": plan.quotaModel])
                    self.metrics.exhaustedRejections.increment()
                    // Without a known instant, the next minute is the earliest a window can reopen.
                    let retryAfter = self.secondsUntil(retryAt ?? self.ledger.calendar.minuteEnd(of: self.clock.now()))
                    return APIError.exhausted(retryAfterSeconds: retryAfter)
                        .response(requestID: requestID, shape: plan.errorShape)
                case .noActiveKey:
                    if let lastFailure { return self.finalResponse(lastFailure, plan: plan, requestID: requestID) }
                    return APIError.noActiveKey().response(requestID: requestID, shape: plan.errorShape)
                case .storeFailed(let error):
                    logger.error("store unreachable", ["error": "\(error)"])
                    self.isStoreReachable.store(false, ordering: .relaxed)
                    return APIError.storeUnavailable().response(requestID: requestID, shape: plan.errorShape)
                }
            } else {
                guard let picked = self.ledger.pick(selection) else {
                    if let lastFailure { return self.finalResponse(lastFailure, plan: plan, requestID: requestID) }
                    return APIError.noActiveKey().response(requestID: requestID, shape: plan.errorShape)
                }
                key = picked
                reservation = nil
            }
            tried.insert(key.id)
            if tried.count > 1 { self.metrics.retries.increment() }
            RequestLogTrace.current?.attempted(keyID: key.id)

            let attemptLogger = logger.with([
                "key.fingerprint": key.fingerprint.description,
                "model": plan.quotaModel,
                "retry.attempt": "\(tried.count - 1)",
            ])
            let outcome = await self.attempt(
                plan,
                key: key,
                reservation: reservation,
                requestID: requestID,
                logger: attemptLogger,
                metricsRoute: metricsRoute
            )
            switch outcome {
            case .answer(let response):
                return response
            case .retry(let failure, let backoff):
                lastFailure = failure
                if failure.status == 429 { RequestLogTrace.current?.metRateLimit() }
                if backoff && tried.count < maxAttempts {
                    backoffs += 1
                    // Model-wide overload hits every key; pause rather than burn the pool in a burst.
                    let pause = Duration.milliseconds(min(2000, 200 << min(backoffs - 1, 4)))
                    if ContinuousClock.now + pause >= deadline { break }
                    try? await Task.sleep(for: pause)
                }
            }
        }
        if let lastFailure { return self.finalResponse(lastFailure, plan: plan, requestID: requestID) }
        return APIError(
            status: 504,
            googleStatus: "DEADLINE_EXCEEDED",
            message: "request_deadline_s passed before any try"
        )
        .response(requestID: requestID, shape: plan.errorShape)
    }

    /// The last upstream error, said as final to SDKs that would otherwise retry at once.
    func finalResponse(_ failure: FailedAttempt, plan: ForwardPlan, requestID: String) -> HTTPResponse {
        var headers: HTTPHeaders = [
            "Content-Type": "application/json; charset=UTF-8",
            "x-request-id": requestID,
            "x-should-retry": "false",
        ]
        if let seconds = self.secondsUntil(failure.retryAt) { headers.add("Retry-After", String(seconds)) }
        return HTTPResponse(
            status: failure.status,
            headers: headers,
            body: .bytes(Self.errorBody(failure.status, failure.body, shape: plan.errorShape))
        )
    }

    /// An upstream error body (Google's shape, possibly wrapped in a one-element list, already
    /// scrubbed) in the client's shape.
    static func errorBody(_ status: Int, _ body: [UInt8], shape: ErrorShape) -> [UInt8] {
        switch shape {
        case .google: body
        case .openAI: OpenAIError.fromGoogle(status: status, body: body).body
        }
    }

    /// Whole seconds from now until `date`, rounded up, at least 1; nil without a date.
    func secondsUntil(_ date: Date?) -> Int? {
        guard let date else { return nil }
        return max(1, Int(date.timeIntervalSince(self.clock.now()).rounded(.up)))
    }
}

extension KeyLedger {
    /// A key for an unmetered call (model list, countTokens): round-robin over usable keys.
    func pick(_ request: SelectionRequest) -> KeyRecord? {
        self.withMatrix { $0.nextCycling(request) }
    }
}
