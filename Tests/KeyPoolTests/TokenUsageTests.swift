import KeyPool
import Testing

@Suite struct TokenUsageTests {
    @Test func inputCountsPromptAndToolUseTokens() throws {
        let response = try JSONValue.parse(
            #"""
            {"candidates": [], "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 13,
              "toolUsePromptTokenCount": 4, "thoughtsTokenCount": 30, "totalTokenCount": 58}}
            """#
        )
        #expect(TokenUsage.from(response: response) == TokenUsage(inputTokens: 15, totalTokens: 58))
    }

    @Test func missingCountsAreZero() throws {
        let onlyTotal = try JSONValue.parse(#"{"usageMetadata": {"totalTokenCount": 24}}"#)
        #expect(TokenUsage.from(response: onlyTotal) == TokenUsage(inputTokens: 0, totalTokens: 24))
        let onlyPrompt = try JSONValue.parse(#"{"usageMetadata": {"promptTokenCount": 7, "trafficType": "ON_DEMAND"}}"#)
        #expect(TokenUsage.from(response: onlyPrompt) == TokenUsage(inputTokens: 7, totalTokens: 0))
        let garbled = try JSONValue.parse(
            #"{"usageMetadata": {"promptTokenCount": "7", "totalTokenCount": -3, "toolUsePromptTokenCount": 2}}"#
        )
        #expect(TokenUsage.from(response: garbled) == TokenUsage(inputTokens: 2, totalTokens: 0))
    }

    @Test func nilWithoutUsage() throws {
        #expect(TokenUsage.from(response: try JSONValue.parse(#"{"candidates": []}"#)) == nil)
        #expect(TokenUsage.from(response: try JSONValue.parse(#"{"usageMetadata": {}}"#)) == nil)
        #expect(TokenUsage.from(response: try JSONValue.parse(#"{"usageMetadata": {"trafficType": "X"}}"#)) == nil)
        #expect(TokenUsage.from(response: try JSONValue.parse(#"{"usageMetadata": 5}"#)) == nil)
        #expect(TokenUsage.from(response: .null) == nil)
    }

    @Test func streamedArrayTakesTheLastUsageNotTheSum() throws {
        let stream = try JSONValue.parse(
            #"""
            [{"usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 6}},
             {"usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 20}},
             {"candidates": []}]
            """#
        )
        #expect(TokenUsage.from(response: stream) == TokenUsage(inputTokens: 5, totalTokens: 20))
    }
}
