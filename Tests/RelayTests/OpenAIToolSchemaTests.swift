import KeyPool
import Testing

@testable import Relay

/// Tool schemas as SDK helpers and MCP servers write them, made acceptable to Gemini.
@Suite struct OpenAIToolSchemaTests {
    static func translatedParameters(_ parameters: String) throws -> JSONValue {
        let body =
            #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}],"#
            + #""tools":[{"type":"function","function":{"name":"f","parameters":\#(parameters)}}]}"#
        let request = try ChatRequest.translate(Array(body.utf8))
        return try #require(
            request.gemini["tools"]?.arrayValue?.first?["functionDeclarations"]?.arrayValue?.first?["parameters"]
        )
    }

    @Test func localReferencesAreInlined() throws {
        let schema = try Self.translatedParameters(
            ##"{"type":"object","properties":{"color":{"$ref":"#/$defs/Color","description":"pick one"},"##
                + ##""pet":{"$ref":"#/$defs/Pet"}},"##
                + ##""$defs":{"Color":{"type":"string","enum":["red","blue"]},"##
                + ##""Pet":{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}}}"##
        )
        #expect(
            schema["properties"]?["color"] == ["type": "string", "enum": ["red", "blue"], "description": "pick one"]
        )
        #expect(schema["properties"]?["pet"]?["properties"]?["name"] == ["type": "string"])
        #expect(schema["$defs"] == nil)
    }

    @Test func nonStringEnumsBecomeStringsAndUnknownFormatsGo() throws {
        let schema = try Self.translatedParameters(
            #"{"type":"object","properties":{"level":{"type":"integer","enum":[1,2,3]},"c":{"const":5},"#
                + #""url":{"type":"string","format":"uri"},"when":{"type":"string","format":"date-time"},"#
                + #""n":{"type":"integer","format":"int64"},"all":{"allOf":[{"type":"string"}],"description":"d"}}}"#
        )
        let properties = try #require(schema["properties"])
        #expect(properties["level"] == ["type": "string", "enum": ["1", "2", "3"]])
        #expect(properties["c"] == ["type": "string", "enum": ["5"]])
        #expect(properties["url"] == ["type": "string"])
        #expect(properties["when"] == ["type": "string", "format": "date-time"])
        #expect(properties["n"] == ["type": "integer", "format": "int64"])
        #expect(properties["all"]?["type"] == "string")
        #expect(properties["all"]?["description"] == "d")
    }
}
