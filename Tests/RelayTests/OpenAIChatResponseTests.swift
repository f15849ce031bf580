import KeyPool
import Relay
import Testing

/// Gemini generateContent answers become OpenAI chat.completion objects.
@Suite struct OpenAIChatResponseTests {
    func translate(_ gemini: String) throws -> JSONValue {
        ChatResponse.translate(gemini: try json(gemini), model: "gemini-2.5-flash", id: "chatcmpl-1", created: 1700)
    }

    @Test func textAnswerWithReasoningTokensInUsage() throws {
        let answer = try self.translate(
            """
            {"candidates":[{"content":{"role":"model","parts":[
               {"text":"thinking…","thought":true},{"text":"Hello"},{"text":", world"}]},
               "finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":44,"thoughtsTokenCount":186,
               "totalTokenCount":235}}
            """
        )
        #expect(
            answer
                == (try json(
                    """
                    {"id":"chatcmpl-1","object":"chat.completion","created":1700,"model":"gemini-2.5-flash",
                     "choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world","refusal":null},
                                 "finish_reason":"stop"}],
                     "usage":{"prompt_tokens":5,"completion_tokens":230,"total_tokens":235,
                              "completion_tokens_details":{"reasoning_tokens":186}}}
                    """
                ))
        )
    }

    @Test func twoCandidatesKeepTheirIndexes() throws {
        let answer = try self.translate(
            """
            {"candidates":[
              {"content":{"parts":[{"text":"A"}]},"finishReason":"STOP","index":1},
              {"content":{"parts":[{"text":"B"}]},"finishReason":"MAX_TOKENS"}]}
            """
        )
        let choices = try #require(answer["choices"]?.arrayValue)
        #expect(choices.map { $0["index"]?.intValue } == [1, 1])
        #expect(choices.map { $0["message"]?["content"]?.stringValue } == ["A", "B"])
        #expect(choices.map { $0["finish_reason"]?.stringValue } == ["stop", "length"])

        let positional = try self.translate(
            #"{"candidates":[{"content":{"parts":[{"text":"A"}]}},{"content":{"parts":[{"text":"B"}]}}]}"#
        )
        #expect(positional["choices"]?.arrayValue?.map { $0["index"]?.intValue } == [0, 1])
    }

    @Test func functionCallsBecomeToolCallsWithFinishReasonToolCalls() throws {
        let answer = try self.translate(
            """
            {"candidates":[{"content":{"role":"model","parts":[
               {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"c2ln"},
               {"functionCall":{"name":"get_time","args":{"tz":"CET"},"id":"abc"}}]},
               "finishReason":"STOP","index":0}]}
            """
        )
        #expect(
            answer["choices"]?.arrayValue?.first
                == (try json(
                    """
                    {"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[
                      {"id":"call_1_0_0","type":"function",
                       "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"},
                       "extra_content":{"google":{"thought_signature":"c2ln"}}},
                      {"id":"abc","type":"function",
                       "function":{"name":"get_time","arguments":"{\\"tz\\":\\"CET\\"}"}}]},
                     "finish_reason":"tool_calls"}
                    """
                ))
        )
    }

    @Test func blockedPromptIsAContentFilterChoiceWithARefusal() throws {
        let answer = try self.translate(
            """
            {"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},
             "usageMetadata":{"promptTokenCount":41,"totalTokenCount":41}}
            """
        )
        let choice = try #require(answer["choices"]?.arrayValue?.first)
        #expect(answer["choices"]?.arrayValue?.count == 1)
        #expect(choice["finish_reason"] == "content_filter")
        #expect(choice["message"]?["content"] == .null)
        #expect(choice["message"]?["refusal"]?.stringValue?.contains("PROHIBITED_CONTENT") == true)
        #expect(answer["usage"]?["prompt_tokens"] == 41)
        #expect(answer["usage"]?["completion_tokens"] == 0)
    }

    @Test func emptyCandidateIsAContentFilterChoiceNotASilentSuccess() throws {
        let answer = try self.translate(#"{"candidates":[{"finishReason":"SAFETY","index":0}]}"#)
        let choice = try #require(answer["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "content_filter")
        #expect(choice["message"]?["content"] == .null)
        #expect(choice["message"]?["refusal"]?.stringValue?.contains("SAFETY") == true)

        let malformed = try self.translate(
            #"{"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL","finishMessage":"Malformed function call: x"}]}"#
        )
        let refusal = malformed["choices"]?.arrayValue?.first?["message"]?["refusal"]?.stringValue
        #expect(refusal?.contains("MALFORMED_FUNCTION_CALL") == true && refusal?.contains("Malformed") == true)
    }

    @Test func thinkingThatRanOutOfTokensIsLength() throws {
        let answer = try self.translate(
            #"{"candidates":[{"content":{"parts":[{"text":"plan","thought":true}]},"finishReason":"MAX_TOKENS"}]}"#
        )
        let choice = try #require(answer["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "length")
        #expect(choice["message"]?["content"] == "")
    }

    @Test(arguments: [
        ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"), ("OTHER", "stop"), ("LANGUAGE", "stop"),
    ])
    func finishReasonsMap(gemini: String, openAI: String) throws {
        let answer = try self.translate(
            #"{"candidates":[{"content":{"parts":[{"text":"partial"}]},"finishReason":"\#(gemini)"}]}"#
        )
        #expect(answer["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue == openAI)
    }
}
