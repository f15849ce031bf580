import KeyPool

extension RequestFacts {
    /// Thinking budgets Google maps `reasoning_effort` to (gemini-wire.md §7).
    static let reasoningBudgets: [String: Int] = ["none": 0, "low": 1024, "medium": 8192, "high": 24576]

    /// The facts of a `chat/completions` body: texts of every message (string content or `text`
    /// parts), the last user message, `n`, `max_completion_tokens`/`max_tokens`, the thinking
    /// budget from `reasoning_effort` or `extra_body.google.thinking_config`, and tools.
    static func openAIChat(_ body: JSONValue) -> RequestFacts {
        let messages = body["messages"]?.arrayValue ?? []
        let texts = messages.flatMap(Self.openAITexts)
        let lastUser = messages.last { $0["role"]?.stringValue == "user" }
        let thinking = body["extra_body"]?["google"]?["thinking_config"]
        let budget =
            thinking?["thinking_budget"]?.intValue
            ?? body["reasoning_effort"]?.stringValue.flatMap { Self.reasoningBudgets[$0] }
        return RequestFacts(
            texts: texts,
            lastUserText: lastUser.map { Self.openAITexts($0).joined() } ?? "",
            thinkingBudget: budget,
            maxOutputTokens: (body["max_completion_tokens"] ?? body["max_tokens"])?.intValue,
            batchTokens: [],
            candidateCount: body["n"]?.intValue ?? 1,
            toolAnswer: ToolAnswer.openAI(body)
        )
    }

    /// The facts of an `embeddings` body: one batch entry per `input` string.
    static func openAIEmbeddings(inputs: [String]) -> RequestFacts {
        RequestFacts(
            texts: inputs,
            lastUserText: inputs.last ?? "",
            thinkingBudget: nil,
            maxOutputTokens: nil,
            batchTokens: inputs.map { Self.tokens(characters: $0.count) },
            candidateCount: 1,
            toolAnswer: nil
        )
    }

    private static func openAITexts(_ message: JSONValue) -> [String] {
        if let text = message["content"]?.stringValue { return [text] }
        return (message["content"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
    }
}
