import Foundation
import HTTPServer
import KeyPool
import Logging
import Storage
import Upstream

extension Relay {
    /// Commits to a streamed answer once its first event has arrived whole. Until then nothing
    /// has reached the client, so a failure (or an error as the first event) still fails over.
    func openStream(
        _ plan: ForwardPlan,
        response: UpstreamResponse,
        key: KeyRecord,
        reservation: Reservation?,
        requestID: String,
        logger: Logger
    ) async -> AttemptOutcome {
        var tracker = StreamTracker(plan: plan)
        var first: [UInt8] = []
        var ended = false
        while first.isEmpty {
            let chunk: [UInt8]?
            do {
                chunk = try await response.nextChunk()
            } catch {
                return await self.transportFailed(error, key: key, reservation: reservation, logger: logger)
            }
            guard let chunk else {
                let ending = tracker.finish()
                if first.isEmpty && !tracker.sawFinish {
                    // Nothing reached the client yet: an empty or cut stream can still fail over.
                    if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .error) }
                    self.metrics.attemptEnded(.transport)
                    await self.ledger.noteError(key.id, error: "stream ended before its first event")
                    let apiError = APIError.upstreamUnreachable(
                        UpstreamErrorSummary(description: "stream ended early", isTimeout: false)
                    )
                    return .retry(FailedAttempt(status: 502, body: apiError.body, retryAt: nil), backoff: true)
                }
                first += ending
                ended = true
                break
            }
            first += tracker.feed(chunk)
            if let errorEvent = tracker.firstEventError {
                response.cancel()
                if let reservation { self.ledger.record(reservation, tokens: nil, outcome: .error) }
                self.metrics.attemptEnded(.transient)
                await self.ledger.noteError(key.id, error: "stream error before the first event")
                logger.notice("upstream stream failed before its first event", ["upstream.status": "200"])
                let status = (try? JSONValue.parse(errorEvent))?["error"]?["code"]?.intValue ?? 502
                return .retry(
                    FailedAttempt(status: (400...599).contains(status) ? status : 502, body: errorEvent),
                    backoff: true
                )
            }
        }

        self.metrics.attemptEnded(.success)
        let headers = self.streamHeaders(response.headers, requestID: requestID)
        let firstBytes = first
        let alreadyEnded = ended
        let initialTracker = tracker
        return .answer(
            HTTPResponse(
                status: 200,
                headers: headers,
                body: .stream { writer in
                    await self.pump(
                        response: response,
                        writer: writer,
                        first: firstBytes,
                        ended: alreadyEnded,
                        tracker: initialTracker,
                        key: key,
                        reservation: reservation,
                        logger: logger
                    )
                }
            )
        )
    }

    /// Relays the rest of the stream; records its tokens and outcome however it ends.
    private func pump(
        response: UpstreamResponse,
        writer: ResponseBodyWriter,
        first: [UInt8],
        ended: Bool,
        tracker initial: StreamTracker,
        key: KeyRecord,
        reservation: Reservation?,
        logger: Logger
    ) async {
        var tracker = initial
        writer.onClientGone { response.cancel() }
        var clientGone = false
        var upstreamError: UpstreamError? = nil

        do {
            try await writer.write(first)
            var finished = ended
            while !finished {
                let chunk: [UInt8]?
                do {
                    chunk = try await response.nextChunk()
                } catch {
                    // A cancel because the client left is not an upstream failure.
                    if writer.isClientGone || error.code == .cancelled { throw ClientGoneError() }
                    upstreamError = error
                    break
                }
                guard let chunk else {
                    finished = true
                    break
                }
                let out = tracker.feed(chunk)
                if !out.isEmpty { try await writer.write(out) }
            }
            if let upstreamError {
                // The client already has bytes; retrying would duplicate output, so end with an error event.
                try await writer.write(tracker.errorTrailer(message: "upstream stream failed: \(upstreamError.code)"))
            } else if !ended {
                let rest = tracker.finish()
                if !rest.isEmpty { try await writer.write(rest) }
            }
        } catch {
            clientGone = true
            response.cancel()
        }

        let failed =
            upstreamError != nil || tracker.sawErrorEvent || tracker.arrayHeldError
            || (!clientGone && !tracker.sawFinish)
        if let reservation {
            self.ledger.record(reservation, tokens: tracker.usage, outcome: failed ? .error : .success)
        }
        if failed {
            await self.ledger.noteError(key.id, error: "stream failed mid-way")
            logger.notice(
                "upstream stream failed mid-way",
                ["error": upstreamError.map { "\($0.code)" } ?? "error event"]
            )
        } else if !clientGone {
            await self.ledger.recordSuccess(key.id)
        } else {
            logger.debug("client left mid-stream; upstream cancelled")
        }
    }

    private func streamHeaders(_ upstream: [(name: String, value: String)], requestID: String) -> HTTPHeaders {
        var headers = self.clientHeaders(upstream, requestID: requestID)
        headers.set("Cache-Control", "no-cache")
        return headers
    }
}
