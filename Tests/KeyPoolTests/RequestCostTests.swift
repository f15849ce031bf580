import KeyPool
import Testing

@Suite struct RequestCostTests {
    @Test func batchEmbeddingCostsOnePerText() throws {
        let body = try JSONValue.parse(
            #"""
            {"requests": [
              {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
              {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}},
              {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "c"}]}}
            ]}
            """#
        )
        #expect(RequestCost.of(method: "batchEmbedContents", body: body) == 3)
        #expect(RequestCost.of(method: "models/gemini-embedding-001:batchEmbedContents", body: body) == 3)
    }

    @Test func batchEmbeddingCostsAtLeastOne() throws {
        #expect(RequestCost.of(method: "batchEmbedContents", body: try JSONValue.parse(#"{"requests": []}"#)) == 1)
        #expect(RequestCost.of(method: "batchEmbedContents", body: try JSONValue.parse(#"{"requests": 4}"#)) == 1)
        #expect(RequestCost.of(method: "batchEmbedContents", body: nil) == 1)
    }

    @Test func openAIEmbeddingListCostsOnePerText() throws {
        #expect(RequestCost.of(method: "embeddings", body: try JSONValue.parse(#"{"input": ["a", "b"]}"#)) == 2)
        #expect(RequestCost.of(method: "embeddings", body: try JSONValue.parse(#"{"input": "a"}"#)) == 1)
    }

    @Test(
        arguments: ["generateContent", "streamGenerateContent", "embedContent", "countTokens", "", "chat/completions"]
    )
    func everythingElseCostsOne(method: String) throws {
        #expect(RequestCost.of(method: method, body: try JSONValue.parse(#"{"requests": [1, 2, 3]}"#)) == 1)
    }
}
