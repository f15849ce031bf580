import Logging

/// An HTTP/1.1 server over libmicrohttpd: keep-alive, bounded request bodies, streamed (chunked)
/// responses whose waiting connections hold no thread, and a graceful drain on shutdown.
public final class HTTPServer: Sendable {
    public struct Configuration: Sendable {
        /// Address to bind; never all interfaces unless asked (`0.0.0.0`).
        public var host: String
        /// Port to bind; 0 picks a free one (read it back from `port`).
        public var port: UInt16
        /// Larger request bodies are not buffered; the handler sees `bodyTooLarge`.
        public var maxBodyBytes: Int
        /// Threads of libmicrohttpd's own pool (they only parse and write; handlers run as tasks).
        public var threadCount: Int
        /// Idle keep-alive connections are closed after this long.
        public var connectionTimeout: Duration

        public init(
            host: String = "127.0.0.1",
            port: UInt16 = 0,
            maxBodyBytes: Int = 32 << 20,
            threadCount: Int = 2,
            connectionTimeout: Duration = .seconds(120)
        ) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.threadCount = threadCount
            self.connectionTimeout = connectionTimeout
        }
    }

    public init(configuration: Configuration, handler: any HTTPHandler, logger: Logger) {
        fatalError("unimplemented")
    }

    /// Binds and starts serving. - Throws: `HTTPServerError` when the address cannot be bound.
    public func start() throws(HTTPServerError) {
        fatalError("unimplemented")
    }

    /// The bound port (after `start`).
    public var port: UInt16 { fatalError("unimplemented") }

    /// Stops accepting connections, lets requests and streams in flight finish for up to
    /// `drainTimeout`, then closes everything.
    public func shutdown(drainTimeout: Duration) async {
        fatalError("unimplemented")
    }
}

/// The server could not start.
public struct HTTPServerError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
