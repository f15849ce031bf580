import KeyPool

/// Bounds the chat translator enforces before anything goes upstream.
public struct ChatLimits: Sendable, Hashable {
    /// Most messages one request may carry; default 2048.
    public var maxMessages: Int

    /// Limits with the given bounds.
    public init(maxMessages: Int = 2048) {
        self.maxMessages = maxMessages
    }

    /// The shipped limits: 2048 messages.
    public static let `default` = ChatLimits()
}

/// An OpenAI `chat/completions` request translated into a Gemini `generateContent` body.
/// Pure and I/O-free: remote URLs are refused, never fetched. Unknown OpenAI fields are dropped
/// (Gemini answers 400 to names it does not know), never forwarded.
public struct ChatRequest: Sendable, Hashable {
    /// The `model` as the client sent it; the caller validates and normalises it.
    public var model: String
    /// `stream`; false when absent.
    public var isStreaming: Bool
    /// `stream_options.include_usage`; false when absent.
    public var includeUsage: Bool
    /// `n`, 1...8; 1 when absent.
    public var choiceCount: Int
    /// The Gemini `generateContent` request body (`systemInstruction`, `contents`, `tools`,
    /// `toolConfig`, `generationConfig`), lowerCamelCase.
    public var gemini: JSONValue

    /// A translated request with every field given.
    public init(model: String, isStreaming: Bool, includeUsage: Bool, choiceCount: Int, gemini: JSONValue) {
        self.model = model
        self.isStreaming = isStreaming
        self.includeUsage = includeUsage
        self.choiceCount = choiceCount
        self.gemini = gemini
    }

    /// Translates an OpenAI chat request body.
    /// - Throws: `OpenAIError.invalidRequest` (400) naming the offending field in `param`: a body
    ///   that is not a JSON object, a missing `model` or `messages`, too many messages, an unknown
    ///   role, a wrongly typed field or value out of range, a bad tool definition, an image that is
    ///   not valid base64 `data:` URL.
    public static func translate(
        _ body: [UInt8],
        limits: ChatLimits = .default
    ) throws(OpenAIError) -> ChatRequest {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw .invalidRequest("request body is not valid JSON: \(error.description)", param: nil)
        }
        guard document.objectMembers != nil else {
            throw .invalidRequest("request body must be a JSON object, got \(document.typeName)", param: nil)
        }
        guard let model = document["model"]?.stringValue, !model.isEmpty else {
            throw .invalidRequest("'model' must be a non-empty string", param: "model")
        }

        let isStreaming = try Self.flag(document.present("stream"), param: "stream")
        var includeUsage = false
        if let options = document.present("stream_options") {
            guard options.objectMembers != nil else {
                throw .invalidRequest("'stream_options' must be an object", param: "stream_options")
            }
            includeUsage = try Self.flag(options.present("include_usage"), param: "stream_options.include_usage")
        }
        let choiceCount = try Self.integer(document.present("n"), param: "n", in: 1...8) ?? 1

        var messages = ChatMessageTranslator()
        try messages.translate(document["messages"], limits: limits)
        let declarations = try ChatToolTranslator.declarations(document.present("tools"))

        var gemini: [(String, JSONValue)] = []
        if !messages.systemParts.isEmpty {
            gemini.append(("systemInstruction", ["parts": .array(messages.systemParts)]))
        }
        gemini.append(("contents", .array(messages.contents)))
        if declarations.isEmpty, let choice = document.present("tool_choice") {
            // OpenAI refuses a tool choice with no tools, except "none"; so does the relay.
            guard choice.stringValue == "none" || choice.stringValue == "auto" else {
                throw .invalidRequest("'tool_choice' needs 'tools' to choose from", param: "tool_choice")
            }
        }
        if !declarations.isEmpty {
            gemini.append(("tools", [["functionDeclarations": .array(declarations)]]))
            let names = declarations.compactMap { $0["name"]?.stringValue }
            if let config = try ChatToolTranslator.toolConfig(document.present("tool_choice"), names: names) {
                gemini.append(("toolConfig", config))
            }
        }
        let generation = try Self.generationConfig(document, choiceCount: choiceCount)
        if !generation.isEmpty {
            gemini.append(("generationConfig", .object(generation)))
        }
        return ChatRequest(
            model: model,
            isStreaming: isStreaming,
            includeUsage: includeUsage,
            choiceCount: choiceCount,
            gemini: .object(gemini)
        )
    }

    /// Budgets for `reasoning_effort`, as Google's own OpenAI-compatible endpoint maps them.
    /// `minimal` (an OpenAI value) gets the low budget: 0 would fail on models that cannot stop thinking.
    static let thinkingBudgets: [String: Int] = [
        "none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576,
    ]

    /// The `generationConfig` members, in a fixed order; empty when the request sets none.
    private static func generationConfig(
        _ document: JSONValue,
        choiceCount: Int
    ) throws(OpenAIError) -> [(String, JSONValue)] {
        var config: [(String, JSONValue)] = []
        if let value = try Self.number(document.present("temperature"), param: "temperature", in: 0...2) {
            config.append(("temperature", value))
        }
        if let value = try Self.number(document.present("top_p"), param: "top_p", in: 0...1) {
            config.append(("topP", value))
        }
        // max_completion_tokens replaced max_tokens in OpenAI's API; either is accepted, the newer wins.
        let maxParam = document.present("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens"
        if let value = try Self.integer(document.present(maxParam), param: maxParam, in: 1...Int.max) {
            config.append(("maxOutputTokens", JSONValue(value)))
        }
        if let stops = try Self.stopSequences(document.present("stop")) {
            config.append(("stopSequences", .array(stops.map(JSONValue.string))))
        }
        if choiceCount > 1 {
            config.append(("candidateCount", JSONValue(choiceCount)))
        }
        if let seed = try Self.integer(document.present("seed"), param: "seed", in: Int.min...Int.max) {
            config.append(("seed", JSONValue(seed)))
        }
        if let value = try Self.number(document.present("presence_penalty"), param: "presence_penalty", in: -2...2) {
            config.append(("presencePenalty", value))
        }
        if let value = try Self.number(document.present("frequency_penalty"), param: "frequency_penalty", in: -2...2) {
            config.append(("frequencyPenalty", value))
        }
        config.append(contentsOf: try Self.responseFormat(document.present("response_format")))

        if let effort = document.present("reasoning_effort") {
            guard let name = effort.stringValue, let budget = Self.thinkingBudgets[name] else {
                throw .invalidRequest(
                    "'reasoning_effort' must be one of none, minimal, low, medium, high",
                    param: "reasoning_effort"
                )
            }
            config.append(("thinkingConfig", ["thinkingBudget": JSONValue(budget)]))
        }
        return config
    }

    private static func stopSequences(_ value: JSONValue?) throws(OpenAIError) -> [String]? {
        guard let value else { return nil }
        if let single = value.stringValue { return [single] }
        guard let items = value.arrayValue, items.count <= 5 else {
            throw .invalidRequest("'stop' must be a string or a list of at most 5 strings", param: "stop")
        }
        var stops: [String] = []
        for item in items {
            guard let text = item.stringValue else {
                throw .invalidRequest("'stop' must be a string or a list of at most 5 strings", param: "stop")
            }
            stops.append(text)
        }
        return stops.isEmpty ? nil : stops
    }

    private static func responseFormat(_ value: JSONValue?) throws(OpenAIError) -> [(String, JSONValue)] {
        guard let value else { return [] }
        switch value["type"]?.stringValue {
        case "text":
            return []
        case "json_object":
            return [("responseMimeType", "application/json")]
        case "json_schema":
            guard let schema = value["json_schema"]?["schema"], schema.objectMembers != nil else {
                throw .invalidRequest(
                    "'response_format.json_schema.schema' must be a JSON schema object",
                    param: "response_format.json_schema.schema"
                )
            }
            // responseJsonSchema takes JSON Schema as written, so no cleaning is needed here.
            return [("responseMimeType", "application/json"), ("responseJsonSchema", schema)]
        default:
            throw .invalidRequest(
                "'response_format.type' must be one of text, json_object, json_schema",
                param: "response_format.type"
            )
        }
    }

    // MARK: - Field checks

    static func flag(_ value: JSONValue?, param: String) throws(OpenAIError) -> Bool {
        guard let value else { return false }
        guard let flag = value.boolValue else {
            throw .invalidRequest("'\(param)' must be a boolean, got \(value.typeName)", param: param)
        }
        return flag
    }

    static func integer(_ value: JSONValue?, param: String, in range: ClosedRange<Int>) throws(OpenAIError) -> Int? {
        guard let value else { return nil }
        guard let int = value.intValue, range.contains(int) else {
            let bound =
                range.upperBound == Int.max
                ? (range.lowerBound == Int.min ? "an integer" : "an integer ≥ \(range.lowerBound)")
                : "an integer in \(range.lowerBound)...\(range.upperBound)"
            throw .invalidRequest("'\(param)' must be \(bound)", param: param)
        }
        return int
    }

    /// The number as sent (its source text kept), after checking it lies in `range`.
    static func number(_ value: JSONValue?, param: String, in range: ClosedRange<Double>) throws(OpenAIError)
        -> JSONValue?
    {
        guard let value else { return nil }
        guard let double = value.doubleValue, range.contains(double) else {
            let low = Self.format(range.lowerBound)
            let high = Self.format(range.upperBound)
            throw .invalidRequest("'\(param)' must be a number in \(low)...\(high)", param: param)
        }
        return value
    }

    private static func format(_ value: Double) -> String {
        value.rounded() == value ? String(Int(value)) : String(value)
    }
}
