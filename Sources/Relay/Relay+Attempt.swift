import Foundation
import HTTPServer
import KeyPool
import Logging
import Storage
import Upstream

extension Relay {
    /// Largest successful non-streamed body relayed, and largest error body read.
    static let maxResponseBytes = 256 << 20
    static let maxErrorBytes = 1 << 20

    /// Response headers passed back to the client.
    static let forwardedResponseHeaders: Set<String> = ["content-type", "content-disposition", "vary"]

    /// One try with one key: send, then classify what came back and act on the key.
    func attempt(
        _ plan: ForwardPlan,
        key: KeyRecord,
        reservation: Reservation?,
        requestID: String,
        logger: Logger,
        metricsRoute: String
    ) async -> AttemptOutcome {
        var headers = plan.headers
        switch plan.keyPlacement {
        case .googleHeader: headers.append(("x-goog-api-key", key.secret.revealedForUpstream))
        case .bearer: headers.append(("Authorization", "Bearer " + key.secret.revealedForUpstream))
        }
        let request = UpstreamRequest(
            method: plan.httpMethod,
            url: plan.url,
            headers: headers,
            body: plan.body,
            connectTimeout: plan.settings.upstream.connectTimeout,
            firstByteTimeout: plan.settings.upstream.firstByteTimeout,
            idleTimeout: plan.settings.upstream.idleTimeout
        )

        let response: UpstreamResponse
        let sent = ContinuousClock.now
        do {
            response = try await self.upstream.send(request)
            self.metrics.attemptAnswered(route: metricsRoute, after: ContinuousClock.now - sent)
        } catch {
            return await self.transportFailed(error, key: key, reservation: reservation, logger: logger)
        }

        if response.status == 200 {
            if plan.isStreaming {
                return await self.openStream(
                    plan,
                    response: response,
                    key: key,
                    reservation: reservation,
                    requestID: requestID,
                    logger: logger
                )
            }
            let body: [UInt8]
            do {
                body = try await response.collectBody(limit: Self.maxResponseBytes)
            } catch {
                return await self.transportFailed(error, key: key, reservation: reservation, logger: logger)
            }
            let document = plan.isMetered || plan.adapter.needsDocument ? try? JSONValue.parse(body) : nil
            let tokens = plan.isMetered ? document.flatMap { Self.tokens(in: $0, plan: plan) } : nil
            if let reservation { self.ledger.record(reservation, tokens: tokens, outcome: .success) }
            self.metrics.attemptEnded(.success)
            await self.ledger.recordSuccess(key.id)
            logger.debug("upstream answered", ["upstream.status": "200"])
            var answer = self.clientResponse(
                status: 200,
                upstreamHeaders: response.headers,
                body: body,
                requestID: requestID
            )
            if let adapted = plan.adapter.adapt(document) {
                answer.body = .bytes(adapted.serializedBytes)
                answer.headers.set("Content-Type", "application/json")
            }
            return .answer(answer)
        }

        let body = (try? await response.collectBody(limit: Self.maxErrorBytes)) ?? []
        return await self.upstreamFailed(
            plan,
            status: response.status,
            headers: response.headers,
            body: body,
            key: key,
            reservation: reservation,
            requestID: requestID,
            logger: logger
        )
    }

    /// Acts on a non-200 answer according to its class (DESIGN.md §4).
    func upstreamFailed(
        _ plan: ForwardPlan,
        status: Int,
        headers: [(name: String, value: String)],
        body: [UInt8],
        key: KeyRecord,
        reservation: Reservation?,
        requestID: String,
        logger: Logger
    ) async -> AttemptOutcome {
        let now = self.clock.now()
        let verdict = FailureClassifier.classify(status: status, body: body, now: now, calendar: self.ledger.calendar)
        self.metrics.attemptClassified(verdict)
        let scrubbed = plan.scrubber.scrubErrorBody(body)
        let failure = FailedAttempt(status: status, body: scrubbed, retryAt: nil)
        let statusText = "\(status)"

        switch verdict {
        case .success:
            if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .success) }
            return .answer(
                self.clientResponse(status: status, upstreamHeaders: headers, body: scrubbed, requestID: requestID)
            )

        case .clientError, .notForThisKey:
            // The request, not the key, is at fault: the client gets Google's answer unchanged.
            if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .clientError) }
            logger.debug("upstream refused the request", ["upstream.status": statusText])
            return .answer(
                self.clientResponse(
                    status: status,
                    upstreamHeaders: headers,
                    body: Self.errorBody(status, scrubbed, shape: plan.errorShape),
                    requestID: requestID
                )
            )

        case .rateLimited(let until, let scope):
            let row = UsageRowID(model: reservation?.row.model ?? "", keyID: key.id)
            if reservation != nil { await self.ledger.exhaust(row, until: until) }
            if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .rateLimited) }
            logger.notice(
                "key rate limited",
                [
                    "upstream.status": statusText,
                    "quota.scope": scope.rawValue,
                    "exhausted.seconds": "\(Int(until.timeIntervalSince(now).rounded(.up)))",
                ]
            )
            if scope == .noQuota {
                logger.notice("key has no quota for this model on its tier", ["upstream.status": statusText])
            }
            var rateLimited = failure
            rateLimited.retryAt = until
            return .retry(rateLimited, backoff: false)

        case .keyInvalid(let reason):
            await self.ledger.deactivate(key.id, reason: reason)
            if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .error) }
            logger.notice("key deactivated", ["upstream.status": statusText, "reason": reason])
            return .retry(failure, backoff: false)

        case .transient(let reason):
            await self.ledger.noteError(key.id, error: "\(status) \(reason)")
            if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .error) }
            logger.notice("upstream transient error", ["upstream.status": statusText])
            return .retry(failure, backoff: true)

        case .unrecognised(let reason):
            let updated = await self.ledger.recordFailure(
                key.id,
                error: "\(status) \(reason)",
                maxFailures: plan.settings.pool.maxFailures
            )
            if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .error) }
            logger.notice(
                updated?.isActive == false ? "key deactivated" : "upstream answer not recognised",
                [
                    "upstream.status": statusText,
                    "key.failures": "\(updated?.failureCount ?? 0)",
                ]
            )
            return .retry(failure, backoff: false)
        }
    }

    /// A transfer that failed without an HTTP answer. An attempt that provably never reached the
    /// upstream gives its reservation back; any other stays counted.
    func transportFailed(
        _ error: UpstreamError,
        key: KeyRecord,
        reservation: Reservation?,
        logger: Logger
    ) async -> AttemptOutcome {
        if let reservation {
            if error.requestWasSent {
                self.ledger.record(reservation, tokens: nil, outcome: .error)
            } else {
                await self.ledger.release(reservation)
            }
        }
        self.metrics.attemptEnded(.transport)
        await self.ledger.noteError(key.id, error: error.description)
        logger.notice("upstream unreachable", ["error": error.description, "request.sent": "\(error.requestWasSent)"])
        let isTimeout = [.connectTimeout, .firstByteTimeout, .idleTimeout].contains(error.code)
        let summary = UpstreamErrorSummary(description: "\(error.code)", isTimeout: isTimeout)
        let apiError = APIError.upstreamUnreachable(summary)
        return .retry(FailedAttempt(status: apiError.status, body: apiError.body, retryAt: nil), backoff: true)
    }

    /// The tokens a successful answer reports: Gemini's `usageMetadata`, or OpenAI's `usage` from
    /// Gemini's OpenAI-compatible endpoint.
    static func tokens(in document: JSONValue, plan: ForwardPlan) -> TokenUsage? {
        guard plan.reportsOpenAIUsage else { return TokenUsage.from(response: document) }
        return Self.openAIUsage(document)
    }

    /// `usage.prompt_tokens` / `usage.total_tokens` of an OpenAI-shaped answer or chunk.
    static func openAIUsage(_ document: JSONValue) -> TokenUsage? {
        guard let usage = document["usage"], usage.objectMembers != nil else { return nil }
        let prompt = usage["prompt_tokens"]?.intValue ?? 0
        let total = usage["total_tokens"]?.intValue ?? prompt
        return TokenUsage(inputTokens: prompt, totalTokens: total)
    }

    /// The client's response: allow-listed upstream headers plus the request id.
    func clientResponse(
        status: Int,
        upstreamHeaders: [(name: String, value: String)],
        body: [UInt8],
        requestID: String
    ) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: self.clientHeaders(upstreamHeaders, requestID: requestID),
            body: .bytes(body)
        )
    }

    func clientHeaders(_ upstreamHeaders: [(name: String, value: String)], requestID: String) -> HTTPHeaders {
        var headers = HTTPHeaders(
            upstreamHeaders.filter { Self.forwardedResponseHeaders.contains($0.name.lowercased()) }
        )
        if headers["content-type"] == nil { headers.add("Content-Type", "application/json; charset=UTF-8") }
        headers.add("x-request-id", requestID)
        return headers
    }
}
