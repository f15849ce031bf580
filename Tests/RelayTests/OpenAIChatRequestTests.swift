import KeyPool
import Relay
import Testing

/// OpenAI chat requests become the Gemini generateContent bodies they mean.
@Suite struct OpenAIChatRequestTests {
    @Test func systemAndDeveloperMessagesJoinTheSystemInstructionInOrder() throws {
        let request = try chatRequest(
            """
            {"model":"gemini-2.5-flash","messages":[
              {"role":"system","content":"Be terse."},
              {"role":"user","content":"Hi"},
              {"role":"developer","content":[{"type":"text","text":"Answer in French."}]}]}
            """
        )
        #expect(request.model == "gemini-2.5-flash")
        #expect(!request.isStreaming && !request.includeUsage && request.choiceCount == 1)
        #expect(
            request.gemini
                == (try json(
                    """
                    {"systemInstruction":{"parts":[{"text":"Be terse."},{"text":"Answer in French."}]},
                     "contents":[{"role":"user","parts":[{"text":"Hi"}]}]}
                    """
                ))
        )
    }

    @Test func multiTurnMapsRolesAndMergesConsecutiveTurns() throws {
        let request = try chatRequest(
            """
            {"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[
              {"role":"user","content":"one"},{"role":"user","content":"two"},
              {"role":"assistant","content":"three"},{"role":"user","content":"four"}]}
            """
        )
        #expect(request.isStreaming && request.includeUsage)
        #expect(
            request.gemini["contents"]
                == (try json(
                    """
                    [{"role":"user","parts":[{"text":"one"},{"text":"two"}]},
                     {"role":"model","parts":[{"text":"three"}]},
                     {"role":"user","parts":[{"text":"four"}]}]
                    """
                ))
        )
    }

    @Test func imageDataURLsAndAudioBecomeInlineData() throws {
        let request = try chatRequest(
            """
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"text","text":"What is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
              {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}
            """
        )
        #expect(
            request.gemini["contents"]?.arrayValue?.first?["parts"]
                == (try json(
                    """
                    [{"text":"What is this?"},
                     {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
                     {"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}}]
                    """
                ))
        )
    }

    @Test func toolDefinitionsAreDeclaredWithCleanedSchemas() throws {
        let request = try chatRequest(
            """
            {"model":"m","messages":[{"role":"user","content":"Weather?"}],"tool_choice":"required",
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city",
               "strict":true,"parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
                 "additionalProperties":false,"title":"Args",
                 "properties":{
                   "city":{"type":"string","title":"City","default":"Paris","examples":["Rome"]},
                   "unit":{"type":["string","null"],"enum":["c","f"]},
                   "days":{"type":"array","items":{"type":"integer","minimum":1,"additionalProperties":false},
                           "maxItems":7}},
                 "required":["city"]}}},
               {"type":"function","function":{"name":"ping","parameters":{"type":"object","properties":{}}}}]}
            """
        )
        #expect(
            request.gemini["tools"]
                == (try json(
                    """
                    [{"functionDeclarations":[
                      {"name":"get_weather","description":"Weather for a city","parameters":{"type":"object",
                        "properties":{"city":{"type":"string"},
                          "unit":{"type":"string","nullable":true,"enum":["c","f"]},
                          "days":{"type":"array","items":{"type":"integer","minimum":1},"maxItems":7}},
                        "required":["city"]}},
                      {"name":"ping"}]}]
                    """
                ))
        )
        #expect(request.gemini["toolConfig"] == (try json(#"{"functionCallingConfig":{"mode":"ANY"}}"#)))
    }

    @Test(arguments: [
        (#""none""#, #"{"functionCallingConfig":{"mode":"NONE"}}"#),
        (#""auto""#, #"{"functionCallingConfig":{"mode":"AUTO"}}"#),
        (
            #"{"type":"function","function":{"name":"f"}}"#,
            #"{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}"#
        ),
    ])
    func toolChoiceMapsToFunctionCallingMode(choice: String, expected: String) throws {
        let request = try chatRequest(
            """
            {"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":\(choice),
             "tools":[{"type":"function","function":{"name":"f"}}]}
            """
        )
        #expect(request.gemini["toolConfig"] == (try json(expected)))
    }

    @Test func toolCallRoundTripBecomesFunctionCallAndNamedFunctionResponse() throws {
        let request = try chatRequest(
            """
            {"model":"m","messages":[
              {"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","content":"","tool_calls":[
                {"id":"call_a","type":"function",
                 "function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}},
                {"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\\"city\\":\\"Rome\\"}"},
                 "extra_content":{"google":{"thought_signature":"c2ln"}}}]},
              {"role":"tool","tool_call_id":"call_a","content":"{\\"tempC\\":18}"},
              {"role":"tool","tool_call_id":"call_b","content":"noon"}]}
            """
        )
        #expect(
            request.gemini["contents"]
                == (try json(
                    """
                    [{"role":"user","parts":[{"text":"Weather in Paris and Rome?"}]},
                     {"role":"model","parts":[
                       {"functionCall":{"name":"get_weather","args":{"city":"Paris"},"id":"call_a"}},
                       {"functionCall":{"name":"get_time","args":{"city":"Rome"},"id":"call_b"},
                        "thoughtSignature":"c2ln"}]},
                     {"role":"user","parts":[
                       {"functionResponse":{"id":"call_a","name":"get_weather","response":{"tempC":18}}},
                       {"functionResponse":{"id":"call_b","name":"get_time","response":{"content":"noon"}}}]}]
                    """
                ))
        )
    }

    @Test func samplingOptionsBecomeGenerationConfig() throws {
        let request = try chatRequest(
            """
            {"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.7,"top_p":0.9,
             "max_tokens":100,"max_completion_tokens":200,"stop":["END","STOP"],"n":2,"seed":42,
             "presence_penalty":0.5,"frequency_penalty":-0.5,"reasoning_effort":"medium",
             "logit_bias":{"1":2},"user":"u-1","parallel_tool_calls":true}
            """
        )
        #expect(request.choiceCount == 2)
        #expect(
            request.gemini["generationConfig"]
                == (try json(
                    """
                    {"temperature":0.7,"topP":0.9,"maxOutputTokens":200,"stopSequences":["END","STOP"],
                     "candidateCount":2,"seed":42,"presencePenalty":0.5,"frequencyPenalty":-0.5,
                     "thinkingConfig":{"thinkingBudget":8192}}
                    """
                ))
        )
        // Unknown OpenAI fields are dropped, not forwarded (Gemini would answer 400).
        #expect(request.gemini.objectMembers?.map(\.0) == ["contents", "generationConfig"])
    }

    @Test func singleStopStringAndMaxTokensAreAccepted() throws {
        let request = try chatRequest(
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":"\n\n","max_tokens":5,"n":1}"#
        )
        #expect(request.gemini["generationConfig"] == (try json(#"{"maxOutputTokens":5,"stopSequences":["\n\n"]}"#)))
    }

    @Test(arguments: [("none", 0), ("low", 1024), ("medium", 8192), ("high", 24576)])
    func reasoningEffortSetsTheThinkingBudget(effort: String, budget: Int) throws {
        let request = try chatRequest(
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"\#(effort)"}"#
        )
        #expect(request.gemini["generationConfig"]?["thinkingConfig"]?["thinkingBudget"]?.intValue == budget)
    }

    @Test func jsonModeAndJSONSchemaSetTheResponseMimeType() throws {
        let jsonMode = try chatRequest(
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}"#
        )
        #expect(jsonMode.gemini["generationConfig"] == (try json(#"{"responseMimeType":"application/json"}"#)))

        let schema = #"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#
        let withSchema = try chatRequest(
            """
            {"model":"m","messages":[{"role":"user","content":"x"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"out","strict":true,"schema":\(schema)}}}
            """
        )
        #expect(
            withSchema.gemini["generationConfig"]
                == (try json(#"{"responseMimeType":"application/json","responseJsonSchema":\#(schema)}"#))
        )
    }

    @Test func nullOptionalFieldsCountAsAbsent() throws {
        let request = try chatRequest(
            """
            {"model":"m","messages":[{"role":"user","content":"x"}],"stop":null,"tools":null,"temperature":null,
             "stream":null,"n":null}
            """
        )
        #expect(request.gemini == (try json(#"{"contents":[{"role":"user","parts":[{"text":"x"}]}]}"#)))
    }
}
