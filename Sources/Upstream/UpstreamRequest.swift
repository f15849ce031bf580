/// One upstream call.
public struct UpstreamRequest: Sendable {
    /// HTTP method token (`GET`, `POST`, …); `HEAD` asks for no body.
    public var method: String
    /// Absolute `http` or `https` URL. Never carries an API key (keys go in the `x-goog-api-key` header).
    public var url: String
    /// Request headers in order. Framing headers (`Content-Length`, `Transfer-Encoding`, `Connection`,
    /// `Expect`, …) are set by the client and dropped from this list; a name or value holding CR, LF or
    /// NUL fails the request with `.invalidRequest`.
    public var headers: [(name: String, value: String)]
    /// Request body, sent with a `Content-Length`; empty sends none (a `POST` sends `Content-Length: 0`).
    public var body: [UInt8]
    /// Limit for establishing the connection (TCP + TLS); default 10 s, millisecond precision.
    public var connectTimeout: Duration
    /// Limit from sending the request to the complete response head; default 120 s.
    public var firstByteTimeout: Duration
    /// Limit between two body chunks while the reader keeps up (time paused for backpressure does not
    /// count); default 120 s.
    public var idleTimeout: Duration

    /// A request with the given parts; the timeouts default to DESIGN.md §8's settings.
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
