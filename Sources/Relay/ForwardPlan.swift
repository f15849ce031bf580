import Foundation
import HTTPServer
import KeyPool

/// Everything about one client request that stays the same across attempts: where it goes, what
/// it costs, under which usage row it counts, and how the answer is shaped for the client. Built
/// (and the body checked and translated) before any key is reserved, so bad input changes nothing.
struct ForwardPlan: Sendable {
    /// How a successful answer reaches the client.
    enum Adapter: Sendable {
        /// Bytes unchanged (Gemini, Vertex, and Gemini's own OpenAI endpoint).
        case passthrough
        /// Gemini `generateContent` → OpenAI `chat.completion` (or chunks when streaming).
        case openAIChat(model: String, id: String, created: Int, includeUsage: Bool)
        /// Gemini `batchEmbedContents` → OpenAI embeddings list (floats, or base64 as the SDK asks).
        case openAIEmbeddings(model: String, encoding: EmbeddingEncoding)
        /// Gemini model list → OpenAI model list.
        case openAIModels
    }

    /// Where the key goes: Gemini and Vertex take `x-goog-api-key`; Gemini's OpenAI endpoint a
    /// bearer token. Never the URL.
    enum KeyPlacement: Sendable {
        case googleHeader
        case bearer
    }

    /// The settings in force when the request arrived; every attempt of it uses these.
    var settings: Settings
    /// Scrubs the secrets of those settings from upstream errors.
    var scrubber: SecretScrubber
    var kind: KeyKind
    var httpMethod: String
    /// Upstream URL, never with a key in it.
    var url: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var keyPlacement = KeyPlacement.googleHeader
    /// The quota model (longest matching prefix of the table) the usage row is counted under.
    var quotaModel: String
    var limits: Limits
    var cost = 1
    /// Whether the call spends request quota: reserved, counted and recorded.
    var isMetered: Bool
    var isStreaming = false
    /// The stream is server-sent events, not a streamed JSON array.
    var isSSE: Bool
    /// Usage in the answer is OpenAI's `usage` (Gemini's OpenAI endpoint), not `usageMetadata`.
    var reportsOpenAIUsage = false
    var paidUse = PaidUse.never
    /// Limits of the paid key for this model (from `paid_tier`), when a paid key may serve it.
    var paidLimits: Limits? = nil
    var adapter = Adapter.passthrough
    var errorShape: ErrorShape

    /// Request headers passed upstream; everything else (cookies, the client's credentials,
    /// `accept-encoding`, which would hide usage in a compressed body) stays behind.
    static let forwardedRequestHeaders: Set<String> = [
        "content-type", "accept", "user-agent", "x-goog-api-client", "x-server-timeout",
    ]

    /// Query parameters never passed upstream: the client's own credential.
    static let strippedQueryParameters: Set<String> = ["key"]

    init(
        route: Route,
        request: HTTPRequest,
        requestID: String,
        settings: Settings,
        scrubber: SecretScrubber
    ) throws(APIError) {
        self.settings = settings
        self.scrubber = scrubber
        self.kind = .gemini
        self.httpMethod = request.method
        self.url = ""
        self.headers = request.headers.filter { Self.forwardedRequestHeaders.contains($0.name.lowercased()) }
        self.body = []
        self.quotaModel = ""
        self.limits = .unlimited
        self.isMetered = false
        self.isSSE = request.queryValue("alt") == "sse"
        self.errorShape = route.errorShape
        let base = settings.upstream.baseURL
        let query = Self.forwardedQuery(request.query)

        switch route {
        case .listModels(let version):
            self.url = "\(base)/\(version)/models\(query)"
            self.quotaModel = "models.list"

        case .getModel(let version, let model):
            self.url = "\(base)/\(version)/models/\(model.value)\(query)"
            self.quotaModel = "models.get"

        case .generate(let version, let model, let method):
            try self.planModelCall(model: model, method: method, kind: .gemini, body: request.body)
            self.url = "\(base)/\(version)/models/\(model.value):\(method.rawValue)\(query)"

        case .vertex(let model, let method):
            try self.planModelCall(model: model, method: method, kind: .vertex, body: request.body)
            // Vertex Express answers with an API key on v1beta1 whatever the client's version.
            let vertexBase = settings.upstream.vertexBaseURL
            self.url = "\(vertexBase)/v1beta1/publishers/google/models/\(model.value):\(method.rawValue)\(query)"

        case .openAIChat:
            try self.planOpenAIChat(request: request, requestID: requestID)

        case .openAIEmbeddings:
            try self.planOpenAIEmbeddings(request: request)

        case .openAIModels:
            self.httpMethod = "GET"
            self.url = "\(base)/v1beta/models?pageSize=1000"
            self.quotaModel = "models.list"
            self.adapter = .openAIModels

        case .openAIPassthrough(let path):
            try self.planOpenAIPassthrough(path: path, request: request)

        default:
            preconditionFailure("not a forwarded route: \(route)")
        }

        // A model name that is a pool key (pasted by mistake) would end up in usage rows, admin
        // pages, metrics and logs; refuse it before it is stored anywhere.
        if self.scrubber.scrub(self.quotaModel) != self.quotaModel || self.scrubber.scrub(self.url) != self.url {
            throw APIError.invalidArgument("the model name must not be an API key or token", param: "model")
        }
    }

    /// A metered (or `countTokens`) call on one model: body checked, limits and cost resolved.
    mutating func planModelCall(model: ModelName, method: GeminiMethod, kind: KeyKind, body: [UInt8]) throws(APIError) {
        let document = try Self.jsonObject(body)
        let resolved = self.settings.modelLimits(for: kind).resolve(model)
        self.kind = kind
        self.httpMethod = "POST"
        self.body = body
        // countTokens has its own quota at Google: rows paused by a generate 429 must not block it.
        self.quotaModel = method.isMetered ? resolved.quotaModel : "countTokens"
        self.limits = resolved.limits
        self.cost = RequestCost.of(method: method.rawValue, body: document)
        self.isMetered = method.isMetered
        self.isStreaming = method.isStreaming
        if kind == .gemini { self.planPaidKey(model) }
        self.ensureJSONContentType()
    }

    /// The paid key's part in this request, from `paid_key`, `paid_models` and `paid_fallback`.
    mutating func planPaidKey(_ model: ModelName) {
        guard self.settings.keys.paid != nil else { return }
        if self.settings.pool.paidModels.contains(where: { model.value.hasPrefix($0) }) {
            self.paidUse = .preferred
        } else if self.settings.pool.paidFallback {
            self.paidUse = .fallback
        }
        if self.paidUse != .never {
            self.paidLimits = self.settings.paidModelLimits.resolve(model).limits
        }
    }

    mutating func ensureJSONContentType() {
        if !self.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            self.headers.append(("Content-Type", "application/json"))
        }
    }

    /// The body as a JSON object. - Throws: 400 for invalid UTF-8, invalid JSON or another value.
    static func jsonObject(_ body: [UInt8]) throws(APIError) -> JSONValue {
        guard String(validating: body, as: UTF8.self) != nil else {
            throw APIError.invalidArgument("request body is not valid UTF-8")
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw APIError.invalidArgument("request body is not valid JSON (\(error))")
        }
        guard document.objectMembers != nil else {
            throw APIError.invalidArgument("request body must be a JSON object")
        }
        return document
    }

    /// A model name from a request body. - Throws: 400 naming `model`.
    static func modelName(_ text: String?) throws(APIError) -> ModelName {
        guard let text, let model = ModelName(text) else {
            throw APIError.invalidArgument(
                "'model' must be a model name of letters, digits, '.', '_' and '-' (at most 128)",
                param: "model"
            )
        }
        return model
    }

    /// The client's query minus its credential, re-encoded: `?alt=sse&pageSize=2`, or "".
    static func forwardedQuery(_ query: [(name: String, value: String)]) -> String {
        let kept = query.filter { !Self.strippedQueryParameters.contains($0.name) }
        guard !kept.isEmpty else { return "" }
        return "?"
            + kept.map { "\(Self.percentEncoded($0.name))=\(Self.percentEncoded($0.value))" }.joined(separator: "&")
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "$"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
