import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct OpenAICompatibleTests {
    private let clock = TestWallClock("2026-01-15T12:00:30Z")

    private func simulator(_ configure: (inout SimulatorOptions) -> Void = { _ in }) -> GeminiSimulator {
        var options = TestKeys.options()
        configure(&options)
        return GeminiSimulator(options: options, clock: self.clock)
    }

    @Test func chatCompletionAnswersWithSortedKeysPrefixedModelAndUsageIncludingThoughts() async throws {
        let response = await self.simulator().respond(openAIRequest(body: chatBody("What is the weather?")))
        let body = try parse(response)

        #expect(response.status == 200)
        #expect(memberNames(body) == ["choices", "created", "id", "model", "object", "usage"])
        #expect(body["object"] == "chat.completion")
        #expect(body["model"] == "models/gemini-2.5-flash")
        #expect(body["created"]?.intValue == Int(self.clock.now().timeIntervalSince1970))
        #expect(body["id"]?.stringValue?.count == 22)
        let choice = try #require(body["choices"]?.arrayValue?.first)
        #expect(memberNames(choice) == ["finish_reason", "index", "message"])
        #expect(choice["finish_reason"] == "stop")
        #expect(choice["message"] == ["content": "Echo: What is the weather?", "role": "assistant"])
        #expect(memberNames(choice["message"]) == ["content", "role"])
        // Thought tokens are in total_tokens but not in completion_tokens, as Google reports.
        #expect(body["usage"] == ["completion_tokens": 7, "prompt_tokens": 5, "total_tokens": 36])
    }

    @Test func streamSendsDataEventsWithUsageOnTheLastContentChunkThenDone() async throws {
        let response = await self.simulator().respond(
            openAIRequest(
                body: chatBody("Count to five please", model: "models/gemini-2.5-flash", extra: #", "stream": true"#)
            )
        )
        let frames = try await collectFrames(try plan(response))

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/event-stream")
        #expect(frames.count == 4)
        #expect(frames.last == "data: [DONE]\n\n")
        let payloads = try frames.dropLast().map(openAIPayload)
        #expect(frames[0].hasPrefix(#"data: {"choices":[{"delta":{"content":""#))
        #expect(payloads.allSatisfy { memberNames($0).starts(with: ["choices", "created", "id", "model", "object"]) })
        #expect(payloads.allSatisfy { $0["object"] == "chat.completion.chunk" && $0["model"] == "gemini-2.5-flash" })
        #expect(Set(payloads.compactMap { $0["id"] }).count == 1)
        #expect(payloads.map { $0["usage"] == nil } == [true, true, false])
        #expect(payloads.last?["usage"]?["prompt_tokens"] == 5)
        let choices = payloads.compactMap { $0["choices"]?.arrayValue?.first }
        #expect(choices.map { $0["finish_reason"] } == [nil, nil, "stop"])
        #expect(choices.allSatisfy { $0["delta"]?["role"] == "assistant" })
        #expect(choices.compactMap { $0["delta"]?["content"]?.stringValue }.joined() == "Echo: Count to five please")
    }

    @Test func embeddingsTakeAStringOrAListAndCountOneUnitPerInput() async throws {
        let simulator = self.simulator()
        let one = try parse(
            await simulator.respond(
                openAIRequest(
                    "POST",
                    "embeddings",
                    body: #"{"input": "hello world", "model": "gemini-embedding-001", "dimensions": 4}"#
                )
            )
        )
        let many = await simulator.respond(
            openAIRequest(
                "POST",
                "embeddings",
                body: #"{"input": ["hello world", "second text"], "model": "models/gemini-embedding-001"}"#
            )
        )
        let body = try parse(many)

        #expect(memberNames(one) == ["data", "model", "object", "usage"])
        #expect(one["object"] == "list")
        let first = try #require(one["data"]?.arrayValue?.first)
        #expect(memberNames(first) == ["embedding", "index", "object"])
        #expect(first["object"] == "embedding" && first["index"] == 0)
        #expect(first["embedding"]?.arrayValue?.count == 4)
        #expect(many.status == 200)
        let data = try #require(body["data"]?.arrayValue)
        #expect(data.map { $0["index"] } == [0, 1])
        #expect(data.allSatisfy { $0["embedding"]?.arrayValue?.count == GeminiSimulator.defaultEmbeddingDimensions })
        #expect(data[0]["embedding"] != data[1]["embedding"])
        #expect(body["usage"] == ["prompt_tokens": 4, "total_tokens": 4])

        let stats = try parse(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats")))
        #expect(stats["keys"]?.arrayValue?.first?["models"]?["gemini-embedding-001"]?["admitted"] == 3)
    }

    @Test func modelsAreListedInOpenAIShape() async throws {
        let simulator = self.simulator()
        let body = try parse(await simulator.respond(openAIRequest("GET", "models")))

        #expect(body["object"] == "list")
        let data = try #require(body["data"]?.arrayValue)
        #expect(data.count == GeminiSimulator.catalogue.count)
        #expect(data.contains(["id": "models/gemini-2.5-flash", "object": "model", "owned_by": "google"]))
        #expect(data.allSatisfy { memberNames($0) == ["id", "object", "owned_by"] })
        let single = try parse(await simulator.respond(openAIRequest("GET", "models/models/gemini-2.5-pro")))
        #expect(single["id"] == "models/gemini-2.5-pro")
    }

    @Test func errorsAreGooglesEnvelopeInAOneElementList() async throws {
        let simulator = self.simulator()
        let cases: [(HTTPRequest, Int, String)] = [
            (openAIRequest(key: TestKeys.unknown, body: chatBody("hi")), 400, "INVALID_ARGUMENT"),
            (openAIRequest(body: "not json"), 400, "INVALID_ARGUMENT"),
            (openAIRequest(body: #"{"messages": [{"role": "user", "content": "hi"}]}"#), 400, "INVALID_ARGUMENT"),
            (openAIRequest(body: #"{"model": "gemini-2.5-flash"}"#), 400, "INVALID_ARGUMENT"),
            (openAIRequest(body: chatBody("hi", model: "gemini-notfound-1")), 404, "NOT_FOUND"),
            (openAIRequest(key: nil, body: chatBody("hi")), 403, "PERMISSION_DENIED"),
            (openAIRequest("POST", "embeddings", body: #"{"model": "gemini-embedding-001"}"#), 400, "INVALID_ARGUMENT"),
        ]
        for (request, status, googleStatus) in cases {
            let response = await simulator.respond(request)
            let list = try #require(try parse(response).arrayValue)
            #expect(response.status == status)
            #expect(list.count == 1)
            #expect(list.first?["error"]?["code"]?.intValue == status)
            #expect(list.first?["error"]?["status"]?.stringValue == googleStatus)
        }

        let invalid = try parse(await simulator.respond(openAIRequest(key: TestKeys.unknown, body: chatBody("hi"))))
        #expect(detail(invalid.arrayValue?.first ?? [:], "ErrorInfo")?["reason"] == "API_KEY_INVALID")
    }

    @Test func chatIsCountedInTheNativeLedgerAndItsQuota429IsWrapped() async throws {
        let simulator = self.simulator { $0.defaultLimits = Limits(rpm: 2) }

        #expect(await simulator.respond(modelRequest()).status == 200)
        #expect(
            await simulator.respond(openAIRequest(body: chatBody("hi", model: "models/gemini-2.5-flash"))).status == 200
        )
        let refused = await simulator.respond(openAIRequest(body: chatBody("hi")))
        let list = try #require(try parse(refused).arrayValue)
        // The native endpoint shares the same counter, so it is refused too.
        #expect(await simulator.respond(modelRequest()).status == 429)
        // Another key, another counter.
        #expect(await simulator.respond(openAIRequest(key: TestKeys.second, body: chatBody("hi"))).status == 200)

        #expect(refused.status == 429)
        #expect(refused.headers["retry-after"] == nil)
        let error = try #require(list.first)
        #expect(error["error"]?["status"] == "RESOURCE_EXHAUSTED")
        #expect(violations(error).first?["quotaValue"] == "2")
        #expect(violations(error).first?["quotaDimensions"]?["model"] == "gemini-2.5-flash")
        #expect(detail(error, "RetryInfo")?["retryDelay"] == "30s")
    }

    @Test func bearerKeyIsRecordedWithoutTheKey() async throws {
        let simulator = self.simulator()
        _ = await simulator.respond(openAIRequest(key: TestKeys.second, body: chatBody("hi")))

        let response = await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/last-request"))
        let document = try parse(response)

        #expect(!text(response).contains(TestKeys.second))
        #expect(document["path"] == "/v1beta/openai/chat/completions")
        #expect(document["api_key"]?["source"] == "bearer")
        #expect(document["api_key"]?["index"] == 1)
        #expect(document["api_key"]?["kind"] == "gemini")
    }

    @Test func nGivesSeveralChoicesWithDistinctTextInEveryChunk() async throws {
        let simulator = self.simulator()
        let whole = try parse(await simulator.respond(openAIRequest(body: chatBody("hi there", extra: #", "n": 2"#))))
        let contents = whole["choices"]?.arrayValue?.map { $0["message"]?["content"] }
        #expect(contents == ["Echo: hi there", "Echo: hi there (2)"])
        #expect(whole["choices"]?.arrayValue?.map { $0["index"] } == [0, 1])

        let response = await simulator.respond(
            openAIRequest(body: chatBody("hi there", extra: #", "n": 2, "stream": true"#))
        )
        let payloads = try await collectFrames(try plan(response)).dropLast().map(openAIPayload)
        #expect(payloads.allSatisfy { $0["choices"]?.arrayValue?.map { $0["index"] } == [0, 1] })
        let joined = (0..<2).map { index in
            payloads.compactMap { $0["choices"]?.arrayValue?[index]["delta"]?["content"]?.stringValue }.joined()
        }
        #expect(joined == ["Echo: hi there", "Echo: hi there (2)"])
    }
}
