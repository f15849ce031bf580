import KeyPool
import Relay
import Testing

/// Gemini SSE events are re-framed as OpenAI chat.completion.chunk events.
@Suite struct OpenAIChatStreamTests {
    func translator(includeUsage: Bool = false) -> ChatStreamTranslator {
        ChatStreamTranslator(model: "gemini-2.5-flash", id: "chatcmpl-9", created: 1700, includeUsage: includeUsage)
    }

    @Test func textDeltasCarryTheRoleOnlyOnTheFirstChunk() throws {
        var stream = self.translator()
        let first = try sseDocuments(
            stream.translate(
                event: try json(
                    """
                    {"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"text":"Hel"}],"role":"model"},
                     "index":0}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":9}}
                    """
                )
            )
        )
        #expect(
            first
                == [
                    try json(
                        """
                        {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1700,"model":"gemini-2.5-flash",
                         "choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}
                        """
                    )
                ]
        )
        let last = try sseDocuments(
            stream.translate(
                event: try json(
                    #"{"candidates":[{"content":{"parts":[{"text":"lo"}]},"finishReason":"STOP","index":0}]}"#
                )
            )
        )
        #expect(last.count == 1)
        #expect(last.first?["choices"]?.arrayValue?.first?["delta"] == (try json(#"{"content":"lo"}"#)))
        #expect(last.first?["choices"]?.arrayValue?.first?["finish_reason"] == "stop")
        #expect(try sseDocuments(stream.finish()) == ["[DONE]"])
    }

    @Test func thoughtOnlyEventsSendNothing() throws {
        var stream = self.translator()
        let frames = stream.translate(
            event: try json(#"{"candidates":[{"content":{"parts":[{"text":"plan","thought":true}]},"index":0}]}"#)
        )
        #expect(frames.isEmpty)
        let next = try sseDocuments(
            stream.translate(event: try json(#"{"candidates":[{"content":{"parts":[{"text":"A"}]},"index":0}]}"#))
        )
        #expect(next.first?["choices"]?.arrayValue?.first?["delta"]?["role"] == "assistant")
    }

    @Test func toolCallGetsOneStableIdAndFinishReasonToolCalls() throws {
        var stream = self.translator()
        let frames = try sseDocuments(
            stream.translate(
                event: try json(
                    """
                    {"candidates":[{"content":{"parts":[
                       {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                       {"functionCall":{"name":"get_time","args":{}}}]},"index":0}]}
                    """
                )
            )
        )
        let delta = try #require(frames.first?["choices"]?.arrayValue?.first?["delta"])
        #expect(
            delta["tool_calls"]
                == (try json(
                    """
                    [{"index":0,"id":"call_9_0_0","type":"function",
                      "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}},
                     {"index":1,"id":"call_9_0_1","type":"function","function":{"name":"get_time","arguments":"{}"}}]
                    """
                ))
        )
        let end = try sseDocuments(
            stream.translate(
                event: try json(#"{"candidates":[{"content":{"parts":[{"text":""}]},"finishReason":"STOP"}]}"#)
            )
        )
        #expect(end.first?["choices"]?.arrayValue?.first?["finish_reason"] == "tool_calls")
        #expect(end.first?["choices"]?.arrayValue?.first?["delta"] == (try json("{}")))
    }

    @Test func includeUsageSendsAFinalUsageChunkThenDone() throws {
        var stream = self.translator(includeUsage: true)
        for event in [
            """
            {"candidates":[{"content":{"parts":[{"text":"a"}]}}],
             "usageMetadata":{"promptTokenCount":5,"totalTokenCount":7}}
            """,
            """
            {"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}],
             "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"thoughtsTokenCount":3,
               "totalTokenCount":10}}
            """,
        ] {
            _ = stream.translate(event: try json(event))
        }
        let closing = try sseDocuments(stream.finish())
        #expect(closing.count == 2)
        #expect(closing[0]["choices"] == [])
        #expect(closing[0]["object"] == "chat.completion.chunk")
        #expect(
            closing[0]["usage"]
                == (try json(
                    """
                    {"prompt_tokens":5,"completion_tokens":5,"total_tokens":10,
                     "completion_tokens_details":{"reasoning_tokens":3}}
                    """
                ))
        )
        #expect(closing[1] == "[DONE]")
    }

    @Test func blockedPromptEndsWithContentFilter() throws {
        var stream = self.translator()
        let frames = try sseDocuments(
            stream.translate(event: try json(#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{}}"#))
        )
        let choice = try #require(frames.first?["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "content_filter")
        #expect(choice["delta"]?["role"] == "assistant")
        #expect(choice["delta"]?["refusal"]?.stringValue?.contains("SAFETY") == true)
    }

    @Test func choiceEndingEmptyEndsWithContentFilter() throws {
        var stream = self.translator()
        let frames = try sseDocuments(
            stream.translate(event: try json(#"{"candidates":[{"finishReason":"RECITATION","index":0}]}"#))
        )
        let choice = try #require(frames.first?["choices"]?.arrayValue?.first)
        #expect(choice["finish_reason"] == "content_filter")
        #expect(choice["delta"]?["refusal"]?.stringValue?.contains("RECITATION") == true)
    }

    @Test func twoChoicesStreamSeparately() throws {
        var stream = self.translator()
        let frames = try sseDocuments(
            stream.translate(
                event: try json(
                    """
                    {"candidates":[{"content":{"parts":[{"text":"A"}]},"index":0},
                                   {"content":{"parts":[{"text":"B"}]},"index":1}]}
                    """
                )
            )
        )
        #expect(frames.map { $0["choices"]?.arrayValue?.first?["index"]?.intValue } == [0, 1])
        #expect(frames.allSatisfy { $0["choices"]?.arrayValue?.first?["delta"]?["role"] == "assistant" })
    }

    @Test func errorEventsAndMidStreamFailuresBecomeErrorFrames() throws {
        var stream = self.translator()
        let frames = try sseDocuments(
            stream.translate(event: try json(#"{"error":{"code":500,"message":"internal","status":"INTERNAL"}}"#))
        )
        #expect(frames.first?["error"]?["message"] == "internal")
        #expect(frames.first?["error"]?["type"] == "api_error")
        let text = String(decoding: stream.errorFrame(message: "upstream closed early"), as: UTF8.self)
        #expect(
            text == #"data: {"error":{"message":"upstream closed early","type":"api_error","param":null,"code":null}}"#
                + "\n\n"
        )
    }
}
