import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct ToolCallTests {
    private let simulator: GeminiSimulator = {
        var options = TestKeys.options()
        options.chunkCount = 3
        return GeminiSimulator(options: options, clock: TestWallClock("2026-01-15T12:00:00Z"))
    }()

    private static let nativeTools = """
        , "tools": [{"functionDeclarations": [
          {"name": "get_weather", "description": "Current weather",
           "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"},
             "days": {"type": "INTEGER"}, "unit": {"type": "STRING", "enum": ["C", "F"]}},
             "required": ["city", "days", "unit"]}},
          {"name": "get_time", "parameters": {"type": "OBJECT", "properties": {}}}]}]
        """

    private static let openAITools = """
        , "tools": [{"type": "function", "function": {"name": "get_weather",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        """

    @Test func nativeToolsGetAFunctionCallOfTheFirstDeclaredFunction() async throws {
        let response = await self.simulator.respond(
            modelRequest(body: generateBody("Weather in Paris?", extra: Self.nativeTools))
        )
        let candidate = try #require(try parse(response)["candidates"]?.arrayValue?.first)

        #expect(response.status == 200)
        #expect(candidate["finishReason"] == "STOP")
        let parts = try #require(candidate["content"]?["parts"]?.arrayValue)
        #expect(parts.count == 1)
        #expect(parts.first?["functionCall"]?["name"] == "get_weather")
        #expect(parts.first?["functionCall"]?["args"] == ["city": "Paris", "days": 1, "unit": "C"])
    }

    @Test func aFunctionResponseTurnGetsTextQuotingTheResult() async throws {
        let body = """
            {"contents": [
              {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
              {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
              {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                "response": {"tempC": 18, "sky": "cloudy"}}}]}
            ]\(Self.nativeTools)}
            """
        let response = await self.simulator.respond(modelRequest(body: Array(body.utf8)))
        let candidate = try #require(try parse(response)["candidates"]?.arrayValue?.first)

        #expect(candidate["finishReason"] == "STOP")
        #expect(
            candidate["content"]?["parts"]?.arrayValue?.first?["text"]
                == #"Result of get_weather: {"tempC":18,"sky":"cloudy"}"#
        )
    }

    @Test func aStreamedFunctionCallArrivesWholeInOneChunk() async throws {
        let response = await self.simulator.respond(
            modelRequest(
                "gemini-2.5-flash",
                "streamGenerateContent",
                query: [("alt", "sse")],
                body: generateBody("Weather in Paris?", extra: Self.nativeTools)
            )
        )
        let frames = try await collectFrames(try plan(response))

        #expect(frames.count == 1)
        let candidate = try #require(try ssePayload(frames[0])["candidates"]?.arrayValue?.first)
        #expect(candidate["finishReason"] == "STOP")
        #expect(candidate["content"]?["parts"]?.arrayValue?.first?["functionCall"]?["args"]?["city"] == "Paris")
    }

    @Test func openAIToolsGetToolCallsWithACallID() async throws {
        let response = await self.simulator.respond(
            openAIRequest(body: chatBody("Weather in Paris?", extra: Self.openAITools))
        )
        let choice = try #require(try parse(response)["choices"]?.arrayValue?.first)

        #expect(choice["finish_reason"] == "tool_calls")
        #expect(choice["message"]?["content"] == nil)
        let call = try #require(choice["message"]?["tool_calls"]?.arrayValue?.first)
        #expect(memberNames(call) == ["function", "id", "type"])
        #expect(call["id"]?.stringValue?.hasPrefix("call_") == true)
        #expect(call["type"] == "function")
        #expect(call["function"] == ["arguments": #"{"city":"Paris"}"#, "name": "get_weather"])
    }

    @Test func aStreamedOpenAIToolCallSplitsItsArgumentsOverAtLeastThreeChunks() async throws {
        let response = await self.simulator.respond(
            openAIRequest(body: chatBody("Weather in Paris?", extra: Self.openAITools + #", "stream": true"#))
        )
        let frames = try await collectFrames(try plan(response))
        #expect(frames.last == "data: [DONE]\n\n")
        let choices = try frames.dropLast().map(openAIPayload).compactMap { $0["choices"]?.arrayValue?.first }
        let calls = choices.compactMap { $0["delta"]?["tool_calls"]?.arrayValue?.first }

        #expect(calls.count >= 3)
        #expect(calls.count == choices.count)
        #expect(calls.first?["id"]?.stringValue?.hasPrefix("call_") == true)
        #expect(calls.first?["function"]?["name"] == "get_weather")
        #expect(calls.dropFirst().allSatisfy { $0["id"] == nil && $0["function"]?["name"] == nil })
        #expect(calls.allSatisfy { $0["index"] == 0 })
        let arguments = calls.compactMap { $0["function"]?["arguments"]?.stringValue }
        #expect(arguments.allSatisfy { !$0.isEmpty })
        #expect(arguments.joined() == #"{"city":"Paris"}"#)
        #expect(choices.map { $0["finish_reason"] } == Array(repeating: nil, count: choices.count - 1) + ["tool_calls"])
    }

    @Test func anOpenAIToolMessageGetsTextQuotingTheResult() async throws {
        let body = """
            {"model": "gemini-2.5-flash", "messages": [
              {"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\\"city\\":\\"Paris\\"}"}}]},
              {"role": "tool", "tool_call_id": "call_1", "content": "{\\"tempC\\": 18}"}
            ]\(Self.openAITools)}
            """
        let response = await self.simulator.respond(openAIRequest(body: body))
        let choice = try #require(try parse(response)["choices"]?.arrayValue?.first)

        #expect(response.status == 200)
        #expect(choice["finish_reason"] == "stop")
        #expect(choice["message"]?["content"] == #"Result of get_weather: {"tempC":18}"#)
    }
}
