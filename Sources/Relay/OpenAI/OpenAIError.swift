import KeyPool

/// An error answered on the OpenAI routes, in OpenAI's shape
/// `{"error":{"message":…,"type":…,"param":…,"code":…}}` that strict OpenAI clients parse.
public struct OpenAIError: Error, Sendable, Hashable {
    /// The HTTP status to answer with.
    public var status: Int
    /// OpenAI's error class: `invalid_request_error`, `authentication_error`, `rate_limit_error`, ….
    public var type: String
    /// A machine-readable code (`invalid_api_key`, `rate_limit_exceeded`); nil when there is none.
    public var code: String?
    /// Human-readable text; never holds a secret (upstream bodies are scrubbed by the caller).
    public var message: String
    /// The request field at fault (`messages[2].content`), when one is.
    public var param: String?

    /// An error with every field given.
    public init(status: Int, type: String, code: String? = nil, message: String, param: String? = nil) {
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
    }

    /// The JSON body: `{"error":{"message","type","param","code"}}`, absent values as `null`.
    public var body: [UInt8] { self.json.serializedBytes }

    /// The body as a JSON value, for embedding in an SSE frame.
    public var json: JSONValue {
        [
            "error": [
                "message": .string(self.message),
                "type": .string(self.type),
                "param": self.param.map(JSONValue.string) ?? .null,
                "code": self.code.map(JSONValue.string) ?? .null,
            ]
        ]
    }

    /// A 400 `invalid_request_error` for a request the relay refuses before sending it upstream.
    public static func invalidRequest(_ message: String, param: String?) -> OpenAIError {
        OpenAIError(status: 400, type: "invalid_request_error", message: message, param: param)
    }

    /// Converts a Google error answer (`{"error":{…}}`, or the one-element list `[{"error":{…}}]`
    /// the OpenAI-compatible endpoint sends) into OpenAI's shape with the same status.
    /// Google's `error.message` is kept; a body without one gets a message naming the status.
    public static func fromGoogle(status: Int, body: [UInt8]) -> OpenAIError {
        let document = (try? JSONValue.parse(body)) ?? .null
        let message = Self.googleErrorObject(in: document)?["message"]?.stringValue
        let text = (message?.isEmpty == false ? message : nil) ?? "upstream answered HTTP \(status)"
        let (type, code): (String, String?) =
            switch status {
            case 401: ("authentication_error", "invalid_api_key")
            case 403: ("permission_error", nil)
            case 404: ("not_found_error", nil)
            case 429: ("rate_limit_error", "rate_limit_exceeded")
            case 400..<500: ("invalid_request_error", nil)
            default: ("api_error", nil)
            }
        return OpenAIError(status: status, type: type, code: code, message: text)
    }

    /// The `error` object of a Google body, unwrapping a list around it.
    static func googleErrorObject(in document: JSONValue) -> JSONValue? {
        if let items = document.arrayValue {
            return items.first.flatMap(Self.googleErrorObject(in:))
        }
        guard let error = document["error"], error.objectMembers != nil else { return nil }
        return error
    }
}

extension JSONValue {
    /// The member named `key`, treating an explicit `null` as absent (OpenAI clients send
    /// `"stop": null` and the like for "not set").
    func present(_ key: String) -> JSONValue? {
        guard let value = self[key], !value.isNull else { return nil }
        return value
    }

    /// A short name of this value's JSON type, for error messages that must not echo input.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
