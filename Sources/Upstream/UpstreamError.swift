/// A failed upstream transfer. `description` is fixed text per code, never curl's message
/// (which may hold a URL) or a secret.
public struct UpstreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a stable code with fixed text.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Fixed text for the code; never holds server text.
        public let description: String
        private init(_ name: String) { self.description = name }

        /// The host name did not resolve (also the proxy's); the request was not sent.
        public static let resolveFailed = Code("could not resolve host")
        /// The TCP connection was refused or unreachable; the request was not sent.
        public static let connectFailed = Code("could not connect")
        /// The TLS handshake or certificate check failed; the request was not sent.
        public static let tlsFailed = Code("TLS handshake failed")
        /// TCP + TLS took longer than `connectTimeout`; the request was not sent.
        public static let connectTimeout = Code("connect timed out")
        /// The response head took longer than `firstByteTimeout` after the request went out.
        public static let firstByteTimeout = Code("no response in time")
        /// No body bytes for longer than `idleTimeout`.
        public static let idleTimeout = Code("stream idle too long")
        /// The connection failed or closed early after the request went out.
        public static let transport = Code("connection failed")
        /// The transfer was cancelled by its reader (or the reading task was cancelled).
        public static let cancelled = Code("cancelled")
        /// The body passed the `collectBody(limit:)` limit.
        public static let tooLarge = Code("response too large")
        /// The client was shut down while the transfer was pending, or before it started.
        public static let clientShutDown = Code("client shut down")
        /// The request could not be built (bad URL or scheme, CR/LF in a header); it was not sent.
        public static let invalidRequest = Code("invalid request")
    }

    /// What went wrong.
    public var code: Code
    /// False only when the request provably never reached the upstream (resolve, connect or TLS
    /// failure), so its reservation may be released.
    public var requestWasSent: Bool
    /// curl's result code, for debugging.
    public var curlCode: Int?

    /// An error with the given code; `curlCode` is nil when the failure was not curl's.
    public init(_ code: Code, requestWasSent: Bool, curlCode: Int? = nil) {
        self.code = code
        self.requestWasSent = requestWasSent
        self.curlCode = curlCode
    }

    /// `upstream <fixed text>`; never holds a URL, server text or a secret.
    public var description: String { "upstream \(self.code)" }
}
