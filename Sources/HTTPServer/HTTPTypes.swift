/// Header fields in arrival order, looked up case-insensitively.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: String)]

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) {
        for field in self.fields {
            hasher.combine(field.name.lowercased())
            hasher.combine(field.value)
        }
    }

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The first value of `name`, ignoring case.
    public subscript(name: String) -> String? {
        self.fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    public mutating func add(_ name: String, _ value: String) { self.fields.append((name, value)) }

    /// Replaces every field named `name` with one holding `value`.
    public mutating func set(_ name: String, _ value: String) {
        self.remove(name)
        self.fields.append((name, value))
    }

    public mutating func remove(_ name: String) {
        self.fields.removeAll { $0.name.caseInsensitiveEquals(name) }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { self.fields.makeIterator() }
}

extension String {
    /// ASCII case-insensitive equality (header names are ASCII), without allocating.
    fileprivate func caseInsensitiveEquals(_ other: String) -> Bool {
        guard self.utf8.count == other.utf8.count else { return false }
        return zip(self.utf8, other.utf8).allSatisfy { a, b in
            a == b || (a | 0x20 == b | 0x20 && (a | 0x20) >= UInt8(ascii: "a") && (a | 0x20) <= UInt8(ascii: "z"))
        }
    }
}

/// A request as the handler sees it: the whole body is read before the handler runs.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query, as sent (not percent-decoded).
    public var path: String
    /// Query parameters, percent-decoded, in order.
    public var query: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// True when the body passed the server's `maxBodyBytes`: `body` is then empty and the
    /// handler should answer 413 in its API's shape.
    public var bodyTooLarge: Bool

    public init(
        method: String,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: HTTPHeaders = [:],
        body: [UInt8] = [],
        bodyTooLarge: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.bodyTooLarge = bodyTooLarge
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        self.query.first { $0.name == name }?.value
    }
}

/// A response: either a complete body or a producer that streams one.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Runs after the status and headers are sent; the body ends when the closure returns.
        /// Sent with chunked transfer encoding.
        case stream(@Sendable (ResponseBodyWriter) async -> Void)
    }

    public var status: Int
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: Int, headers: HTTPHeaders = [:], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Handles every request of an `HTTPServer`.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) async -> HTTPResponse

    /// Called on a server thread once the request head has arrived and before the body is read.
    /// A response returned here is sent once the upload ends, and the body is thrown away as it
    /// arrives instead of being buffered (so a client without credentials cannot make the server
    /// hold a large upload). Must be quick and must not block. The default answers nothing.
    func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse?
}

extension HTTPHandler {
    public func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? { nil }
}

/// The client went away while its response was being written.
public struct ClientGoneError: Error, Sendable, Hashable {
    public init() {}
}
