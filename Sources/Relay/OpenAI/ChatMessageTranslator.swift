import KeyPool

/// Turns OpenAI `messages` into Gemini `systemInstruction` parts and `contents` turns.
/// System and developer messages go to the system instruction in order; user, assistant and
/// tool messages become `user`/`model` turns, consecutive same-role turns merged (Gemini wants
/// the function responses answering one model turn together in the next user turn).
struct ChatMessageTranslator {
    /// `systemInstruction.parts`, one text part per system or developer text, in order.
    private(set) var systemParts: [JSONValue] = []
    private var turns: [(role: String, parts: [JSONValue])] = []
    /// Tool call id → function name, from assistant messages seen so far; a later call with the
    /// same id wins, so ids reused across turns resolve to the nearest earlier call.
    private var callNames: [String: String] = [:]

    /// `contents`: `{"role","parts"}` turns.
    var contents: [JSONValue] {
        self.turns.map { ["role": .string($0.role), "parts": .array($0.parts)] }
    }

    mutating func translate(_ messages: JSONValue?, limits: ChatLimits) throws(OpenAIError) {
        guard let messages, let items = messages.arrayValue else {
            throw .invalidRequest("'messages' must be an array of messages", param: "messages")
        }
        guard !items.isEmpty else {
            throw .invalidRequest("'messages' must contain at least one message", param: "messages")
        }
        guard items.count <= limits.maxMessages else {
            throw .invalidRequest(
                "'messages' holds \(items.count) messages; at most \(limits.maxMessages) are accepted",
                param: "messages"
            )
        }
        for (index, message) in items.enumerated() {
            try self.add(message, param: "messages[\(index)]")
        }
        guard !self.turns.isEmpty else {
            throw .invalidRequest(
                "'messages' must contain at least one user, assistant or tool message",
                param: "messages"
            )
        }
    }

    private mutating func add(_ message: JSONValue, param: String) throws(OpenAIError) {
        guard message.objectMembers != nil else {
            throw .invalidRequest("'\(param)' must be an object, got \(message.typeName)", param: param)
        }
        guard let role = message["role"]?.stringValue else {
            throw .invalidRequest("'\(param).role' must be a string", param: "\(param).role")
        }
        let content = message.present("content")
        let contentParam = "\(param).content"

        switch role {
        case "system", "developer":
            guard let content else {
                throw .invalidRequest("'\(contentParam)' is required for a \(role) message", param: contentParam)
            }
            for text in try ChatContentParts.texts(content, param: contentParam, allowRefusal: false)
            where !text.isEmpty {
                self.systemParts.append(["text": .string(text)])
            }

        case "user":
            guard let content else {
                throw .invalidRequest("'\(contentParam)' is required for a user message", param: contentParam)
            }
            self.append(role: "user", parts: try ChatContentParts.userParts(content, param: contentParam))

        case "assistant":
            var parts: [JSONValue] = []
            if let content {
                // Clients send `"content": ""` beside tool calls; Gemini refuses empty text parts.
                for text in try ChatContentParts.texts(content, param: contentParam, allowRefusal: true)
                where !text.isEmpty {
                    parts.append(["text": .string(text)])
                }
            }
            parts.append(contentsOf: try self.functionCalls(message.present("tool_calls"), param: param))
            self.append(role: "model", parts: parts)

        case "tool":
            guard let callID = message["tool_call_id"]?.stringValue else {
                throw .invalidRequest("'\(param).tool_call_id' must be a string", param: "\(param).tool_call_id")
            }
            guard let name = self.callNames[callID] ?? message["name"]?.stringValue else {
                throw .invalidRequest(
                    "'\(param).tool_call_id' matches no tool call of an earlier assistant message",
                    param: "\(param).tool_call_id"
                )
            }
            let response = try Self.functionResponse(content, param: contentParam)
            let part: JSONValue = [
                "functionResponse": ["id": .string(callID), "name": .string(name), "response": response]
            ]
            self.append(role: "user", parts: [part])

        case "function":
            // The legacy single-function form: the message names the function itself.
            guard let name = message["name"]?.stringValue, !name.isEmpty else {
                throw .invalidRequest("'\(param).name' must name the function", param: "\(param).name")
            }
            let response = try Self.functionResponse(content, param: contentParam)
            self.append(role: "user", parts: [["functionResponse": ["name": .string(name), "response": response]]])

        default:
            throw .invalidRequest(
                "'\(param).role' must be one of system, developer, user, assistant, tool",
                param: "\(param).role"
            )
        }
    }

    /// `functionCall` parts for an assistant message's `tool_calls`, remembering each id's name.
    private mutating func functionCalls(_ toolCalls: JSONValue?, param: String) throws(OpenAIError) -> [JSONValue] {
        guard let toolCalls else { return [] }
        guard let calls = toolCalls.arrayValue else {
            throw .invalidRequest("'\(param).tool_calls' must be an array", param: "\(param).tool_calls")
        }
        var parts: [JSONValue] = []
        for (offset, call) in calls.enumerated() {
            let callParam = "\(param).tool_calls[\(offset)]"
            guard let function = call["function"], let name = function["name"]?.stringValue, !name.isEmpty else {
                throw .invalidRequest("'\(callParam).function.name' must be a string", param: "\(callParam).function")
            }
            let args = try Self.arguments(function.present("arguments"), param: "\(callParam).function.arguments")
            var functionCall: [(String, JSONValue)] = [("name", .string(name)), ("args", args)]
            if let id = call["id"]?.stringValue {
                functionCall.append(("id", .string(id)))
                self.callNames[id] = name
            }
            var part: [(String, JSONValue)] = [("functionCall", .object(functionCall))]
            // Gemini 3 wants its thought signature back on the call; Google's own OpenAI endpoint
            // carries it in extra_content, and so do our responses.
            if let signature = call["extra_content"]?["google"]?["thought_signature"]?.stringValue {
                part.append(("thoughtSignature", .string(signature)))
            }
            parts.append(.object(part))
        }
        return parts
    }

    /// A call's `arguments` JSON text parsed to the object Gemini's `args` needs.
    private static func arguments(_ value: JSONValue?, param: String) throws(OpenAIError) -> JSONValue {
        guard let value else { return [:] }
        guard let text = value.stringValue else {
            throw .invalidRequest("'\(param)' must be a string of JSON", param: param)
        }
        if text.allSatisfy(\.isWhitespace) { return [:] }
        guard let args = try? JSONValue.parse(text), args.objectMembers != nil else {
            throw .invalidRequest("'\(param)' must be a JSON object encoded as a string", param: param)
        }
        return args
    }

    /// A tool result as Gemini's `response` object: the content itself when it is a JSON object,
    /// else `{"content": text}`.
    private static func functionResponse(_ content: JSONValue?, param: String) throws(OpenAIError) -> JSONValue {
        let text = try ChatContentParts.texts(content ?? "", param: param, allowRefusal: false).joined()
        if let parsed = try? JSONValue.parse(text), parsed.objectMembers != nil {
            return parsed
        }
        return ["content": .string(text)]
    }

    private mutating func append(role: String, parts: [JSONValue]) {
        guard !parts.isEmpty else { return }
        if let last = self.turns.indices.last, self.turns[last].role == role {
            self.turns[last].parts.append(contentsOf: parts)
        } else {
            self.turns.append((role, parts))
        }
    }
}
