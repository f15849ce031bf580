import Logging

/// One upstream call.
public struct UpstreamRequest: Sendable {
    public var method: String
    /// Absolute URL. Never carries an API key (keys go in the `x-goog-api-key` header).
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Limit for establishing the connection (TCP + TLS).
    public var connectTimeout: Duration
    /// Limit from sending the request to the response head.
    public var firstByteTimeout: Duration
    /// Limit between two body chunks.
    public var idleTimeout: Duration

    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        connectTimeout: Duration = .seconds(10),
        firstByteTimeout: Duration = .seconds(120),
        idleTimeout: Duration = .seconds(120)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
        self.idleTimeout = idleTimeout
    }
}

/// An HTTP client over one libcurl multi handle driven by a dedicated thread: connections are
/// reused, bodies stream chunk by chunk with backpressure, and a transfer can be cancelled.
public final class UpstreamClient: Sendable {
    /// - Parameters:
    ///   - proxyURL: optional outbound proxy (`http://host:port`); never logged with credentials.
    ///   - maxIdleConnections: idle connections kept for reuse.
    public init(proxyURL: String? = nil, maxIdleConnections: Int = 64, logger: Logger) throws(UpstreamError) {
        fatalError("unimplemented")
    }

    /// Sends `request` and returns once the response status and headers have arrived.
    /// - Throws: `UpstreamError` for connection failures and timeouts before the head arrived.
    public func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        fatalError("unimplemented")
    }

    /// Cancels every transfer and stops the driving thread.
    public func shutdown() {
        fatalError("unimplemented")
    }
}

/// A response whose head has arrived; the body is read chunk by chunk.
public final class UpstreamResponse: Sendable {
    public var status: Int { fatalError("unimplemented") }
    public var headers: [(name: String, value: String)] { fatalError("unimplemented") }

    /// The next chunk of the body as it arrived from the network; nil at the end.
    /// - Throws: `UpstreamError` on a transport failure, an idle timeout or cancellation.
    public func nextChunk() async throws(UpstreamError) -> [UInt8]? {
        fatalError("unimplemented")
    }

    /// The rest of the body. - Throws: `UpstreamError` (code `.tooLarge` past `limit` bytes).
    public func collectBody(limit: Int) async throws(UpstreamError) -> [UInt8] {
        fatalError("unimplemented")
    }

    /// Aborts the transfer (the client went away). Later reads throw `.cancelled`.
    public func cancel() {
        fatalError("unimplemented")
    }
}

/// A failed upstream transfer. `description` is fixed text per code, never curl's message
/// (which may hold a URL) or a secret.
public struct UpstreamError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { self.description = name }

        public static let resolveFailed = Code("could not resolve host")
        public static let connectFailed = Code("could not connect")
        public static let tlsFailed = Code("TLS handshake failed")
        public static let connectTimeout = Code("connect timed out")
        public static let firstByteTimeout = Code("no response in time")
        public static let idleTimeout = Code("stream idle too long")
        public static let transport = Code("connection failed")
        public static let cancelled = Code("cancelled")
        public static let tooLarge = Code("response too large")
        public static let clientShutDown = Code("client shut down")
    }

    public var code: Code
    /// False only when the request provably never reached the upstream (resolve, connect or TLS
    /// failure), so its reservation may be released.
    public var requestWasSent: Bool
    /// curl's result code, for debugging.
    public var curlCode: Int?

    public init(_ code: Code, requestWasSent: Bool, curlCode: Int? = nil) {
        self.code = code
        self.requestWasSent = requestWasSent
        self.curlCode = curlCode
    }

    public var description: String { "upstream \(self.code)" }
}
