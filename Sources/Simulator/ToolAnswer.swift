import KeyPool

/// What a request with function tools gets instead of an echo: a call of the first declared
/// function, or, when the last turn answers a call, text quoting that function's result.
enum ToolAnswer: Sendable, Hashable {
    /// Call `name` with `args` (one deterministic value per required parameter).
    case call(name: String, args: JSONValue)
    /// The last turn returned `response` from `name`.
    case result(name: String, response: JSONValue)

    /// `Result of get_weather: {"sky":"cloudy"}` for a result; nil for a call.
    var resultText: String? {
        guard case .result(let name, let response) = self else { return nil }
        let shown = response.stringValue ?? response.serialized
        return "Result of \(name): \(shown)"
    }

    /// Arguments for a JSON-Schema or OpenAPI-subset `parameters` object: every `required`
    /// property, in the order listed, with a fixed value for its type (the first `enum` value
    /// when there is one). Strings are `"Paris"`, integers 1, numbers 1.5, booleans true.
    static func arguments(for parameters: JSONValue?) -> JSONValue {
        let properties = parameters?["properties"]
        let required = parameters?["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var members: [(String, JSONValue)] = []
        for name in required where !members.contains(where: { $0.0 == name }) {
            members.append((name, Self.sampleValue(for: properties?[name])))
        }
        return .object(members)
    }

    private static func sampleValue(for schema: JSONValue?) -> JSONValue {
        if let first = schema?["enum"]?.arrayValue?.first { return first }
        let type = schema?["type"]?.stringValue?.lowercased() ?? "string"
        switch type {
        case "integer": return 1
        case "number": return .number("1.5")
        case "boolean": return true
        case "array": return []
        case "object": return Self.arguments(for: schema)
        default: return "Paris"
        }
    }

    // MARK: - Native requests

    /// The tool answer of a native generate request, or nil when it declares no functions.
    /// A last user turn holding a `functionResponse` gets a result; any other gets a call.
    static func native(_ request: JSONValue) -> ToolAnswer? {
        let turns = (request["contents"]?.arrayValue ?? []).filter { ($0["role"]?.stringValue ?? "user") == "user" }
        let lastParts = turns.last?["parts"]?.arrayValue ?? []
        if let response = lastParts.lazy.compactMap({ $0["functionResponse"] ?? $0["function_response"] }).first {
            return .result(name: response["name"]?.stringValue ?? "function", response: response["response"] ?? [:])
        }

        let tools = request["tools"]?.arrayValue ?? []
        let declarations = tools.flatMap { tool in
            (tool["functionDeclarations"] ?? tool["function_declarations"])?.arrayValue ?? []
        }
        guard let first = declarations.first, let name = first["name"]?.stringValue else { return nil }
        let parameters = first["parameters"] ?? first["parametersJsonSchema"] ?? first["parameters_json_schema"]
        return .call(name: name, args: Self.arguments(for: parameters))
    }

    // MARK: - OpenAI-compatible requests

    /// The tool answer of a `chat/completions` body: a result when the last message has role
    /// `tool` (named after the assistant call it answers), a call when `tools` lists a function.
    static func openAI(_ body: JSONValue) -> ToolAnswer? {
        let messages = body["messages"]?.arrayValue ?? []
        if let last = messages.last, last["role"]?.stringValue == "tool" {
            let callID = last["tool_call_id"]?.stringValue
            let calls = messages.flatMap { $0["tool_calls"]?.arrayValue ?? [] }
            let answered = calls.first { $0["id"]?.stringValue == callID } ?? calls.last
            let name =
                answered?["function"]?["name"]?.stringValue
                ?? body["tools"]?.arrayValue?.first?["function"]?["name"]?.stringValue ?? "function"
            let content = last["content"] ?? ""
            // A JSON text in `content` is quoted as JSON, anything else as it came.
            let response = content.stringValue.flatMap { try? JSONValue.parse($0) } ?? content
            return .result(name: name, response: response)
        }

        let functions = (body["tools"]?.arrayValue ?? []).compactMap { $0["function"] }
        guard let first = functions.first, let name = first["name"]?.stringValue else { return nil }
        return .call(name: name, args: Self.arguments(for: first["parameters"]))
    }
}
