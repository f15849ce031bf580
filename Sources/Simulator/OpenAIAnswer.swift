import KeyPool

/// A `GenerateAnswer` as Gemini's OpenAI-compatible endpoint renders it: a `chat.completion`, or
/// `chat.completion.chunk` events. Members are sorted alphabetically at every level, as Google
/// sends them; usage rides on the last content chunk; a tool call's `arguments` string is split
/// over several chunks with `id`, `type` and `name` only on the first.
struct OpenAIAnswer: Sendable {
    var answer: GenerateAnswer
    /// `created`, seconds since 1970.
    var created: Int

    /// Fewest chunks a streamed tool call's `arguments` are spread over (when long enough).
    static let minimumArgumentChunks = 3

    /// `models/gemini-2.5-flash`: the model as the non-stream body echoes it.
    var prefixedModel: String { "models/" + self.answer.model }

    /// The tool call id of candidate `index`, e.g. `call_Q2x…`.
    func callID(_ index: Int) -> String {
        "call_" + self.answer.responseID + (index > 0 ? "_\(index)" : "")
    }

    /// The answer's outcome, a blocked prompt counting as a safety stop.
    private var outcome: GenerateAnswer.Outcome { self.answer.isBlocked ? .safety : self.answer.outcome }

    /// `stop`, `tool_calls`, `length` (MAX_TOKENS) or `content_filter` (SAFETY, blocked prompt).
    var finishReason: String {
        switch self.outcome {
        case .functionCall: return "tool_calls"
        case .safety: return "content_filter"
        case .thoughtsExhausted: return "length"
        case .text: return self.answer.finishReason == "MAX_TOKENS" ? "length" : "stop"
        }
    }

    /// `total_tokens` includes thought tokens that `completion_tokens` leaves out, as Google's does.
    var usage: JSONValue {
        [
            "completion_tokens": JSONValue(self.answer.candidatesTokens),
            "prompt_tokens": JSONValue(self.answer.promptTokens),
            "total_tokens": JSONValue(self.answer.totalTokens),
        ]
    }

    /// The non-stream `chat.completion` body.
    func completion() -> JSONValue {
        let choices: [JSONValue] = (0..<self.answer.candidateCount).map { index in
            var message: [(String, JSONValue)] = [("role", "assistant")]
            switch self.outcome {
            case .text:
                message.append(("content", .string(self.answer.texts[index])))
            case .functionCall(let name, let args):
                message.append(("tool_calls", [self.toolCall(index, name: name, arguments: args.serialized)]))
            case .safety, .thoughtsExhausted:
                break
            }
            return [
                "finish_reason": .string(self.finishReason), "index": JSONValue(index), "message": .object(message),
            ]
        }
        return Self.sorted([
            "choices": .array(choices), "created": JSONValue(self.created), "id": .string(self.answer.responseID),
            "model": .string(self.prefixedModel), "object": "chat.completion", "usage": self.usage,
        ])
    }

    /// The `chat.completion.chunk` payloads: text deltas of every choice over `count` chunks, a
    /// tool call over at least `minimumArgumentChunks`, or one content-less stop.
    /// - Parameters:
    ///   - failAfterFirst: the first chunk, then Google's INTERNAL error object.
    ///   - dropAfterFirst: the first chunk only.
    func streamEvents(count: Int, failAfterFirst: Bool, dropAfterFirst: Bool = false) -> [JSONValue] {
        let cutsShort = failAfterFirst || dropAfterFirst
        let choiceCount = self.answer.candidateCount
        var deltas: [[JSONValue]]
        switch self.outcome {
        case .text:
            let pieceCount = cutsShort ? max(2, count) : count
            let pieces = self.answer.texts.map { GenerateAnswer.split($0, into: pieceCount) }
            deltas = (0..<pieceCount).map { offset in
                (0..<choiceCount).map { ["content": .string(pieces[$0][offset]), "role": "assistant"] }
            }
        case .functionCall(let name, let args):
            let pieces = Self.split(args.serialized, into: max(Self.minimumArgumentChunks, count))
            deltas = pieces.enumerated().map { offset, piece in
                (0..<choiceCount).map { index in
                    let call =
                        offset == 0
                        ? self.toolCall(index, name: name, arguments: piece).setting("index", to: 0)
                        : ["function": ["arguments": .string(piece)], "index": 0]
                    return ["role": "assistant", "tool_calls": [call]]
                }
            }
        case .safety, .thoughtsExhausted:
            deltas = [Array(repeating: ["role": "assistant"], count: choiceCount)]
        }

        var events: [JSONValue] = []
        for (offset, chunkDeltas) in deltas.enumerated() {
            let isLast = offset == deltas.count - 1 && !(cutsShort && deltas.count > 1)
            events.append(self.chunk(chunkDeltas, isLast: isLast))
            if cutsShort { break }
        }
        if failAfterFirst { events.append(GoogleError.internalError().body) }
        return events
    }

    private func chunk(_ deltas: [JSONValue], isLast: Bool) -> JSONValue {
        let choices: [JSONValue] = deltas.enumerated().map { index, delta in
            var choice: [(String, JSONValue)] = [("delta", delta), ("index", JSONValue(index))]
            if isLast { choice.append(("finish_reason", .string(self.finishReason))) }
            return .object(choice)
        }
        // Streams echo the bare model id, unlike the non-stream body (gemini-wire.md §7).
        var members: [(String, JSONValue)] = [
            ("choices", .array(choices)), ("created", JSONValue(self.created)),
            ("id", .string(self.answer.responseID)), ("model", .string(self.answer.model)),
            ("object", "chat.completion.chunk"),
        ]
        if isLast { members.append(("usage", self.usage)) }
        return Self.sorted(.object(members))
    }

    private func toolCall(_ index: Int, name: String, arguments: String) -> JSONValue {
        [
            "function": ["arguments": .string(arguments), "name": .string(name)], "id": .string(self.callID(index)),
            "type": "function",
        ]
    }

    /// `text` in up to `count` non-empty consecutive pieces (fewer when it is shorter).
    static func split(_ text: String, into count: Int) -> [String] {
        let characters = Array(text)
        let pieces = max(1, min(count, characters.count))
        return (0..<pieces).map { index in
            String(characters[index * characters.count / pieces..<(index + 1) * characters.count / pieces])
        }
    }

    /// `value` with the members of every object in alphabetical order.
    static func sorted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.map { ($0.0, Self.sorted($0.1)) }.sorted { $0.0 < $1.0 })
        case .array(let items):
            return .array(items.map(Self.sorted))
        default:
            return value
        }
    }
}
