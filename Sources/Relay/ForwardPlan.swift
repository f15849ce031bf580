import HTTPServer
import KeyPool

/// Everything about one client request that stays the same across attempts: where it goes, what
/// it costs and under which usage row it counts. Built (and the body checked) before any key is
/// reserved, so bad input changes nothing.
struct ForwardPlan: Sendable {
    /// The settings in force when the request arrived; every attempt of it uses these.
    var settings: Settings
    /// Scrubs the secrets of those settings from upstream errors.
    var scrubber: SecretScrubber
    var kind: KeyKind
    var httpMethod: String
    /// Upstream URL without a key (keys travel only in `x-goog-api-key`).
    var url: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The model as requested and its quota model (the longest matching prefix of the table).
    var model: ModelName?
    var quotaModel: String
    var limits: Limits
    var cost: Int
    /// Whether the call spends request quota: reserved, counted and recorded.
    var isMetered: Bool
    var isStreaming: Bool
    /// `alt=sse`: the stream is server-sent events, not a streamed JSON array.
    var isSSE: Bool
    var paidUse: PaidUse
    /// Limits of the paid key for this model (from `paid_tier`), when a paid key may serve it.
    var paidLimits: Limits?

    /// Request headers passed upstream; everything else (cookies, the client's credentials,
    /// `accept-encoding`, which would hide `usageMetadata` in a compressed body) stays behind.
    static let forwardedRequestHeaders: Set<String> = [
        "content-type", "accept", "user-agent", "x-goog-api-client", "x-server-timeout",
    ]

    /// Query parameters never passed upstream: the client's own credential.
    static let strippedQueryParameters: Set<String> = ["key"]

    init(route: Route, request: HTTPRequest, settings: Settings, scrubber: SecretScrubber) throws(APIError) {
        self.settings = settings
        self.scrubber = scrubber
        let base = settings.upstream.baseURL
        self.kind = .gemini
        self.headers = request.headers.filter { Self.forwardedRequestHeaders.contains($0.name.lowercased()) }
        self.isSSE = request.queryValue("alt") == "sse"
        self.paidUse = .never
        self.paidLimits = nil
        let query = Self.forwardedQuery(request.query)

        switch route {
        case .listModels(let version):
            self.httpMethod = "GET"
            self.url = "\(base)/\(version)/models\(query)"
            self.body = []
            self.model = nil
            self.quotaModel = "models.list"
            self.limits = .unlimited
            self.cost = 1
            self.isMetered = false
            self.isStreaming = false

        case .getModel(let version, let model):
            self.httpMethod = "GET"
            self.url = "\(base)/\(version)/models/\(model.value)\(query)"
            self.body = []
            self.model = model
            self.quotaModel = "models.get"
            self.limits = .unlimited
            self.cost = 1
            self.isMetered = false
            self.isStreaming = false

        case .generate(let version, let model, let method):
            guard String(validating: request.body, as: UTF8.self) != nil else {
                throw APIError.invalidArgument("request body is not valid UTF-8")
            }
            let document: JSONValue
            do {
                document = try JSONValue.parse(request.body)
            } catch {
                throw APIError.invalidArgument("request body is not valid JSON (\(error))")
            }
            guard document.objectMembers != nil else {
                throw APIError.invalidArgument("request body must be a JSON object")
            }
            let resolved = settings.modelLimits(for: .gemini).resolve(model)
            self.httpMethod = "POST"
            self.url = "\(base)/\(version)/models/\(model.value):\(method.rawValue)\(query)"
            self.body = request.body
            self.model = model
            // countTokens has its own quota at Google: rows paused by a generate 429 must not block it.
            self.quotaModel = method.isMetered ? resolved.quotaModel : "countTokens"
            self.limits = resolved.limits
            self.cost = RequestCost.of(method: method.rawValue, body: document)
            self.isMetered = method.isMetered
            self.isStreaming = method.isStreaming
            self.paidUse = Self.paidUse(for: model, settings: settings)
            if self.paidUse != .never {
                self.paidLimits = settings.paidModelLimits.resolve(model).limits
            }
            if self.headers.first(where: { $0.name.lowercased() == "content-type" }) == nil {
                self.headers.append(("Content-Type", "application/json"))
            }

        default:
            preconditionFailure("not a forwarded route: \(route)")
        }
    }

    static func paidUse(for model: ModelName, settings: Settings) -> PaidUse {
        guard settings.keys.paid != nil else { return .never }
        if settings.pool.paidModels.contains(where: { model.value.hasPrefix($0) }) { return .preferred }
        return settings.pool.paidFallback ? .fallback : .never
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
