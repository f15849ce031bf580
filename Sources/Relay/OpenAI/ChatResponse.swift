import KeyPool

/// Builds an OpenAI `chat.completion` from a Gemini `generateContent` answer.
public enum ChatResponse {
    /// The OpenAI answer for `gemini`: one choice per candidate, keeping each candidate's `index`.
    /// Thought parts are left out of `content`. A blocked prompt or a candidate with nothing to show
    /// becomes a choice with `finish_reason: "content_filter"`, `content: null` and a `refusal`
    /// naming Gemini's reason, so an empty 200 never passes for a normal answer. A candidate cut
    /// by `MAX_TOKENS` before any output is `finish_reason: "length"` with empty content.
    /// - Parameters:
    ///   - model: echoed as `model`.
    ///   - id: echoed as `id` (`chatcmpl-…`).
    ///   - created: Unix seconds, echoed as `created`.
    public static func translate(gemini: JSONValue, model: String, id: String, created: Int) -> JSONValue {
        let candidates = gemini["candidates"]?.arrayValue ?? []
        var choices: [JSONValue] = []
        for (position, candidate) in candidates.enumerated() {
            choices.append(Self.choice(GeminiCandidate(candidate, position: position), id: id))
        }
        if choices.isEmpty {
            let refusal =
                gemini["promptFeedback"]?["blockReason"] != nil
                ? GeminiCandidate.blockedRefusal(gemini["promptFeedback"])
                : "Gemini returned no candidates"
            choices.append(
                Self.choice(index: 0, content: .null, refusal: refusal, toolCalls: [], finish: "content_filter")
            )
        }
        return [
            "id": .string(id),
            "object": "chat.completion",
            "created": JSONValue(created),
            "model": .string(model),
            "choices": .array(choices),
            "usage": GeminiCandidate.usage(gemini["usageMetadata"]),
        ]
    }

    private static func choice(_ candidate: GeminiCandidate, id: String) -> JSONValue {
        let toolCalls = candidate.calls.enumerated().map { number, call in
            JSONValue.object(GeminiCandidate.toolCall(call, choice: candidate.index, number: number, completionID: id))
        }
        let reason = candidate.finishReason ?? "FINISH_REASON_UNSPECIFIED"
        if candidate.text.isEmpty && toolCalls.isEmpty {
            if reason == "MAX_TOKENS" {
                return Self.choice(index: candidate.index, content: "", refusal: nil, toolCalls: [], finish: "length")
            }
            let refusal = GeminiCandidate.emptyRefusal(reason: candidate.finishReason, message: candidate.finishMessage)
            return Self.choice(
                index: candidate.index,
                content: .null,
                refusal: refusal,
                toolCalls: [],
                finish: "content_filter"
            )
        }
        return Self.choice(
            index: candidate.index,
            content: candidate.text.isEmpty ? .null : .string(candidate.text),
            refusal: nil,
            toolCalls: toolCalls,
            finish: GeminiCandidate.openAIFinishReason(reason, hasToolCalls: !toolCalls.isEmpty)
        )
    }

    private static func choice(
        index: Int,
        content: JSONValue,
        refusal: String?,
        toolCalls: [JSONValue],
        finish: String
    ) -> JSONValue {
        var message: [(String, JSONValue)] = [
            ("role", "assistant"),
            ("content", content),
            ("refusal", refusal.map(JSONValue.string) ?? .null),
        ]
        if !toolCalls.isEmpty {
            message.append(("tool_calls", .array(toolCalls)))
        }
        return [
            "index": JSONValue(index),
            "message": .object(message),
            "finish_reason": .string(finish),
        ]
    }
}
