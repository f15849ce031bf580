import Foundation
import Logging
import Synchronization

// Threading model
//
// - libmicrohttpd runs its own threads: `threadCount` poll() workers (one internal polling
//   thread when 1). They accept, parse, buffer request bodies and write responses. They never
//   wait on Swift async work.
// - When a request's body is complete the access handler suspends the connection and starts a
//   Swift `Task` running `HTTPHandler.handle`. When it returns, the task stores the response and
//   resumes the connection; MHD calls the access handler again, which queues the response.
// - A streamed body is a bounded `ResponseBodyWriter`: the producer task appends and resumes
//   the connection; MHD's content reader drains it, or suspends the connection when it is
//   empty. A waiting stream therefore holds no thread. `write` waits above 256 KiB.
// - Every suspend and its matching resume happen under the lock of the object that owns the
//   suspension (the request context, then the writer), so each resume pairs with one suspend
//   and none targets a connection MHD has freed.
// - A `ClientGoneWatchdog` on its own dispatch queue polls streaming sockets for hang-ups
//   every 200 ms, because a suspended connection does not notice a disconnect by itself.
// - `shutdown` quiesces (closes the listening socket), waits for requests in flight, aborts
//   what is left (so nothing stays suspended), and joins MHD's threads on a dedicated thread.

/// An HTTP/1.1 server over libmicrohttpd: keep-alive, bounded request bodies, streamed (chunked)
/// responses whose waiting connections hold no thread, and a graceful drain on shutdown.
///
/// Handlers run as Swift tasks, never on libmicrohttpd's threads. Response headers are exactly
/// the handler's (MHD adds `Date` and the framing: `Content-Length` or chunked encoding; the
/// handler's own framing and `Connection` headers are dropped), plus `Connection: close` while
/// draining.
public final class HTTPServer: Sendable {
    /// Where and how the server listens.
    public struct Configuration: Sendable {
        /// Address to bind; never all interfaces unless asked (`0.0.0.0`). Default `127.0.0.1`;
        /// a numeric IPv4 or IPv6 address, or `localhost`.
        public var host: String
        /// Port to bind; 0 picks a free one (read it back from `port`). Default 0.
        public var port: UInt16
        /// Larger request bodies are not buffered; the handler sees `bodyTooLarge`. Bytes,
        /// default 32 MiB.
        public var maxBodyBytes: Int
        /// Threads of libmicrohttpd's own pool (they only parse and write; handlers run as tasks).
        /// Default 2.
        public var threadCount: Int
        /// Idle keep-alive connections are closed after this long (whole seconds, at least 1).
        /// Default 120 s. Connections waiting for a handler or a stream chunk are not idle.
        public var connectionTimeout: Duration

        /// Creates a configuration; every parameter has the default documented on its property.
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

    private enum State {
        case idle
        case running(MHDDaemon, ClientGoneWatchdog)
        case stopping
        case stopped
    }

    private let configuration: Configuration
    private let core: ServerCore
    private let state = Mutex(State.idle)
    private let boundPort = Atomic<UInt16>(0)

    /// Creates a server; nothing is bound until `start`.
    public init(configuration: Configuration, handler: any HTTPHandler, logger: Logger) {
        self.configuration = configuration
        self.core = ServerCore(handler: handler, logger: logger, maxBodyBytes: configuration.maxBodyBytes)
    }

    /// Binds and starts serving. - Throws: `HTTPServerError` when the address cannot be bound
    /// or the server was already started.
    public func start() throws(HTTPServerError) {
        try self.state.withLock { state throws(HTTPServerError) in
            guard case .idle = state else { throw HTTPServerError("server already started") }
            let daemon = try MHDDaemon(configuration: self.configuration, core: self.core)
            self.boundPort.store(daemon.port, ordering: .releasing)
            state = .running(daemon, ClientGoneWatchdog(core: self.core))
        }
        self.core.logger.info("listening", ["listen.host": self.configuration.host, "listen.port": String(self.port)])
    }

    /// The bound port (after `start`); 0 before.
    public var port: UInt16 { self.boundPort.load(ordering: .acquiring) }

    /// Stops accepting connections, lets requests and streams in flight finish for up to
    /// `drainTimeout`, then closes everything. Streams still running then see their client
    /// gone. Returns once the port is closed and libmicrohttpd's threads have ended; a second
    /// call returns at once.
    public func shutdown(drainTimeout: Duration) async {
        let running = self.state.withLock { state -> (MHDDaemon, ClientGoneWatchdog)? in
            guard case .running(let daemon, let watchdog) = state else { return nil }
            state = .stopping
            return (daemon, watchdog)
        }
        guard let (daemon, watchdog) = running else { return }

        self.core.beginDraining()
        daemon.quiesce()
        let deadline = ContinuousClock.now.advanced(by: drainTimeout)
        while self.core.inFlightCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let unfinished = self.core.inFlightCount
        if unfinished > 0 {
            self.core.logger.notice("drain timed out", ["requests.unfinished": String(unfinished)])
        }

        self.core.abortAll()
        watchdog.stop()
        await Self.stopOffPool(daemon)
        self.state.withLock { $0 = .stopped }
        self.core.logger.info("stopped")
    }

    deinit {
        // A server dropped without `shutdown` must not leave MHD threads calling into freed memory.
        let daemon = self.state.withLock { state -> MHDDaemon? in
            guard case .running(let daemon, let watchdog) = state else { return nil }
            watchdog.stop()
            return daemon
        }
        if let daemon {
            self.core.abortAll()
            daemon.stop()
        }
    }

    /// `MHD_stop_daemon` joins threads, so it runs on a thread of its own, not the Swift pool.
    private static func stopOffPool(_ daemon: MHDDaemon) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                daemon.stop()
                continuation.resume()
            }
            thread.name = "keyrelay.http.stop"
            thread.start()
        }
    }
}

/// The server could not start.
public struct HTTPServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, naming the setting to change; holds no secret.
    public var description: String

    /// Creates an error with the given description.
    public init(_ description: String) { self.description = description }
}

extension HTTPServer {
    /// Requests between their request line and completion; 0 once everything is answered.
    var inFlightRequestCount: Int { self.core.inFlightCount }

    /// Targets of the requests in flight, for test diagnostics.
    var inFlightTargets: [String] { self.core.inFlightContexts.map(\.target) }
}
