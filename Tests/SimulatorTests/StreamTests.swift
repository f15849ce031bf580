import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct StreamTests {
    private let clock = TestWallClock("2026-01-15T12:00:00.25Z")

    private func simulator(chunks: Int = 3) -> GeminiSimulator {
        var options = TestKeys.options()
        options.chunkCount = chunks
        return GeminiSimulator(options: options, clock: self.clock)
    }

    @Test func sseEventsAreFramedExactlyWithCumulativeUsage() async throws {
        let response = await self.simulator().respond(
            modelRequest(
                "gemini-2.5-flash",
                "streamGenerateContent",
                query: [("alt", "sse")],
                body: generateBody("Count to five please")
            )
        )
        let frames = try await collectFrames(try plan(response))

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/event-stream")
        #expect(frames.count == 3)
        var payloads: [JSONValue] = []
        for frame in frames {
            #expect(frame.hasPrefix("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "))
            #expect(frame.hasSuffix("}\r\n\r\n"))
            // One event is one line: the only line breaks are the terminating CRLF CRLF.
            #expect(Array(frame.utf8).dropLast(4).contains { $0 == 10 || $0 == 13 } == false)
            payloads.append(try ssePayload(frame))
        }
        #expect(frames[0].contains(#"],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 5,"#))

        let usages = payloads.compactMap { $0["usageMetadata"] }
        #expect(usages.allSatisfy { $0["promptTokenCount"] == 5 })
        let candidates = usages.compactMap { $0["candidatesTokenCount"]?.intValue }
        #expect(candidates == candidates.sorted())
        for usage in usages {
            let sum = [usage["promptTokenCount"], usage["candidatesTokenCount"], usage["thoughtsTokenCount"]]
                .compactMap { $0?.intValue }.reduce(0, +)
            #expect(usage["totalTokenCount"]?.intValue == sum)
        }
        #expect(Set(payloads.compactMap { $0["responseId"] }).count == 1)
        #expect(
            payloads.allSatisfy {
                $0["simulatorExtension"]?["kept"] == true && $0["modelVersion"] == "gemini-2.5-flash"
            }
        )
        #expect(payloads.map { $0["candidates"]?.arrayValue?.first?["finishReason"] } == [nil, nil, "STOP"])

        let streamed = payloads.compactMap {
            $0["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["text"]?.stringValue
        }
        #expect(streamed.joined() == "Echo: Count to five please")
        let whole = try parse(await self.simulator().respond(modelRequest(body: generateBody("Count to five please"))))
        #expect(whole["usageMetadata"] == usages.last)
    }

    @Test func withoutAltSSETheStreamIsAJSONArrayOfPrettyElements() async throws {
        let response = await self.simulator().respond(modelRequest("gemini-2.5-flash", "streamGenerateContent"))
        let frames = try await collectFrames(try plan(response))
        let joined = frames.joined()

        #expect(response.headers["content-type"] == "application/json; charset=UTF-8")
        #expect(frames.count == 4)
        #expect(frames[0].hasPrefix("[{\n  \"candidates\": [\n    {\n"))
        #expect(frames[1].hasPrefix("\r\n,\r\n{\n"))
        #expect(frames[3] == "\r\n]")
        let array = try #require(try JSONValue.parse(joined).arrayValue)
        #expect(array.count == 3)
        #expect(array.last?["candidates"]?.arrayValue?.first?["finishReason"] == "STOP")
    }

    @Test func streamErrorMarkerSendsAnInternalErrorEventAfterTheFirstChunk() async throws {
        let request = modelRequest(
            "gemini-2.5-flash",
            "streamGenerateContent",
            query: [("alt", "sse")],
            body: generateBody("please fail [[stream-error]] midway")
        )
        let frames = try await collectFrames(try plan(await self.simulator(chunks: 1).respond(request)))

        #expect(frames.count == 2)
        #expect(!frames[0].contains("finishReason"))
        #expect(
            frames[1]
                == "data: {\"error\": {\"code\": 500,\"message\": \"An internal error has occurred. Please retry or "
                + "report in https://developers.generativeai.google/guide/troubleshooting\","
                + "\"status\": \"INTERNAL\"}}\r\n\r\n"
        )

        let arrayFrames = try await collectFrames(
            try plan(
                await self.simulator().respond(
                    modelRequest("m", "streamGenerateContent", body: generateBody("x [[stream-error]]"))
                )
            )
        )
        let elements = try #require(try JSONValue.parse(arrayFrames.joined()).arrayValue)
        #expect(elements.last?["error"]?["status"] == "INTERNAL")
    }

    @Test func blockMarkerAnswersABlockedPromptWithoutCandidates() async throws {
        let response = await self.simulator().respond(modelRequest(body: generateBody("[[block]] something")))
        let body = try parse(response)

        #expect(response.status == 200)
        #expect(body["candidates"] == nil)
        #expect(body["promptFeedback"]?["blockReason"] == "PROHIBITED_CONTENT")
        #expect(body["usageMetadata"]?["totalTokenCount"] == body["usageMetadata"]?["promptTokenCount"])

        let stream = await self.simulator().respond(
            modelRequest(
                "gemini-2.5-flash",
                "streamGenerateContent",
                query: [("alt", "sse")],
                body: generateBody("[[block]]")
            )
        )
        let frames = try await collectFrames(try plan(stream))
        #expect(frames.count == 1)
        #expect(frames[0].contains("\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"}"))
    }

    @Test func vertexAnswersHaveNoIndexAndUsageOnlyOnTheLastChunk() async throws {
        let simulator = self.simulator()
        let path = "/v1beta1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
        let request = HTTPRequest(
            method: "POST",
            path: path,
            query: [("alt", "sse")],
            headers: ["x-goog-api-key": TestKeys.first],
            body: generateBody("vertex please")
        )
        let frames = try await collectFrames(try plan(await simulator.respond(request)))
        let payloads = try frames.map(ssePayload)

        #expect(
            frames.allSatisfy { $0.hasPrefix("data: {\"candidates\": [{\"content\": {\"role\": \"model\",\"parts\": ") }
        )
        #expect(frames.allSatisfy { !$0.contains("\"index\"") })
        #expect(payloads.dropLast().allSatisfy { $0["usageMetadata"] == ["trafficType": "ON_DEMAND"] })
        let last = try #require(payloads.last?["usageMetadata"])
        #expect(last["trafficType"] == "ON_DEMAND")
        #expect(last["promptTokenCount"] == 3)
        #expect(payloads.allSatisfy { $0["createTime"]?.stringValue == "2026-01-15T12:00:00.250000Z" })

        let whole = await simulator.respond(
            HTTPRequest(
                method: "POST",
                path: "/v1/publishers/google/models/gemini-2.5-flash:generateContent",
                headers: ["x-goog-api-key": TestKeys.first],
                body: generateBody("vertex please")
            )
        )
        let body = try parse(whole)
        #expect(body["candidates"]?.arrayValue?.first?["index"] == nil)
        #expect(body["usageMetadata"]?["trafficType"] == "ON_DEMAND")
    }

    @Test func vertex429HasNoQuotaFailure() async throws {
        var options = TestKeys.options()
        options.defaultLimits = Limits(rpm: 0)
        let simulator = GeminiSimulator(options: options, clock: self.clock)
        let request = HTTPRequest(
            method: "POST",
            path: "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent",
            headers: ["x-goog-api-key": TestKeys.first],
            body: generateBody("hi")
        )

        let response = await simulator.respond(request)

        #expect(response.status == 429)
        #expect(try parse(response)["error"]?["details"] == nil)
        #expect(
            try parse(response)["error"]?["message"]?.stringValue?.hasPrefix(
                "Resource exhausted. Please try again later."
            ) == true
        )
    }

    @Test func writingStopsWhenTheSinkThrows() async throws {
        let streamPlan = StreamPlan(
            format: .serverSentEvents,
            events: [["a": 1], ["b": 2], ["c": 3]],
            chunkDelay: .zero
        )
        var written = 0
        struct Gone: Error {}

        await #expect(throws: Gone.self) {
            try await streamPlan.write { _ in
                written += 1
                if written == 2 { throw Gone() }
            }
        }
        #expect(written == 2)
    }
}
