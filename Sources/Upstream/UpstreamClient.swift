import Logging

/// An HTTP client over one libcurl multi handle driven by a dedicated thread: connections are
/// reused, bodies stream chunk by chunk with backpressure, and a transfer can be cancelled.
///
/// Requests go out as HTTP/1.1 with TLS verification against the system CA bundle, no redirects
/// followed, no automatic decompression, and no `Expect: 100-continue`.
public final class UpstreamClient: Sendable {
    private let loop: CurlLoop
    private let proxyURL: String?

    /// Starts the client's thread.
    /// - Parameters:
    ///   - proxyURL: optional outbound proxy (`http://host:port`); never logged with credentials.
    ///     Nil means no proxy at all: `http_proxy` and friends in the environment are ignored.
    ///   - maxIdleConnections: idle connections kept for reuse (curl's `CURLMOPT_MAXCONNECTS`);
    ///     default 64.
    /// - Throws: `UpstreamError` (`.transport`) when libcurl cannot be initialised.
    public init(proxyURL: String? = nil, maxIdleConnections: Int = 64, logger: Logger) throws(UpstreamError) {
        self.loop = try CurlLoop(maxIdleConnections: maxIdleConnections, logger: logger)
        self.proxyURL = proxyURL
        self.loop.start()
    }

    deinit {
        self.loop.shutdown()
    }

    /// Sends `request` and returns once the response status and headers have arrived (1xx interim
    /// responses are skipped). Cancelling the calling task cancels the transfer.
    /// - Throws: `UpstreamError` for connection failures and timeouts before the head arrived:
    ///   `.resolveFailed`, `.connectFailed`, `.tlsFailed`, `.connectTimeout`, `.invalidRequest`
    ///   (all with `requestWasSent == false`), `.firstByteTimeout`, `.transport`, `.cancelled`,
    ///   `.clientShutDown`.
    public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        let transfer = try CurlTransfer(request: request, proxyURL: self.proxyURL, loop: self.loop)
        let head = try await transfer.start().get()
        return UpstreamResponse(transfer: transfer, head: head)
    }

    /// Cancels every transfer (pending sends and unread bodies fail with `.clientShutDown`), frees
    /// their handles and stops the driving thread. Blocks for the few milliseconds that takes;
    /// later `send` calls fail with `.clientShutDown`. Idempotent.
    public func shutdown() {
        self.loop.shutdown()
    }

    /// Transfers whose curl handle is alive: queued, connecting, or streaming a body that has not
    /// been read to its end. For metrics; 0 after `shutdown()`.
    public var activeTransfers: Int {
        self.loop.liveHandleCount
    }
}
