import KeyPool
import Relay
import Testing

/// Parses JSON text written in a test; a typo fails the test rather than crashing it.
func json(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
    do {
        return try JSONValue.parse(text)
    } catch {
        Issue.record("test JSON does not parse: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// Translates a chat request written as JSON text.
func chatRequest(_ text: String) throws -> ChatRequest {
    try ChatRequest.translate(Array(text.utf8))
}

/// The error a chat request is refused with; nil when it is accepted.
func chatRejection(_ text: String, limits: ChatLimits = .default) -> OpenAIError? {
    do {
        _ = try ChatRequest.translate(Array(text.utf8), limits: limits)
        return nil
    } catch {
        return error
    }
}

/// The JSON documents of SSE frames (`data: {…}\n\n`); `[DONE]` becomes the string "[DONE]".
func sseDocuments(_ frames: [[UInt8]]) throws -> [JSONValue] {
    try frames.map { frame in
        let text = String(decoding: frame, as: UTF8.self)
        #expect(text.hasPrefix("data: ") && text.hasSuffix("\n\n"))
        let payload = String(text.dropFirst(6).dropLast(2))
        return payload == "[DONE]" ? .string("[DONE]") : try JSONValue.parse(payload)
    }
}
