import KeyPool

/// Re-frames a Gemini SSE stream as OpenAI `chat.completion.chunk` events, one Gemini event at a
/// time. Each returned frame is complete (`data: {json}\n\n`), so the caller can write it as is.
/// The first chunk of each choice carries `delta.role: "assistant"`; each tool call gets a stable
/// id and a per-choice index and is sent whole (Gemini never splits a call across chunks).
public struct ChatStreamTranslator: Sendable {
    private struct ChoiceState: Sendable {
        var hasSentRole = false
        var callCount = 0
        var hasOutput = false
        var isFinished = false
    }

    private let model: String
    private let id: String
    private let created: Int
    private let includeUsage: Bool
    private var choices: [Int: ChoiceState] = [:]
    /// The last `usageMetadata` seen: Gemini repeats running totals, so the last one is the call's.
    private var lastUsage: JSONValue?

    /// A translator for one stream.
    /// - Parameters:
    ///   - model: echoed as `model` on every chunk.
    ///   - id: echoed as `id` on every chunk (`chatcmpl-…`).
    ///   - created: Unix seconds, echoed as `created`.
    ///   - includeUsage: `stream_options.include_usage`; when true, `finish()` sends a usage chunk.
    public init(model: String, id: String, created: Int, includeUsage: Bool) {
        self.model = model
        self.id = id
        self.created = created
        self.includeUsage = includeUsage
    }

    /// The OpenAI frames for one Gemini SSE event (its parsed `data:` JSON); empty when the event
    /// holds nothing a client sees (thought parts only, usage only). An `{"error":…}` event
    /// becomes `errorFrame`. A blocked prompt, or a choice ending with no output, yields a chunk
    /// with `finish_reason: "content_filter"` and a `delta.refusal` naming Gemini's reason.
    public mutating func translate(event: JSONValue) -> [[UInt8]] {
        if let error = event.present("error") {
            return [self.errorFrame(message: error["message"]?.stringValue ?? "the upstream stream failed")]
        }
        if let usage = event.present("usageMetadata") {
            self.lastUsage = usage
        }
        let candidates = event["candidates"]?.arrayValue ?? []
        if candidates.isEmpty, let feedback = event["promptFeedback"], feedback["blockReason"] != nil {
            guard self.choices[0]?.isFinished != true else { return [] }
            var delta = self.roleDelta(choice: 0)
            delta.append(("content", .null))
            delta.append(("refusal", .string(GeminiCandidate.blockedRefusal(feedback))))
            self.choices[0, default: ChoiceState()].isFinished = true
            return [self.chunk(choice: 0, delta: delta, finish: "content_filter")]
        }

        var frames: [[UInt8]] = []
        for (position, raw) in candidates.enumerated() {
            let candidate = GeminiCandidate(raw, position: position)
            if let frame = self.frame(for: candidate) {
                frames.append(frame)
            }
        }
        return frames
    }

    /// The closing frames: the usage chunk (`choices: []`, counts from the last `usageMetadata`)
    /// when `includeUsage`, then `data: [DONE]`.
    public mutating func finish() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        if self.includeUsage {
            frames.append(
                Self.frame([
                    "id": .string(self.id),
                    "object": "chat.completion.chunk",
                    "created": JSONValue(self.created),
                    "model": .string(self.model),
                    "choices": [],
                    "usage": GeminiCandidate.usage(self.lastUsage),
                ])
            )
        }
        frames.append(Array("data: [DONE]\n\n".utf8))
        return frames
    }

    /// A frame telling the client the stream failed after it started:
    /// `data: {"error":{"message":…,"type":"api_error","param":null,"code":null}}`.
    public func errorFrame(message: String) -> [UInt8] {
        Self.frame(OpenAIError(status: 502, type: "api_error", message: message).json)
    }

    private mutating func frame(for candidate: GeminiCandidate) -> [UInt8]? {
        let index = candidate.index
        guard self.choices[index]?.isFinished != true else { return nil }
        var delta = self.roleDelta(choice: index)
        var state = self.choices[index] ?? ChoiceState()

        if !candidate.text.isEmpty {
            delta.append(("content", .string(candidate.text)))
            state.hasOutput = true
        }
        if !candidate.calls.isEmpty {
            var calls: [JSONValue] = []
            for call in candidate.calls {
                let entry = GeminiCandidate.toolCall(
                    call,
                    choice: index,
                    number: state.callCount,
                    completionID: self.id
                )
                calls.append(.object([("index", JSONValue(state.callCount))] + entry))
                state.callCount += 1
            }
            delta.append(("tool_calls", .array(calls)))
            state.hasOutput = true
        }

        var finish: String? = nil
        if let reason = candidate.finishReason {
            state.isFinished = true
            if state.hasOutput {
                finish = GeminiCandidate.openAIFinishReason(reason, hasToolCalls: state.callCount > 0)
            } else if reason == "MAX_TOKENS" {
                finish = "length"
            } else {
                finish = "content_filter"
                delta.append(("content", .null))
                let refusal = GeminiCandidate.emptyRefusal(reason: reason, message: candidate.finishMessage)
                delta.append(("refusal", .string(refusal)))
            }
        }
        // A chunk holding only the role (say, an empty text part with a thought signature) waits:
        // the role goes out with the first chunk that carries something.
        let hasContent = delta.contains { $0.0 != "role" }
        guard hasContent || finish != nil else { return nil }
        state.hasSentRole = true
        self.choices[index] = state
        return self.chunk(choice: index, delta: delta, finish: finish)
    }

    /// `delta` members to start with: the role, if this choice has not sent it yet.
    private func roleDelta(choice: Int) -> [(String, JSONValue)] {
        self.choices[choice]?.hasSentRole == true ? [] : [("role", "assistant")]
    }

    private func chunk(choice: Int, delta: [(String, JSONValue)], finish: String?) -> [UInt8] {
        Self.frame([
            "id": .string(self.id),
            "object": "chat.completion.chunk",
            "created": JSONValue(self.created),
            "model": .string(self.model),
            "choices": [
                [
                    "index": JSONValue(choice),
                    "delta": .object(delta),
                    "finish_reason": finish.map(JSONValue.string) ?? .null,
                ]
            ],
        ])
    }

    private static func frame(_ json: JSONValue) -> [UInt8] {
        Array("data: \(json.serialized)\n\n".utf8)
    }
}
