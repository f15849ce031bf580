import Foundation
import Glibc
import Synchronization

/// A tiny blocking HTTP/1.1 server on 127.0.0.1 for the client tests: one thread accepts, one
/// thread per connection reads requests (Content-Length bodies, keep-alive) and hands each to a
/// scripted handler, which writes whatever bytes the test needs, well-formed or not.
final class TestHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// What the handler wants after answering.
    enum Next: Sendable {
        case keepAlive
        case close
    }

    typealias Handler = @Sendable (Request, Connection) -> Next

    let port: UInt16
    /// TCP connections accepted so far.
    let acceptedConnections = Atomic<Int>(0)
    /// Requests parsed so far, for tests waiting on the server to have seen N requests.
    let requestsSeen = AsyncCounter()
    private let listener: Int32
    private let openSockets = Mutex<Set<Int32>>([])

    init(handler: @escaping Handler) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var port: UInt16 = 0
        guard Self.bindLoopback(listener, port: &port), listen(listener, 128) == 0 else {
            close(listener)
            throw POSIXError(.EADDRINUSE)
        }
        self.listener = listener
        self.port = port

        let thread = Thread { [self] in
            self.acceptLoop(handler: handler)
        }
        thread.name = "test-http-accept"
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(self.port)" }

    /// Stops accepting and unblocks every connection thread.
    func stop() {
        shutdown(self.listener, Int32(SHUT_RDWR))
        self.openSockets.withLock { sockets in
            for socket in sockets { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }

    deinit {
        close(self.listener)
    }

    /// 127.0.0.1:`port` as a socket address.
    static func loopbackAddress(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Binds `fd` to 127.0.0.1 on a free port (or `port` if non-zero) and reads the port back.
    static func bindLoopback(_ fd: Int32, port: inout UInt16) -> Bool {
        var address = Self.loopbackAddress(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { return false }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        return true
    }

    private func acceptLoop(handler: @escaping Handler) {
        while true {
            let fd = accept(self.listener, nil, nil)
            guard fd >= 0 else {
                if errno == EINTR { continue }
                return
            }
            self.acceptedConnections.add(1, ordering: .relaxed)
            self.openSockets.withLock { _ = $0.insert(fd) }
            let connection = Connection(fd: fd)
            let thread = Thread { [self] in
                self.serve(connection, handler: handler)
            }
            thread.name = "test-http-conn"
            thread.start()
        }
    }

    private func serve(_ connection: Connection, handler: Handler) {
        while let request = connection.readRequest() {
            self.requestsSeen.increment()
            if handler(request, connection) == .close { break }
        }
        self.openSockets.withLock { _ = $0.remove(connection.fd) }
        close(connection.fd)
    }

    /// One accepted socket; used by one server thread at a time.
    final class Connection: @unchecked Sendable {
        let fd: Int32
        private var buffer: [UInt8] = []

        init(fd: Int32) {
            self.fd = fd
        }

        /// Writes all bytes; false once the peer is gone.
        @discardableResult
        func write(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes {
                    send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { return false }
                offset += sent
            }
            return true
        }

        @discardableResult
        func write(_ text: String) -> Bool {
            self.write(Array(text.utf8))
        }

        /// A complete response with a Content-Length.
        @discardableResult
        func respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) -> Bool {
            var head = "HTTP/1.1 \(status) Status\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            head += "Content-Length: \(body.count)\r\n\r\n"
            return self.write(Array(head.utf8) + body)
        }

        /// A 200 head announcing a chunked body.
        @discardableResult
        func writeChunkedHead(status: Int = 200) -> Bool {
            self.write("HTTP/1.1 \(status) OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        }

        @discardableResult
        func writeChunk(_ text: String) -> Bool {
            self.write(String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n")
        }

        @discardableResult
        func endChunks() -> Bool {
            self.write("0\r\n\r\n")
        }

        /// Blocks until the peer closes the connection (or the server stops).
        func waitForClose() {
            var scratch = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = scratch.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
            }
        }

        /// The next request on this connection, or nil when the peer closed it.
        func readRequest() -> Request? {
            guard let headEnd = self.fill(until: { $0.firstRange(of: [13, 10, 13, 10]) }) else { return nil }
            let headText = String(decoding: self.buffer[..<headEnd.lowerBound], as: UTF8.self)
            self.buffer.removeSubrange(..<headEnd.upperBound)

            var lines = headText.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count >= 2 else { return nil }
            var headers: [(name: String, value: String)] = []
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                headers.append((name: String(line[..<colon]), value: value))
            }
            var request = Request(
                method: String(requestLine[0]),
                path: String(requestLine[1]),
                headers: headers,
                body: []
            )

            let length = Int(request.header("content-length") ?? "0") ?? 0
            guard self.fill(until: { $0.count >= length ? length : nil }) != nil else { return nil }
            request.body = Array(self.buffer[..<length])
            self.buffer.removeSubrange(..<length)
            return request
        }

        /// Reads until `found` returns a value for the buffer; nil if the peer closed first.
        private func fill<T>(until found: ([UInt8]) -> T?) -> T? {
            var scratch = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let value = found(self.buffer) { return value }
                let count = scratch.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return nil }
                self.buffer.append(contentsOf: scratch[..<count])
            }
        }
    }
}

/// A count that async tests can wait on.
final class AsyncCounter: Sendable {
    private struct State {
        var value = 0
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var value: Int { self.state.withLock { $0.value } }

    func increment() {
        let ready = self.state.withLock { state in
            state.value += 1
            let value = state.value
            let ready = state.waiters.filter { $0.target <= value }.map(\.continuation)
            state.waiters.removeAll { $0.target <= value }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once the count is at least `target`.
    func wait(for target: Int) async {
        await withCheckedContinuation { continuation in
            let isReady = self.state.withLock { state in
                if state.value >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if isReady { continuation.resume() }
        }
    }
}

/// A one-shot signal from the test to a blocked server thread.
final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let opened = Atomic<Bool>(false)

    func open() {
        if !self.opened.exchange(true, ordering: .sequentiallyConsistent) {
            self.semaphore.signal()
        }
    }

    /// Blocks the calling (server) thread until opened; false if `timeout` passed first.
    func wait(timeout: DispatchTimeInterval = .seconds(10)) -> Bool {
        self.semaphore.wait(timeout: .now() + timeout) == .success
    }
}
