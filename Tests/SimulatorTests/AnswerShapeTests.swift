import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct AnswerShapeTests {
    private let simulator: GeminiSimulator = {
        var options = TestKeys.options()
        options.chunkCount = 3
        return GeminiSimulator(options: options, clock: TestWallClock("2026-01-15T12:00:00Z"))
    }()

    private func texts(_ payload: JSONValue) -> [String?] {
        (payload["candidates"]?.arrayValue ?? []).map {
            $0["content"]?["parts"]?.arrayValue?.first?["text"]?.stringValue
        }
    }

    @Test func candidateCountGivesThatManyIndexedCandidatesWithDistinctText() async throws {
        let config = #", "generationConfig": {"candidateCount": 3}"#
        let body = try parse(await self.simulator.respond(modelRequest(body: generateBody("hi", extra: config))))

        let candidates = try #require(body["candidates"]?.arrayValue)
        #expect(candidates.map { $0["index"] } == [0, 1, 2])
        #expect(self.texts(body) == ["Echo: hi", "Echo: hi (2)", "Echo: hi (3)"])
        #expect(candidates.allSatisfy { $0["finishReason"] == "STOP" })
        // Output tokens are those of every candidate: 2 + 3 + 3.
        #expect(body["usageMetadata"]?["candidatesTokenCount"] == 8)
    }

    @Test func streamedCandidatesEachGetTheirDeltaInEveryChunk() async throws {
        let response = await self.simulator.respond(
            modelRequest(
                "gemini-2.5-flash",
                "streamGenerateContent",
                query: [("alt", "sse")],
                body: generateBody("hello", extra: #", "generationConfig": {"candidateCount": 2}"#)
            )
        )
        let payloads = try await collectFrames(try plan(response)).map(ssePayload)

        #expect(payloads.count == 3)
        #expect(payloads.allSatisfy { $0["candidates"]?.arrayValue?.map { $0["index"] } == [0, 1] })
        let joined = (0..<2).map { index in payloads.compactMap { self.texts($0)[index] }.joined() }
        #expect(joined == ["Echo: hello", "Echo: hello (2)"])
        let finishes = payloads.last?["candidates"]?.arrayValue?.map { $0["finishReason"] }
        #expect(finishes == ["STOP", "STOP"])
    }

    @Test func safetyMarkerGivesACandidateWithoutContent() async throws {
        let body = try parse(await self.simulator.respond(modelRequest(body: generateBody("x [[safety]]"))))
        let candidate = try #require(body["candidates"]?.arrayValue?.first)

        #expect(candidate["finishReason"] == "SAFETY")
        #expect(candidate["content"] == nil)
        #expect(candidate["safetyRatings"]?.arrayValue?.contains { $0["blocked"] == true } == true)
        #expect(body["usageMetadata"]?["candidatesTokenCount"] == nil)

        let openAI = try parse(await self.simulator.respond(openAIRequest(body: chatBody("x [[safety]]"))))
        #expect(openAI["choices"]?.arrayValue?.first?["finish_reason"] == "content_filter")
        #expect(openAI["choices"]?.arrayValue?.first?["message"] == ["role": "assistant"])
    }

    @Test func maxTokensMarkerSpendsTheBudgetOnThoughtsWithoutText() async throws {
        let config = #", "generationConfig": {"maxOutputTokens": 50}"#
        let body = try parse(
            await self.simulator.respond(modelRequest(body: generateBody("think [[max-tokens]]", extra: config)))
        )
        let candidate = try #require(body["candidates"]?.arrayValue?.first)
        let usage = try #require(body["usageMetadata"])

        #expect(candidate["finishReason"] == "MAX_TOKENS")
        #expect(candidate["content"] == nil)
        #expect(usage["thoughtsTokenCount"] == 50)
        #expect(usage["candidatesTokenCount"] == nil)
        #expect(usage["totalTokenCount"]?.intValue == (usage["promptTokenCount"]?.intValue ?? 0) + 50)

        let stream = await self.simulator.respond(
            modelRequest(
                "gemini-2.5-flash",
                "streamGenerateContent",
                query: [("alt", "sse")],
                body: generateBody("[[max-tokens]]")
            )
        )
        let payloads = try await collectFrames(try plan(stream)).map(ssePayload)
        #expect(payloads.count == 1)
        #expect(payloads.first?["candidates"]?.arrayValue?.first?["finishReason"] == "MAX_TOKENS")
        #expect(payloads.first?["usageMetadata"]?["thoughtsTokenCount"] == 64)

        let openAI = try parse(await self.simulator.respond(openAIRequest(body: chatBody("[[max-tokens]]"))))
        #expect(openAI["choices"]?.arrayValue?.first?["finish_reason"] == "length")
    }

    @Test func thinkingModelsStillReportThoughtTokens() async throws {
        let thinking = try parse(await self.simulator.respond(modelRequest("gemini-2.5-pro")))
        let plain = try parse(await self.simulator.respond(modelRequest("gemini-2.0-flash")))

        #expect(thinking["usageMetadata"]?["thoughtsTokenCount"] == 24)
        #expect(plain["usageMetadata"]?["thoughtsTokenCount"] == nil)
    }
}
