import Foundation
import HTTPServer
import KeyPool

extension GeminiSimulator {
    /// Serves `/v1beta/openai/…` for a configured, unsuspended key. Calls are counted in the same
    /// ledger as native ones (per key and model); errors are Google's, wrapped in a one-element list.
    func serveOpenAI(_ endpoint: OpenAIEndpoint, request: HTTPRequest, keyIndex: Int) -> SimulatorResponse {
        switch endpoint {
        case .listModels:
            let data = Self.catalogue.map { Self.openAIModel($0.id) }
            return Self.json(OpenAIAnswer.sorted(["data": .array(data), "object": "list"]))
        case .getModel(let id):
            guard let name = ModelName(id), !name.value.lowercased().contains("notfound") else {
                return Self.openAIError(.modelNotFound(model: id, version: "v1beta", method: "get", isVertex: false))
            }
            return Self.json(Self.openAIModel(name.value))
        case .chatCompletions:
            return self.chatCompletions(request, keyIndex: keyIndex)
        case .embeddings:
            return self.openAIEmbeddings(request, keyIndex: keyIndex)
        }
    }

    private static func openAIModel(_ id: String) -> JSONValue {
        ["id": .string("models/" + id), "object": "model", "owned_by": "google"]
    }

    /// The body as a JSON object and its model, or the wrapped 400/404 that refuses it.
    private func openAIBody(
        _ request: HTTPRequest,
        requiring member: String,
        method: String
    ) -> Result<(JSONValue, ModelName), GoogleError> {
        guard !request.bodyTooLarge else { return .failure(.payloadTooLarge()) }
        guard let body = try? JSONValue.parse(request.body), body.objectMembers != nil else {
            return .failure(.invalidJSON())
        }
        guard let rawModel = body["model"]?.stringValue, body[member] != nil, body[member]?.isNull == false else {
            return .failure(.invalidArgument())
        }
        guard let name = ModelName(rawModel), !name.value.lowercased().contains("notfound") else {
            let shown = ModelName(rawModel)?.value ?? rawModel
            return .failure(.modelNotFound(model: shown, version: "v1beta", method: method, isVertex: false))
        }
        return .success((body, name))
    }

    /// `POST chat/completions`, counted as a generateContent call of the body's model.
    private func chatCompletions(_ request: HTTPRequest, keyIndex: Int) -> SimulatorResponse {
        let body: JSONValue
        let name: ModelName
        switch self.openAIBody(request, requiring: "messages", method: "generateContent") {
        case .failure(let error): return Self.openAIError(error)
        case .success(let parsed): (body, name) = parsed
        }
        guard let messages = body["messages"]?.arrayValue, !messages.isEmpty else {
            return Self.openAIError(.invalidArgument())
        }
        let facts = RequestFacts.openAIChat(body)
        if facts.markers.contains(.invalidArgument) { return Self.openAIError(.invalidArgument()) }

        let now = self.clock.now()
        var answer = GenerateAnswer(
            facts: facts,
            model: name.value,
            responseID: "",
            isVertex: false,
            createTime: Self.timestamp(now)
        )
        switch self.admitCall(
            method: .generateContent,
            keyIndex: keyIndex,
            model: name,
            facts: facts,
            answer: answer,
            now: now
        ) {
        case .failure(let error): return Self.openAIError(error)
        case .success(let responseID): answer.responseID = responseID
        }

        let rendered = OpenAIAnswer(answer: answer, created: Int(now.timeIntervalSince1970.rounded(.down)))
        guard body["stream"]?.boolValue == true else { return Self.json(rendered.completion()) }
        let isDropped = facts.markers.contains(.streamDrop)
        let plan = StreamPlan(
            format: .openAIEvents,
            events: rendered.streamEvents(
                count: self.options.chunkCount,
                failAfterFirst: facts.markers.contains(.streamError),
                dropAfterFirst: isDropped
            ),
            chunkDelay: self.options.chunkDelay,
            isCutShort: isDropped || facts.markers.contains(.streamError),
            splitPause: facts.markers.contains(.sseSplit) ? Self.sseSplitPause : nil
        )
        return SimulatorResponse(
            status: 200,
            headers: Self.googleHeaders(contentType: "text/event-stream"),
            body: .stream(plan)
        )
    }

    /// `POST embeddings`: `input` a string or a list of strings, each counted as one embed unit.
    private func openAIEmbeddings(_ request: HTTPRequest, keyIndex: Int) -> SimulatorResponse {
        let body: JSONValue
        let name: ModelName
        switch self.openAIBody(request, requiring: "input", method: "embedContent") {
        case .failure(let error): return Self.openAIError(error)
        case .success(let parsed): (body, name) = parsed
        }
        let inputs: [String]
        if let single = body["input"]?.stringValue {
            inputs = [single]
        } else if let list = body["input"]?.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) {
            inputs = list.compactMap(\.stringValue)
        } else {
            return Self.openAIError(.invalidArgument())
        }

        let facts = RequestFacts.openAIEmbeddings(inputs: inputs)
        if facts.markers.contains(.invalidArgument) { return Self.openAIError(.invalidArgument()) }
        let now = self.clock.now()
        let answer = GenerateAnswer(facts: facts, model: name.value, responseID: "", isVertex: false, createTime: "")
        if case .failure(let error) = self.admitCall(
            method: .batchEmbedContents,
            keyIndex: keyIndex,
            model: name,
            facts: facts,
            answer: answer,
            now: now
        ) {
            return Self.openAIError(error)
        }

        let dimensions = body["dimensions"]
        let data: [JSONValue] = inputs.enumerated().map { index, input in
            var native: JSONValue = ["content": ["parts": [["text": .string(input)]]]]
            if let dimensions { native = native.setting("outputDimensionality", to: dimensions) }
            let values = Self.embedding(for: native)["values"] ?? []
            return ["embedding": values, "index": JSONValue(index), "object": "embedding"]
        }
        let tokens = facts.batchTokens.reduce(0, +)
        return Self.json(
            OpenAIAnswer.sorted([
                "data": .array(data), "model": .string("models/" + name.value), "object": "list",
                "usage": ["prompt_tokens": JSONValue(tokens), "total_tokens": JSONValue(tokens)],
            ])
        )
    }
}
