import Foundation
import HTTPServer
import KeyPool

extension ForwardPlan {
    /// `POST /v1/chat/completions`: translated to `generateContent` or `streamGenerateContent`.
    mutating func planOpenAIChat(request: HTTPRequest, requestID: String) throws(APIError) {
        let chat: ChatRequest
        do {
            chat = try ChatRequest.translate(request.body)
        } catch {
            throw APIError.from(error)
        }
        let model = try Self.modelName(chat.model)
        let resolved = self.settings.modelLimits(for: .gemini).resolve(model)
        let method = chat.isStreaming ? "streamGenerateContent?alt=sse" : "generateContent"
        self.httpMethod = "POST"
        self.url = "\(self.settings.upstream.baseURL)/v1beta/models/\(model.value):\(method)"
        self.headers = [("Content-Type", "application/json")]
        self.body = chat.gemini.serializedBytes
        self.quotaModel = resolved.quotaModel
        self.limits = resolved.limits
        self.isMetered = true
        self.isStreaming = chat.isStreaming
        self.isSSE = true
        self.planPaidKey(model)
        self.adapter = .openAIChat(
            model: chat.model,
            id: "chatcmpl-" + requestID,
            created: Int(Date().timeIntervalSince1970),
            includeUsage: chat.includeUsage
        )
    }

    /// `POST /v1/embeddings`: translated to `batchEmbedContents`, one unit of quota per text.
    mutating func planOpenAIEmbeddings(request: HTTPRequest) throws(APIError) {
        let translated: EmbeddingsRequest
        do {
            translated = try EmbeddingsRequest.parse(request.body)
        } catch {
            throw APIError.from(error)
        }
        let model = try Self.modelName(translated.model)
        let resolved = self.settings.modelLimits(for: .gemini).resolve(model)
        self.httpMethod = "POST"
        self.url = "\(self.settings.upstream.baseURL)/v1beta/models/\(model.value):batchEmbedContents"
        self.headers = [("Content-Type", "application/json")]
        self.body = translated.gemini.serializedBytes
        self.quotaModel = resolved.quotaModel
        self.limits = resolved.limits
        self.cost = max(1, translated.count)
        self.isMetered = true
        self.adapter = .openAIEmbeddings(model: translated.model, encoding: translated.encoding)
    }

    /// `/openai/v1/{path}`: forwarded as is to Gemini's OpenAI-compatible endpoint with a pool
    /// key as the bearer token; the model (for limits) is read from the body.
    mutating func planOpenAIPassthrough(path: String, request: HTTPRequest) throws(APIError) {
        self.url = "\(self.settings.upstream.baseURL)/v1beta/openai/\(path)"
        self.keyPlacement = .bearer
        self.reportsOpenAIUsage = true
        guard request.method == "POST" else {
            self.httpMethod = "GET"
            self.quotaModel = "models.list"
            return
        }
        let document = try Self.jsonObject(request.body)
        let name = document["model"]?.stringValue
        let model = try Self.modelName(name)
        let resolved = self.settings.modelLimits(for: .gemini).resolve(model)
        self.httpMethod = "POST"
        self.body = request.body
        self.quotaModel = resolved.quotaModel
        self.limits = resolved.limits
        self.cost = RequestCost.of(method: path == "embeddings" ? "embeddings" : "chat", body: document)
        self.isMetered = true
        self.isStreaming = document["stream"]?.boolValue == true
        self.isSSE = true
        self.planPaidKey(model)
        self.ensureJSONContentType()
    }
}

extension ForwardPlan.Adapter {
    /// Whether a successful body must be parsed to be answered.
    var needsDocument: Bool {
        if case .passthrough = self { return false }
        return true
    }

    /// The client's body for a successful (non-streamed) upstream answer; nil to pass it unchanged.
    func adapt(_ document: JSONValue?) -> JSONValue? {
        guard let document else { return nil }
        switch self {
        case .passthrough:
            return nil
        case .openAIChat(let model, let id, let created, _):
            return ChatResponse.translate(gemini: document, model: model, id: id, created: created)
        case .openAIEmbeddings(let model, let encoding):
            return EmbeddingsResponse.translate(gemini: document, model: model, encoding: encoding)
        case .openAIModels:
            return ModelList.translate(gemini: document)
        }
    }
}
