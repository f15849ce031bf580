import KeyPool
import Relay
import Testing

/// A chat request the relay cannot translate is refused with a 400 naming the field at fault.
@Suite struct OpenAIChatValidationTests {
    static let user = #"{"role":"user","content":"x"}"#

    static func body(_ extra: String) -> String {
        #"{"model":"m","messages":[\#(Self.user)],\#(extra)}"#
    }

    static func image(_ url: String) -> String {
        #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"\#(url)"}}]}]}"#
    }

    static let cases: [(String, String, String?)] = [
        ("not JSON", #"{"model":"#, nil),
        ("not an object", #"[1,2]"#, nil),
        ("model missing", #"{"messages":[\#(user)]}"#, "model"),
        ("model not a string", #"{"model":7,"messages":[\#(user)]}"#, "model"),
        ("messages missing", #"{"model":"m"}"#, "messages"),
        ("messages not an array", #"{"model":"m","messages":"hi"}"#, "messages"),
        ("messages empty", #"{"model":"m","messages":[]}"#, "messages"),
        ("only a system message", #"{"model":"m","messages":[{"role":"system","content":"s"}]}"#, "messages"),
        ("message not an object", #"{"model":"m","messages":["hi"]}"#, "messages[0]"),
        ("role missing", #"{"model":"m","messages":[{"content":"x"}]}"#, "messages[0].role"),
        ("unknown role", #"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#, "messages[0].role"),
        ("content a number", #"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content"),
        ("user content missing", #"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content"),
        (
            "unknown part type", #"{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
            "messages[0].content[0].type"
        ),
        (
            "image part in a system message",
            #"{"model":"m","messages":[{"role":"system","content":[{"type":"image_url"}]},\#(user)]}"#,
            "messages[0].content[0].type"
        ),
        ("temperature a string", Self.body(#""temperature":"hot""#), "temperature"),
        ("temperature above 2", Self.body(#""temperature":2.5"#), "temperature"),
        ("top_p above 1", Self.body(#""top_p":1.5"#), "top_p"),
        ("n zero", Self.body(#""n":0"#), "n"),
        ("n nine", Self.body(#""n":9"#), "n"),
        ("max_tokens zero", Self.body(#""max_tokens":0"#), "max_tokens"),
        ("max_tokens fractional", Self.body(#""max_tokens":1.5"#), "max_tokens"),
        ("max_completion_tokens negative", Self.body(#""max_completion_tokens":-3"#), "max_completion_tokens"),
        ("stream not a boolean", Self.body(#""stream":"yes""#), "stream"),
        ("six stop sequences", Self.body(#""stop":["a","b","c","d","e","f"]"#), "stop"),
        ("unknown reasoning effort", Self.body(#""reasoning_effort":"max""#), "reasoning_effort"),
        ("unknown response format", Self.body(#""response_format":{"type":"yaml"}"#), "response_format.type"),
        (
            "json_schema without a schema", Self.body(#""response_format":{"type":"json_schema","json_schema":{}}"#),
            "response_format.json_schema.schema"
        ),
        ("tools not an array", Self.body(#""tools":{}"#), "tools"),
        ("tool not a function", Self.body(#""tools":[{"type":"retrieval"}]"#), "tools[0].type"),
        ("tool without a name", Self.body(#""tools":[{"type":"function","function":{}}]"#), "tools[0].function.name"),
        (
            "tool parameters not an object",
            Self.body(#""tools":[{"type":"function","function":{"name":"f","parameters":[]}}]"#),
            "tools[0].function.parameters"
        ),
        (
            "tool schema with a recursive $ref",
            Self.body(
                #""tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","#
                    + ##""properties":{"a":{"$ref":"#/$defs/A"}},"##
                    + ##""$defs":{"A":{"type":"object","properties":{"next":{"$ref":"#/$defs/A"}}}}}}}]"##
            ),
            "tools[0].function.parameters"
        ),
        (
            "tool_choice naming no tool",
            Self.body(
                #""tools":[{"type":"function","function":{"name":"f"}}],"#
                    + #""tool_choice":{"type":"function","function":{"name":"g"}}"#
            ),
            "tool_choice"
        ),
        (
            "image with invalid base64", Self.image("data:image/png;base64,not*base64!"),
            "messages[0].content[0].image_url.url"
        ),
        (
            "image that is not an image", Self.image("data:text/plain;base64,aGk="),
            "messages[0].content[0].image_url.url"
        ),
        ("image not base64-encoded", Self.image("data:image/png,rawbytes"), "messages[0].content[0].image_url.url"),
        (
            "tool result for an unknown call",
            #"{"model":"m","messages":[\#(user),{"role":"tool","tool_call_id":"call_x","content":"1"}]}"#,
            "messages[1].tool_call_id"
        ),
        (
            "tool call arguments not JSON",
            #"{"model":"m","messages":[\#(user),{"role":"assistant","tool_calls":[{"id":"c","type":"function","#
                + #""function":{"name":"f","arguments":"{oops"}}]}]}"#,
            "messages[1].tool_calls[0].function.arguments"
        ),
    ]

    @Test(arguments: Self.cases)
    func invalidRequestIsRefusedNamingTheField(label: String, body: String, param: String?) throws {
        let error = try #require(chatRejection(body), "\(label) was accepted")
        #expect(error.status == 400, "\(label)")
        #expect(error.type == "invalid_request_error", "\(label)")
        #expect(error.param == param, "\(label): \(error.message)")
        #expect(!error.message.isEmpty)
    }

    @Test func tenThousandMessagesAreRefused() throws {
        let messages = Array(repeating: Self.user, count: 10_000).joined(separator: ",")
        let error = try #require(chatRejection(#"{"model":"m","messages":[\#(messages)]}"#))
        #expect(error.status == 400 && error.param == "messages")
        #expect(error.message.contains("2048"))

        let small = ChatLimits(maxMessages: 3)
        #expect(chatRejection(#"{"model":"m","messages":[\#(Self.user),\#(Self.user)]}"#, limits: small) == nil)
        let four = Array(repeating: Self.user, count: 4).joined(separator: ",")
        #expect(chatRejection(#"{"model":"m","messages":[\#(four)]}"#, limits: small)?.param == "messages")
    }

    @Test func remoteImageURLIsRefusedWithAnExplanation() throws {
        let error = try #require(chatRejection(Self.image("https://example.com/cat.png")))
        #expect(error.status == 400)
        #expect(error.param == "messages[0].content[0].image_url.url")
        #expect(error.message.contains("does not fetch URLs"))
        #expect(error.message.contains("data:image/png;base64"))
    }

    @Test func errorBodyHasOpenAIShape() throws {
        let error = try #require(chatRejection(Self.body(#""n":9"#)))
        let body = try JSONValue.parse(error.body)
        #expect(body["error"]?["type"] == "invalid_request_error")
        #expect(body["error"]?["param"] == "n")
        #expect(body["error"]?["code"] == .null)
        #expect(body["error"]?["message"]?.stringValue == error.message)
    }
}
