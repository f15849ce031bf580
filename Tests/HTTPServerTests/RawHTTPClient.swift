import Dispatch
import Foundation
import Glibc

/// What a test client could not do.
struct RawHTTPClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A status line and headers read off the wire.
struct RawResponseHead {
    var status: Int
    var headers: [(name: String, value: String)]

    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var isChunked: Bool { self.header("Transfer-Encoding")?.lowercased() == "chunked" }
}

/// A whole response.
struct RawResponse {
    var head: RawResponseHead
    var body: [UInt8]
    var status: Int { self.head.status }
    var text: String { String(decoding: self.body, as: UTF8.self) }
}

/// An HTTP/1.1 client over one blocking POSIX socket to 127.0.0.1, for controlling keep-alive,
/// partial reads and disconnects exactly. Its blocking calls run on a private serial queue,
/// never on the Swift pool (which the server's handlers need).
final class RawHTTPClient: @unchecked Sendable {
    // `@unchecked Sendable`: `socket` and `buffer` are touched only on `queue`.
    private let socket: Int32
    private var buffer: [UInt8] = []
    private let queue = DispatchQueue(label: "raw-http-client")

    /// Connects to `127.0.0.1:port`. A small `receiveBufferSize` keeps the kernel from
    /// absorbing much of a body the test does not read.
    init(port: UInt16, receiveBufferSize: Int32? = nil) throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPClientError("socket failed") }
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBufferSize {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        guard Self.connect(fd, port: port) else {
            Glibc.close(fd)
            throw RawHTTPClientError("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        self.socket = fd
    }

    deinit { Glibc.close(self.socket) }

    /// True when something accepts TCP connections on `127.0.0.1:port`.
    static func isListening(port: UInt16) -> Bool {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        return Self.connect(fd, port: port)
    }

    private static func connect(_ fd: Int32, port: UInt16) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    // MARK: - Async API

    func send(_ text: String) async throws { try await self.send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await self.run { try $0.sendNow(bytes) }
    }

    /// Sends a request with `Content-Length` (when it has a body) and the given headers.
    func sendRequest(
        _ method: String,
        _ target: String,
        headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try await self.send(Array(head.utf8) + body)
    }

    func readHead() async throws -> RawResponseHead {
        try await self.run { try $0.readHeadNow() }
    }

    /// The next chunk of a chunked body; nil after the last one.
    func readChunk() async throws -> [UInt8]? {
        try await self.run { try $0.readChunkNow() }
    }

    /// A whole response (Content-Length or chunked).
    func readResponse() async throws -> RawResponse {
        try await self.run { client in
            let head = try client.readHeadNow()
            if head.isChunked {
                var body: [UInt8] = []
                while let chunk = try client.readChunkNow() { body += chunk }
                return RawResponse(head: head, body: body)
            }
            let length = Int(head.header("Content-Length") ?? "0") ?? 0
            return RawResponse(head: head, body: try client.readExactlyNow(length))
        }
    }

    /// Reads and drops everything until the server closes the connection; returns the byte count.
    func readUntilClosed() async throws -> Int {
        try await self.run { client in
            var total = client.buffer.count
            client.buffer = []
            var scratch = [UInt8](repeating: 0, count: 256 << 10)
            while true {
                let count = Glibc.recv(client.socket, &scratch, scratch.count, 0)
                if count == 0 { return total }
                guard count > 0 else { throw RawHTTPClientError("recv failed: errno \(errno)") }
                total += count
            }
        }
    }

    /// Closes the socket at once (an abrupt client disconnect).
    func disconnect() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.queue.async {
                Glibc.shutdown(self.socket, Int32(SHUT_RDWR))
                continuation.resume()
            }
        }
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (RawHTTPClient) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.queue.async {
                continuation.resume(with: Result { try body(self) })
            }
        }
    }

    // MARK: - Blocking, on `queue`

    private func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(self.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw RawHTTPClientError("send failed: errno \(errno)") }
            offset += sent
        }
    }

    private func fill() throws {
        var scratch = [UInt8](repeating: 0, count: 64 << 10)
        let count = Glibc.recv(self.socket, &scratch, scratch.count, 0)
        guard count > 0 else { throw RawHTTPClientError(count == 0 ? "connection closed" : "recv errno \(errno)") }
        self.buffer += scratch[..<count]
    }

    private func readLineNow() throws -> String {
        while true {
            if let index = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = self.buffer[..<index]
                self.buffer.removeSubrange(...index)
                return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            try self.fill()
        }
    }

    private func readExactlyNow(_ count: Int) throws -> [UInt8] {
        while self.buffer.count < count { try self.fill() }
        let bytes = Array(self.buffer[..<count])
        self.buffer.removeSubrange(..<count)
        return bytes
    }

    private func readHeadNow() throws -> RawResponseHead {
        let statusLine = try self.readLineNow()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw RawHTTPClientError("bad status line")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try self.readLineNow()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers.append((String(line[..<colon]), value))
        }
        return RawResponseHead(status: status, headers: headers)
    }

    private func readChunkNow() throws -> [UInt8]? {
        let sizeLine = try self.readLineNow()
        guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
            throw RawHTTPClientError("bad chunk size line")
        }
        if size == 0 {
            // Trailers end with an empty line.
            while !(try self.readLineNow()).isEmpty {}
            return nil
        }
        let chunk = try self.readExactlyNow(size)
        _ = try self.readExactlyNow(2)
        return chunk
    }
}
