import Foundation
import HTTPServer
import KeyPool
import Logging
import Synchronization

/// A Gemini-compatible upstream for demos, tests and benchmarks: serves the Gemini API, its
/// OpenAI-compatible endpoint and Vertex AI Express paths, enforces per-key limits in fixed
/// UTC-minute windows and Pacific days, answers with Google's bodies, and exposes control
/// endpoints under `/simulator/`.
/// Thread-safe: all mutable state sits behind one Mutex. Never logs a key.
public final class GeminiSimulator: HTTPHandler {
    let options: SimulatorOptions
    let clock: any WallClock
    let logger: Logger?
    let limits: ModelLimits
    let tier: QuotaTierName
    /// `options.keys` then `options.vertexKeys`; a key index points into this list.
    let allKeys: [APIKey]
    let geminiKeyIndexes: [APIKey: Int]
    let vertexKeyIndexes: [APIKey: Int]
    let state: Mutex<SimulatorState>

    /// Request headers whose values `/simulator/last-request` reports (never credentials).
    static let reportedHeaders = [
        "content-type", "content-length", "content-encoding", "accept", "accept-encoding", "user-agent",
        "x-goog-api-client", "x-server-timeout",
    ]

    /// A simulator for `options`.
    /// - Parameters:
    ///   - clock: the source of "now" for quota windows and `createTime`. Default the system clock.
    ///   - logger: receives one debug line per answered model request (fingerprints only). Default none.
    public init(options: SimulatorOptions, clock: any WallClock = SystemClock(), logger: Logger? = nil) {
        self.options = options
        self.clock = clock
        self.logger = logger
        self.limits = options.modelLimits
        self.tier = options.rateLimits == nil ? .free : QuotaTierName(tableTier: options.quotaTier)
        self.allKeys = options.keys + options.vertexKeys
        self.geminiKeyIndexes = Dictionary(
            options.keys.enumerated().map { ($1, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        self.vertexKeyIndexes = Dictionary(
            options.vertexKeys.enumerated().map { ($1, options.keys.count + $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var random = SystemRandomNumberGenerator()
        let seed = options.seed ?? random.next()
        self.state = Mutex(SimulatorState(errorRate: options.errorRate, errorStatus: options.errorStatus, seed: seed))
    }

    /// Answers one request: a Gemini API or Vertex call, a control endpoint, or an empty 404.
    /// Streams are sent chunk by chunk and end early, quietly, when the client goes away.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let response = await self.respond(request)
        switch response.body {
        case .bytes(let bytes):
            return HTTPResponse(status: response.status, headers: response.headers, body: .bytes(bytes))
        case .stream(let plan):
            return HTTPResponse(
                status: response.status,
                headers: response.headers,
                body: .stream { writer in
                    // A client that went away ends the stream; there is nothing left to tell it.
                    try? await plan.write { bytes in try await writer.write(bytes) }
                }
            )
        }
    }

    /// The answer before it is handed to the server; tests read streamed bytes from its plan.
    func respond(_ request: HTTPRequest) async -> SimulatorResponse {
        guard let route = SimulatorRoute(method: request.method, path: request.path) else {
            self.state.withLock { state in
                state.requestsTotal += 1
                state.isKeyInURLSeen = state.isKeyInURLSeen || request.queryValue("key") != nil
            }
            // Google answers an unknown path with an empty 404.
            return SimulatorResponse(status: 404, headers: Self.googleHeaders(contentType: "text/html; charset=UTF-8"))
        }
        if case .control(let endpoint) = route.kind {
            return self.control(endpoint, request: request)
        }

        let response = self.answer(request, route: route)
        if self.options.latency > .zero {
            try? await Task.sleep(for: self.options.latency)
        }
        return response
    }

    /// Checks the key, then serves the route.
    private func answer(_ request: HTTPRequest, route: SimulatorRoute) -> SimulatorResponse {
        var openAIEndpoint: OpenAIEndpoint?
        if case .openAI(let endpoint) = route.kind { openAIEndpoint = endpoint }
        let headerKey = request.headers["x-goog-api-key"].flatMap { $0.isEmpty ? nil : $0 }
        let queryKey = request.queryValue("key").flatMap { $0.isEmpty ? nil : $0 }
        let bearerKey = openAIEndpoint == nil ? nil : Self.bearerToken(request)
        let rawKey = bearerKey ?? headerKey ?? queryKey
        let keyIndex = rawKey.flatMap { APIKey($0) }.flatMap { self.keyIndex(of: $0, isVertex: route.isVertex) }

        self.state.withLock { state in
            state.requestsTotal += 1
            state.isKeyInURLSeen = state.isKeyInURLSeen || request.queryValue("key") != nil
            if rawKey != nil && keyIndex == nil { state.unknownKeyRequests += 1 }
            if request.method == "POST" {
                state.lastRequest = Self.record(
                    request,
                    headerKey: headerKey,
                    queryKey: queryKey,
                    bearerKey: bearerKey,
                    keyIndex: keyIndex
                )
            }
        }

        // The OpenAI-compatible endpoint wraps Google's error in a one-element list.
        let isOpenAI = openAIEndpoint != nil
        let failure = { (error: GoogleError) -> SimulatorResponse in
            isOpenAI ? Self.openAIError(error) : Self.error(error)
        }
        guard let rawKey else {
            if openAIEndpoint == nil, request.headers["authorization"] != nil {
                return Self.error(.unauthenticated(isVertex: route.isVertex, method: Self.rpcName(route)))
            }
            return failure(.unregisteredCaller())
        }
        guard let keyIndex else { return failure(.apiKeyInvalid(rawKey: rawKey, isVertex: route.isVertex)) }
        let key = self.allKeys[keyIndex]
        if self.options.suspendedKeys.contains(key) {
            return failure(.consumerSuspended(rawKey: rawKey, isVertex: route.isVertex))
        }

        switch route.kind {
        case .listModels:
            return self.listModels(request)
        case .getModel(let name):
            return self.getModel(name, version: route.version)
        case .model(let model, let method):
            let response = self.serveModel(request, route: route, model: model, method: method, keyIndex: keyIndex)
            self.logAnswer(key: key, model: model, method: method.rawValue, status: response.status)
            return response
        case .openAI(let endpoint):
            let response = self.serveOpenAI(endpoint, request: request, keyIndex: keyIndex)
            self.logAnswer(key: key, model: "openai", method: endpoint.rpcName, status: response.status)
            return response
        case .control:
            preconditionFailure("control endpoints are served before key checks")
        }
    }

    /// The index of `key` among the keys the surface accepts: Vertex keys on Vertex paths (or
    /// `keys` when no Vertex keys are configured), `keys` everywhere else.
    func keyIndex(of key: APIKey, isVertex: Bool) -> Int? {
        if isVertex && !self.options.vertexKeys.isEmpty { return self.vertexKeyIndexes[key] }
        return self.geminiKeyIndexes[key]
    }

    /// The token of `Authorization: Bearer <token>`, nil when absent or empty.
    private static func bearerToken(_ request: HTTPRequest) -> String? {
        guard let value = request.headers["authorization"] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    private func logAnswer(key: APIKey, model: String, method: String, status: Int) {
        self.logger?.debug(
            "simulated request answered",
            [
                "key.fingerprint": key.fingerprint.description, "model": String(model.prefix(128)),
                "method": method, "upstream.status": String(status),
            ]
        )
    }

    private static func record(
        _ request: HTTPRequest,
        headerKey: String?,
        queryKey: String?,
        bearerKey: String?,
        keyIndex: Int?
    ) -> RecordedRequest {
        let names = request.headers.map { $0.name.lowercased() }
        let selected = Self.reportedHeaders.compactMap { name in request.headers[name].map { (name: name, value: $0) } }
        let source =
            switch (bearerKey != nil, headerKey != nil, queryKey != nil) {
            case (true, _, _): "bearer"
            case (false, true, true): "both"
            case (false, true, false): "header"
            case (false, false, true): "query"
            case (false, false, false): "none"
            }
        return RecordedRequest(
            method: request.method,
            path: request.path,
            query: request.query.filter { $0.name != "key" },
            headerNames: names,
            selectedHeaders: selected,
            keySource: source,
            keyIndex: keyIndex,
            body: request.body
        )
    }

    /// The RPC name Google quotes in 401 metadata, e.g. `GenerateContent`.
    private static func rpcName(_ route: SimulatorRoute) -> String {
        switch route.kind {
        case .listModels: "ListModels"
        case .getModel: "GetModel"
        case .model(_, let method): method.rawValue.prefix(1).uppercased() + method.rawValue.dropFirst()
        case .control: "Control"
        case .openAI(let endpoint): endpoint.rpcName
        }
    }

    // MARK: - Response helpers

    /// Headers Google's front end sends on every answer.
    static func googleHeaders(contentType: String = "application/json; charset=UTF-8") -> HTTPHeaders {
        HTTPHeaders([
            ("content-type", contentType), ("vary", "Origin"), ("vary", "X-Origin"), ("vary", "Referer"),
            ("server", "scaffolding on HTTPServer2"), ("x-xss-protection", "0"), ("x-frame-options", "SAMEORIGIN"),
            ("x-content-type-options", "nosniff"),
        ])
    }

    static func json(_ value: JSONValue, status: Int = 200) -> SimulatorResponse {
        SimulatorResponse(status: status, headers: Self.googleHeaders(), body: .bytes(GoogleJSON.prettyBody(value)))
    }

    static func error(_ error: GoogleError) -> SimulatorResponse {
        Self.json(error.body, status: error.status)
    }

    /// Google's error as the OpenAI-compatible endpoint sends it: the same body in a one-element list.
    static func openAIError(_ error: GoogleError) -> SimulatorResponse {
        Self.json(.array([error.body]), status: error.status)
    }
}

/// An answer before it becomes an `HTTPResponse`: a complete body or a stream plan.
struct SimulatorResponse: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        case stream(StreamPlan)
    }

    var status: Int
    var headers: HTTPHeaders
    var body: Body = .bytes([])

    /// The complete body, or every frame of a stream joined.
    var allBytes: [UInt8] {
        switch self.body {
        case .bytes(let bytes): bytes
        case .stream(let plan): plan.frames().flatMap { $0 }
        }
    }
}
