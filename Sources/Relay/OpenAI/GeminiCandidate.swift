import KeyPool

/// What an OpenAI choice needs from one Gemini candidate (whole, or one stream chunk of it):
/// the answer text (thought parts excluded), the function calls, and the finish reason.
struct GeminiCandidate {
    struct FunctionCall {
        var name: String
        var args: JSONValue
        var id: String?
        var thoughtSignature: String?
    }

    /// The choice index: the candidate's `index`, else its position in the list.
    var index: Int
    /// Non-thought text parts joined; empty when there are none.
    var text: String
    var calls: [FunctionCall]
    /// Gemini's `finishReason`; nil until the candidate ends.
    var finishReason: String?
    var finishMessage: String?

    init(_ candidate: JSONValue, position: Int) {
        self.index = candidate["index"]?.intValue ?? position
        self.text = ""
        self.calls = []
        for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
            if let call = part["functionCall"] {
                self.calls.append(
                    FunctionCall(
                        name: call["name"]?.stringValue ?? "",
                        args: call.present("args") ?? [:],
                        id: call["id"]?.stringValue,
                        thoughtSignature: part["thoughtSignature"]?.stringValue
                    )
                )
            } else if let text = part["text"]?.stringValue, part["thought"]?.boolValue != true {
                self.text += text
            }
        }
        self.finishReason = candidate["finishReason"]?.stringValue
        self.finishMessage = candidate["finishMessage"]?.stringValue
    }

    /// Finish reasons that mean Google's filters stopped the answer.
    static let filterReasons: Set<String> = [
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
    ]

    /// OpenAI's `finish_reason` for a Gemini one. A function-call answer ends with Gemini's STOP,
    /// so `tool_calls` is told apart by whether the choice made calls.
    static func openAIFinishReason(_ reason: String, hasToolCalls: Bool) -> String {
        if reason == "MAX_TOKENS" { return "length" }
        if Self.filterReasons.contains(reason) { return "content_filter" }
        return hasToolCalls ? "tool_calls" : "stop"
    }

    /// The refusal text for a candidate that ended with nothing to show.
    static func emptyRefusal(reason: String?, message: String?) -> String {
        var text = "Gemini returned no content (finish reason \(reason ?? "none"))"
        if let message, !message.isEmpty { text += ": \(message)" }
        return text
    }

    /// The refusal text for a prompt Gemini blocked (`promptFeedback.blockReason`).
    static func blockedRefusal(_ feedback: JSONValue?) -> String {
        let reason = feedback?["blockReason"]?.stringValue ?? "unspecified"
        var text = "Gemini blocked the prompt (block reason \(reason))"
        if let message = feedback?["blockReasonMessage"]?.stringValue, !message.isEmpty { text += ": \(message)" }
        return text
    }

    /// An OpenAI `tool_calls` entry. When Gemini gave the call no id it is named after the
    /// completion (`completionID`, unique per request), the choice and `number` (the choice's
    /// calls counted from 0), so ids never repeat across the turns of a conversation.
    static func toolCall(_ call: FunctionCall, choice: Int, number: Int, completionID: String) -> [(String, JSONValue)]
    {
        let scope =
            completionID.hasPrefix("chatcmpl-") ? String(completionID.dropFirst("chatcmpl-".count)) : completionID
        var entry: [(String, JSONValue)] = [
            ("id", .string(call.id ?? "call_\(scope)_\(choice)_\(number)")),
            ("type", "function"),
            ("function", ["name": .string(call.name), "arguments": .string(call.args.serialized)]),
        ]
        if let signature = call.thoughtSignature {
            entry.append(("extra_content", ["google": ["thought_signature": .string(signature)]]))
        }
        return entry
    }

    /// OpenAI `usage` from Gemini `usageMetadata`: thinking counts as completion, as Google bills it.
    static func usage(_ metadata: JSONValue?) -> JSONValue {
        func count(_ key: String) -> Int { max(0, metadata?[key]?.intValue ?? 0) }
        let prompt = count("promptTokenCount")
        let completion = count("candidatesTokenCount") + count("thoughtsTokenCount")
        let total = metadata?["totalTokenCount"]?.intValue ?? prompt + completion
        var usage: [(String, JSONValue)] = [
            ("prompt_tokens", JSONValue(prompt)),
            ("completion_tokens", JSONValue(completion)),
            ("total_tokens", JSONValue(total)),
            ("completion_tokens_details", ["reasoning_tokens": JSONValue(count("thoughtsTokenCount"))]),
        ]
        if metadata?["cachedContentTokenCount"] != nil {
            usage.append(("prompt_tokens_details", ["cached_tokens": JSONValue(count("cachedContentTokenCount"))]))
        }
        return .object(usage)
    }
}
