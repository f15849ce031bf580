import KeyPool

/// Where a request goes, decided from its method and path alone (DESIGN.md §7).
enum Route: Sendable, Equatable {
    /// `GET {prefix}/{version}/models`.
    case listModels(version: String)
    /// `GET {prefix}/{version}/models/{model}`.
    case getModel(version: String, model: ModelName)
    /// `POST {prefix}/{version}/models/{model}:{method}`.
    case generate(version: String, model: ModelName, method: GeminiMethod)
    /// Vertex AI Express: `/vertex-express/{v1,v1beta1}/publishers/google/models/{model}:{method}`
    /// and gemini-balance's `/vertex-express/v1beta/models/{model}:{method}`.
    case vertex(model: ModelName, method: GeminiMethod)
    /// `POST /v1/chat/completions`, translated to Gemini.
    case openAIChat
    /// `POST /v1/embeddings`, translated to `batchEmbedContents`.
    case openAIEmbeddings
    /// `GET /v1/models` from an OpenAI client.
    case openAIModels
    /// `/openai/v1/{path}`, forwarded as is to Gemini's OpenAI-compatible endpoint.
    case openAIPassthrough(path: String)
    /// Files and cached contents: answered 501 until key affinity exists.
    case notImplemented(feature: String)
    case health
    case livez
    /// `GET /keys`, `/keys.js`, `/keys.css`: the key-status page, open (its script asks for the admin token).
    case keyPage(KeyPage.Asset)
    /// `GET /metrics`: Prometheus text, open unless `metrics_token` is set.
    case metrics
    /// `/admin/…`, answered with the admin token.
    case admin(AdminRoute)
    /// A known path with the wrong method; `allowed` goes in the `Allow` header.
    case methodNotAllowed(allowed: String)
    /// A model name that failed validation.
    case invalidModel
    case unknownMethod(String)
    case notFound

    /// API versions the Gemini routes accept; the relay keeps the client's version upstream.
    static let versions: Set<String> = ["v1beta", "v1", "v1alpha"]

    /// - Parameter isGeminiClient: the request carries its token the Gemini way (`x-goog-api-key`
    ///   or `?key=`); only `GET /v1/models` differs by it (Gemini's list, else OpenAI's).
    init(method: String, path: String, isGeminiClient: Bool = false) {
        switch path {
        case "/health": self = method == "GET" || method == "HEAD" ? .health : .methodNotAllowed(allowed: "GET")
        case "/livez": self = method == "GET" || method == "HEAD" ? .livez : .methodNotAllowed(allowed: "GET")
        case let page where KeyPage.Asset(rawValue: page) != nil:
            let asset = KeyPage.Asset(rawValue: page) ?? .html
            self = method == "GET" || method == "HEAD" ? .keyPage(asset) : .methodNotAllowed(allowed: "GET")
        case "/metrics": self = method == "GET" ? .metrics : .methodNotAllowed(allowed: "GET")
        case "/v1/chat/completions": self = method == "POST" ? .openAIChat : .methodNotAllowed(allowed: "POST")
        case "/v1/embeddings": self = method == "POST" ? .openAIEmbeddings : .methodNotAllowed(allowed: "POST")
        case "/v1/models" where !isGeminiClient:
            self = method == "GET" ? .openAIModels : .methodNotAllowed(allowed: "GET")
        default:
            if path == "/admin" || path.hasPrefix("/admin/") {
                self = AdminRoute.route(method: method, path: path)
            } else if path.hasPrefix("/openai/v1/") {
                self = Route.openAI(method: method, rest: String(path.dropFirst("/openai/v1/".count)))
            } else if path.hasPrefix("/vertex-express/") {
                self = Route.vertex(method: method, path: path)
            } else {
                self = Route.gemini(method: method, path: path)
            }
        }
    }

    /// The paths of Gemini's OpenAI-compatible endpoint the relay forwards.
    private static func openAI(method: String, rest: String) -> Route {
        switch rest {
        case "chat/completions", "embeddings":
            return method == "POST" ? .openAIPassthrough(path: rest) : .methodNotAllowed(allowed: "POST")
        case "models":
            return method == "GET" ? .openAIPassthrough(path: rest) : .methodNotAllowed(allowed: "GET")
        default:
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "models" else { return .notFound }
            guard ModelName(String(parts[1])) != nil else { return .invalidModel }
            return method == "GET" ? .openAIPassthrough(path: rest) : .methodNotAllowed(allowed: "GET")
        }
    }

    private static func vertex(method: String, path: String) -> Route {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).map(String.init)
        let target: String
        switch segments.count {
        case 5
        where ["v1", "v1beta1"].contains(segments[0]) && segments[1] == "publishers" && segments[2] == "google"
            && segments[3] == "models":
            target = segments[4]
        case 3 where segments[0] == "v1beta" && segments[1] == "models":
            target = segments[2]
        default:
            return .notFound
        }
        guard let colon = target.firstIndex(of: ":") else { return .notFound }
        guard let model = ModelName(String(target[..<colon])) else { return .invalidModel }
        let name = String(target[target.index(after: colon)...])
        guard let vertexMethod = GeminiMethod(rawValue: name), vertexMethod.isVertexExpress else {
            return .unknownMethod(name)
        }
        return method == "POST" ? .vertex(model: model, method: vertexMethod) : .methodNotAllowed(allowed: "POST")
    }

    /// Paths only OpenAI clients use: even an unknown one there (`/v1/completions`) or a wrong
    /// method gets an error in OpenAI's shape.
    static func isOpenAIPath(_ path: String) -> Bool {
        path.hasPrefix("/openai/") || ["/v1/chat/completions", "/v1/embeddings", "/v1/completions"].contains(path)
            || path.hasPrefix("/v1/chat/") || path.hasPrefix("/v1/completions/")
    }

    /// How errors on this route are shaped: OpenAI's on the OpenAI routes, Google's elsewhere.
    var errorShape: ErrorShape {
        switch self {
        case .openAIChat, .openAIEmbeddings, .openAIModels, .openAIPassthrough: .openAI
        default: .google
        }
    }

    private static func gemini(method: String, path: String) -> Route {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        if segments.first == "gemini" { segments.removeFirst() }
        if segments.first == "upload" { return .notImplemented(feature: "file uploads") }
        guard let version = segments.first, Route.versions.contains(version), segments.count >= 2 else {
            return .notFound
        }
        let rest = Array(segments.dropFirst())

        switch rest[0] {
        case "files": return .notImplemented(feature: "files")
        case "cachedContents": return .notImplemented(feature: "cached contents")
        case "models": break
        default: return .notFound
        }

        if rest.count == 1 {
            return method == "GET" ? .listModels(version: version) : .methodNotAllowed(allowed: "GET")
        }
        guard rest.count == 2 else { return .notFound }

        let target = rest[1]
        if let colon = target.firstIndex(of: ":") {
            guard let model = ModelName(String(target[..<colon])) else { return .invalidModel }
            let name = String(target[target.index(after: colon)...])
            guard let geminiMethod = GeminiMethod(rawValue: name) else { return .unknownMethod(name) }
            return method == "POST"
                ? .generate(version: version, model: model, method: geminiMethod) : .methodNotAllowed(allowed: "POST")
        }
        guard let model = ModelName(target) else { return .invalidModel }
        return method == "GET" ? .getModel(version: version, model: model) : .methodNotAllowed(allowed: "GET")
    }
}

/// The Gemini model methods the relay forwards.
enum GeminiMethod: String, Sendable, Equatable {
    case generateContent
    case streamGenerateContent
    case countTokens
    case embedContent
    case batchEmbedContents

    /// Whether a call spends the key's request quota (and so is reserved and counted).
    /// `countTokens` has its own, separate quota at Google and produces no usage.
    var isMetered: Bool { self != .countTokens }

    var isStreaming: Bool { self == .streamGenerateContent }

    /// The methods Vertex AI Express offers with an API key.
    var isVertexExpress: Bool { [.generateContent, .streamGenerateContent, .countTokens].contains(self) }
}

/// The JSON shape errors take on a route (DESIGN.md §7).
enum ErrorShape: Sendable, Equatable {
    /// `{"error":{"code","message","status"}}` — Gemini, Vertex and admin routes.
    case google
    /// `{"error":{"message","type","code"}}` — OpenAI routes.
    case openAI
}
