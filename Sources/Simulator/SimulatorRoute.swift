import Foundation

/// A model method the simulator serves.
enum ModelMethod: String, Sendable, CaseIterable {
    case generateContent
    case streamGenerateContent
    case countTokens
    case embedContent
    case batchEmbedContents

    /// The methods Vertex AI Express serves.
    static let vertexMethods: Set<ModelMethod> = [.generateContent, .streamGenerateContent, .countTokens]

    /// The quota family this method is charged to, or nil when it is not quota-counted here.
    var quotaFamily: QuotaFamily? {
        switch self {
        case .generateContent, .streamGenerateContent: .generate
        case .embedContent, .batchEmbedContents: .embed
        case .countTokens: nil
        }
    }
}

/// A simulator control endpoint under `/simulator/`.
enum ControlEndpoint: Sendable, Hashable {
    case stats
    case reset
    case lastRequest
    case lastRequestBody
    case getFaults
    case setFaults
}

/// An endpoint of Gemini's OpenAI-compatible surface under `/v1beta/openai/`.
enum OpenAIEndpoint: Sendable, Hashable {
    /// `POST chat/completions`
    case chatCompletions
    /// `POST embeddings`
    case embeddings
    /// `GET models`
    case listModels
    /// `GET models/{id}` (the id may itself start with `models/`).
    case getModel(String)

    /// The RPC name quoted in logs and 401 metadata.
    var rpcName: String {
        switch self {
        case .chatCompletions: "ChatCompletions"
        case .embeddings: "Embeddings"
        case .listModels: "ListModels"
        case .getModel: "GetModel"
        }
    }
}

/// Where a request goes: the Gemini API (`/v1beta`, `/v1`, `/v1alpha`), Vertex AI Express
/// (`/v1beta1|v1/publishers/google/models/…`) or a control endpoint. Unknown paths match nothing,
/// and Google answers those with an empty 404.
struct SimulatorRoute: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case listModels
        case getModel(String)
        case model(String, ModelMethod)
        case control(ControlEndpoint)
        case openAI(OpenAIEndpoint)
    }

    var kind: Kind
    /// The API version segment (`v1beta`, `v1`, `v1beta1` …).
    var version: String
    /// True on Vertex AI Express paths.
    var isVertex: Bool

    private static let geminiVersions: Set<String> = ["v1beta", "v1", "v1alpha"]
    private static let vertexVersions: Set<String> = ["v1beta1", "v1"]

    init?(method: String, path rawPath: String) {
        // Some clients percent-encode the ':' before the method name.
        let path = rawPath.removingPercentEncoding ?? rawPath
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard let first = segments.first, path.hasPrefix("/") else { return nil }

        if first == "simulator" {
            guard let endpoint = Self.control(method: method, segments: Array(segments.dropFirst())) else { return nil }
            self.init(kind: .control(endpoint), version: "", isVertex: false)
            return
        }

        let rest = Array(segments.dropFirst())
        if first == "v1beta", rest.first == "openai" {
            guard let endpoint = Self.openAI(method: method, segments: Array(rest.dropFirst())) else { return nil }
            self.init(kind: .openAI(endpoint), version: first, isVertex: false)
            return
        }
        if Self.vertexVersions.contains(first), rest.count == 4, rest[0] == "publishers", rest[1] == "google",
            rest[2] == "models"
        {
            guard method == "POST", let (model, modelMethod) = Self.split(rest[3]),
                ModelMethod.vertexMethods.contains(modelMethod)
            else { return nil }
            self.init(kind: .model(model, modelMethod), version: first, isVertex: true)
            return
        }

        guard Self.geminiVersions.contains(first), rest.first == "models" else { return nil }
        switch (method, rest.count) {
        case ("GET", 1):
            self.init(kind: .listModels, version: first, isVertex: false)
        case ("GET", 2) where !rest[1].isEmpty && !rest[1].contains(":"):
            self.init(kind: .getModel(rest[1]), version: first, isVertex: false)
        case ("POST", 2):
            guard let (model, modelMethod) = Self.split(rest[1]) else { return nil }
            self.init(kind: .model(model, modelMethod), version: first, isVertex: false)
        default:
            return nil
        }
    }

    private init(kind: Kind, version: String, isVertex: Bool) {
        self.kind = kind
        self.version = version
        self.isVertex = isVertex
    }

    /// `gemini-2.5-flash:generateContent` → ("gemini-2.5-flash", .generateContent).
    private static func split(_ segment: String) -> (String, ModelMethod)? {
        guard let colon = segment.lastIndex(of: ":"),
            let method = ModelMethod(rawValue: String(segment[segment.index(after: colon)...]))
        else { return nil }
        return (String(segment[..<colon]), method)
    }

    private static func openAI(method: String, segments: [String]) -> OpenAIEndpoint? {
        switch (method, segments) {
        case ("POST", ["chat", "completions"]): return .chatCompletions
        case ("POST", ["embeddings"]): return .embeddings
        case ("GET", ["models"]): return .listModels
        case ("GET", let parts) where parts.count >= 2 && parts[0] == "models":
            let id = parts.dropFirst().joined(separator: "/")
            return id.isEmpty ? nil : .getModel(id)
        default: return nil
        }
    }

    private static func control(method: String, segments: [String]) -> ControlEndpoint? {
        switch (method, segments) {
        case ("GET", ["stats"]): .stats
        case ("POST", ["reset"]): .reset
        case ("GET", ["last-request"]): .lastRequest
        case ("GET", ["last-request", "body"]): .lastRequestBody
        case ("GET", ["faults"]): .getFaults
        case ("POST", ["faults"]): .setFaults
        default: nil
        }
    }
}
