import CMicroHTTPD
import Glibc

/// Owns the `MHD_Daemon` handle: the only type that starts, quiesces or stops it.
///
/// `@unchecked Sendable`: the handle is set once in `init`; `HTTPServer` serialises
/// `quiesce` and `stop` through its state lock and calls `stop` exactly once.
final class MHDDaemon: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The bound port, read once after binding.
    let port: UInt16
    private var isStopped = false

    /// Binds `host:port` and starts MHD's polling threads.
    init(configuration: HTTPServer.Configuration, core: ServerCore) throws(HTTPServerError) {
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        // poll(), not epoll: with MHD 0.9.75's edge-triggered epoll, a client that sent part of
        // a body and then closed was often never noticed (the request stayed open until the
        // connection timeout); with poll() it is closed at once. Suspended connections (waiting
        // handlers and streams) are not in the poll set, so its cost stays with active ones.
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_POLL.rawValue
        flags |= MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        if address.isIPv6 { flags |= MHD_USE_IPv6.rawValue }

        let cls = Unmanaged.passUnretained(core).toOpaque()
        let timeout = configuration.connectionTimeout.components.seconds
        let handle = address.withSockaddr { sockaddr in
            keyrelay_start_daemon(
                UInt32(flags),
                sockaddr,
                UInt32(clamping: configuration.threadCount),
                UInt32(clamping: max(timeout, 1)),
                Self.connectionLimit(),
                ServerCore.accessHandler,
                cls,
                ServerCore.completedCallback,
                cls,
                ServerCore.uriLogCallback,
                cls,
                ServerCore.logCallback,
                cls
            )
        }
        guard let handle else {
            throw HTTPServerError("cannot listen on \(configuration.host):\(configuration.port) (setting 'listen')")
        }
        self.handle = handle
        self.port = keyrelay_daemon_port(handle)
    }

    /// Stops accepting: MHD hands back its listening socket, which is closed here so new
    /// connections are refused at once while the existing ones finish.
    func quiesce() {
        let socket = MHD_quiesce_daemon(self.handle)
        if socket >= 0 { Glibc.close(socket) }
    }

    /// Closes every connection and joins MHD's threads (blocking: call off the Swift pool).
    /// No connection may still be suspended (MHD aborts the process otherwise).
    func stop() {
        guard !self.isStopped else { return }
        self.isStopped = true
        MHD_stop_daemon(self.handle)
    }

    /// MHD's default cap (about 1,000) is below what a relay holding long streams needs; stay
    /// under the process's descriptor limit instead.
    private static func connectionLimit() -> UInt32 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_000 }
        let available = limit.rlim_cur == rlim_t.max ? 65_536 : Int(limit.rlim_cur) - 64
        return UInt32(min(max(available, 64), 65_536))
    }
}

/// A numeric IPv4 or IPv6 socket address to bind.
struct SocketAddress {
    private var storage = sockaddr_storage()
    let isIPv6: Bool

    init(host: String, port: UInt16) throws(HTTPServerError) {
        let numeric = host == "localhost" ? "127.0.0.1" : host
        var ipv4 = sockaddr_in()
        var ipv6 = sockaddr_in6()
        if inet_pton(AF_INET, numeric, &ipv4.sin_addr) == 1 {
            ipv4.sin_family = sa_family_t(AF_INET)
            ipv4.sin_port = port.bigEndian
            self.isIPv6 = false
            withUnsafeBytes(of: ipv4) { source in
                withUnsafeMutableBytes(of: &self.storage) { $0.copyMemory(from: source) }
            }
        } else if inet_pton(AF_INET6, numeric.trimmingCharacters(in: ["[", "]"]), &ipv6.sin6_addr) == 1 {
            ipv6.sin6_family = sa_family_t(AF_INET6)
            ipv6.sin6_port = port.bigEndian
            self.isIPv6 = true
            withUnsafeBytes(of: ipv6) { source in
                withUnsafeMutableBytes(of: &self.storage) { $0.copyMemory(from: source) }
            }
        } else {
            throw HTTPServerError("listen host must be an IP address, got '\(host)' (setting 'listen')")
        }
    }

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>) -> Result) -> Result {
        withUnsafeBytes(of: self.storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self))
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in characters: Set<Character>) -> String {
        String(self.drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
