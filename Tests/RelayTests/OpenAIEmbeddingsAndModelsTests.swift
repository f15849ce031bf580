import Foundation
import KeyPool
import Relay
import Testing

/// Embeddings and model lists translate both ways between OpenAI and Gemini shapes.
@Suite struct OpenAIEmbeddingsAndModelsTests {
    @Test func singleInputBecomesOneBatchRequest() throws {
        let request = try EmbeddingsRequest.translate(
            Array(#"{"model":"gemini-embedding-001","input":"hi","dimensions":768}"#.utf8)
        )
        #expect(request.model == "gemini-embedding-001")
        #expect(request.count == 1)
        #expect(
            request.gemini
                == (try json(
                    """
                    {"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hi"}]},
                                  "outputDimensionality":768}]}
                    """
                ))
        )
    }

    @Test func batchInputKeepsOrderAndPrefixedModels() throws {
        let request = try EmbeddingsRequest.translate(Array(#"{"model":"models/e","input":["a","b"]}"#.utf8))
        #expect(request.count == 2)
        #expect(
            request.gemini
                == (try json(
                    """
                    {"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]}},
                                 {"model":"models/e","content":{"parts":[{"text":"b"}]}}]}
                    """
                ))
        )
    }

    @Test(arguments: [
        (#"{"model":"e","input":[1,2,3]}"#, "input"),
        (#"{"model":"e","input":[[1,2]]}"#, "input"),
        (#"{"model":"e","input":""}"#, "input"),
        (#"{"model":"e","input":[]}"#, "input"),
        (#"{"model":"e","input":["a",""]}"#, "input"),
        (#"{"model":"e"}"#, "input"),
        (#"{"input":"a"}"#, "model"),
        (#"{"model":"e","input":"a","dimensions":0}"#, "dimensions"),
        (#"{"model":"e","input":"a","encoding_format":"hex"}"#, "encoding_format"),
    ])
    func invalidEmbeddingsRequestIsRefused(body: String, param: String) {
        #expect(throws: OpenAIError.self) { try EmbeddingsRequest.translate(Array(body.utf8)) }
        do {
            _ = try EmbeddingsRequest.translate(Array(body.utf8))
        } catch {
            #expect(error.status == 400 && error.param == param)
        }
    }

    @Test func tooManyInputsAreRefused() {
        let inputs = Array(repeating: #""a""#, count: 2049).joined(separator: ",")
        #expect(throws: OpenAIError.self) {
            try EmbeddingsRequest.translate(Array(#"{"model":"e","input":[\#(inputs)]}"#.utf8))
        }
    }

    @Test func embeddingsResponseIsAnOpenAIList() throws {
        let list = EmbeddingsResponse.translate(
            gemini: try json(#"{"embeddings":[{"values":[0.5,-1]},{"values":[0.25]}]}"#),
            model: "gemini-embedding-001"
        )
        #expect(
            list
                == (try json(
                    """
                    {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1]},
                                             {"object":"embedding","index":1,"embedding":[0.25]}],
                     "model":"gemini-embedding-001","usage":{"prompt_tokens":0,"total_tokens":0}}
                    """
                ))
        )
    }

    @Test func base64EncodingWritesLittleEndianFloats() throws {
        let request = try EmbeddingsRequest.parse(Array(#"{"model":"e","input":"a","encoding_format":"base64"}"#.utf8))
        #expect(request.encoding == .base64)
        let list = EmbeddingsResponse.translate(
            gemini: try json(#"{"embeddings":[{"values":[1.0,-2]}]}"#),
            model: "e",
            encoding: .base64
        )
        let text = try #require(list["data"]?.arrayValue?.first?["embedding"]?.stringValue)
        let bytes = try #require(Data(base64Encoded: text))
        #expect(Array(bytes) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
    }

    @Test func modelListDropsTheModelsPrefix() throws {
        let list = ModelList.translate(
            gemini: try json(
                """
                {"models":[{"name":"models/gemini-2.5-flash","displayName":"Gemini 2.5 Flash"},
                           {"name":"models/gemini-embedding-001"}],"nextPageToken":"x"}
                """
            )
        )
        #expect(
            list
                == (try json(
                    """
                    {"object":"list","data":[
                      {"id":"gemini-2.5-flash","object":"model","created":0,"owned_by":"google"},
                      {"id":"gemini-embedding-001","object":"model","created":0,"owned_by":"google"}]}
                    """
                ))
        )
    }
}
