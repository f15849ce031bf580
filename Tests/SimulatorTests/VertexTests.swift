import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct VertexTests {
    private static let vertexKey = "AQ.TESTvertexkey000000000000000000000000000001"
    private let clock = TestWallClock("2026-01-15T12:00:00.25Z")

    private func simulator(_ configure: (inout SimulatorOptions) -> Void = { _ in }) -> GeminiSimulator {
        var options = TestKeys.options()
        options.vertexKeys = [APIKey(Self.vertexKey)!]
        configure(&options)
        return GeminiSimulator(options: options, clock: self.clock)
    }

    @Test func vertexKeysWorkOnlyOnVertexPathsAndGeminiKeysOnlyOnGeminiPaths() async throws {
        let simulator = self.simulator()

        for version in ["v1", "v1beta1"] {
            #expect(await simulator.respond(vertexRequest(version: version, key: Self.vertexKey)).status == 200)
        }
        let geminiOnVertex = await simulator.respond(vertexRequest(key: TestKeys.first))
        let vertexOnGemini = await simulator.respond(modelRequest(key: Self.vertexKey))
        let vertexOnOpenAI = await simulator.respond(openAIRequest(key: Self.vertexKey, body: chatBody("hi")))

        #expect(geminiOnVertex.status == 400)
        #expect(detail(try parse(geminiOnVertex), "ErrorInfo")?["reason"] == "API_KEY_INVALID")
        #expect(detail(try parse(geminiOnVertex), "ErrorInfo")?["metadata"]?["service"] == "aiplatform.googleapis.com")
        #expect(vertexOnGemini.status == 400)
        #expect(detail(try parse(vertexOnGemini), "ErrorInfo")?["reason"] == "API_KEY_INVALID")
        #expect(vertexOnOpenAI.status == 400)
        #expect(await simulator.respond(modelRequest()).status == 200)
    }

    @Test func withoutVertexKeysVertexPathsAcceptTheGeminiKeys() async throws {
        let simulator = GeminiSimulator(options: TestKeys.options(), clock: self.clock)
        #expect(await simulator.respond(vertexRequest(key: TestKeys.first)).status == 200)
    }

    @Test func vertexAnswersStreamsAndCountTokensHaveVertexShape() async throws {
        let simulator = self.simulator()

        let body = try parse(await simulator.respond(vertexRequest(key: Self.vertexKey)))
        let candidate = try #require(body["candidates"]?.arrayValue?.first)
        #expect(memberNames(candidate["content"]) == ["role", "parts"])
        #expect(candidate["index"] == nil)
        #expect(body["usageMetadata"]?["trafficType"] == "ON_DEMAND")
        #expect(body["createTime"] == "2026-01-15T12:00:00.250000Z")

        let sse = try await collectFrames(
            try plan(
                await simulator.respond(
                    vertexRequest("streamGenerateContent", version: "v1", key: Self.vertexKey, query: [("alt", "sse")])
                )
            )
        ).map(ssePayload)
        #expect(sse.count == 3)
        #expect(sse.dropLast().allSatisfy { $0["usageMetadata"] == ["trafficType": "ON_DEMAND"] })
        #expect(sse.last?["usageMetadata"]?["totalTokenCount"] != nil)

        let array = try await collectFrames(
            try plan(await simulator.respond(vertexRequest("streamGenerateContent", key: Self.vertexKey)))
        )
        let elements = try #require(try JSONValue.parse(array.joined()).arrayValue)
        #expect(elements.count == 3)
        #expect(
            elements.allSatisfy { memberNames($0["candidates"]?.arrayValue?.first?["content"]) == ["role", "parts"] }
        )
        #expect(elements.last?["candidates"]?.arrayValue?.first?["finishReason"] == "STOP")

        let count = try parse(await simulator.respond(vertexRequest("countTokens", key: Self.vertexKey)))
        #expect(count["totalTokens"] == 3)
        #expect(count["totalBillableCharacters"] == 13)
    }

    @Test func statsListVertexKeysWithTheirKind() async throws {
        let simulator = self.simulator()
        _ = await simulator.respond(vertexRequest(key: Self.vertexKey))

        let response = await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats"))
        let keys = try #require(try parse(response)["keys"]?.arrayValue)

        #expect(!text(response).contains(Self.vertexKey))
        #expect(keys.map { $0["kind"] } == ["gemini", "gemini", "vertex"])
        #expect(keys.map { $0["index"] } == [0, 1, 0])
        #expect(keys[2]["fingerprint"]?.stringValue == APIKey(Self.vertexKey)!.fingerprint.description)
        #expect(keys[2]["models"]?["gemini-2.5-flash"]?["admitted"] == 1)
        #expect(keys[0]["models"] == [:])
    }

    @Test func vertexKeysOptionIsParsedAndMayStandAlone() throws {
        let both = try SimulatorOptions.parse(arguments: [
            "--keys", "k-aaaaaaaa", "--vertex-keys", "v-bbbbbbbb,v-cccccccc",
        ])
        #expect(both.keys == [APIKey("k-aaaaaaaa")!])
        #expect(both.vertexKeys == ["v-bbbbbbbb", "v-cccccccc"].compactMap(APIKey.init))

        let alone = try SimulatorOptions.parse(arguments: [
            "--vertex-keys", "v-bbbbbbbb", "--suspended-keys", "v-bbbbbbbb",
        ])
        #expect(alone.keys.isEmpty)
        #expect(alone.suspendedKeys == [APIKey("v-bbbbbbbb")!])
        #expect(SimulatorOptions.helpText.contains("--vertex-keys"))

        #expect {
            _ = try SimulatorOptions.parse(arguments: ["--keys", "k-aaaaaaaa", "--vertex-keys", " , "])
        } throws: { ($0 as? SimulatorOptionsError)?.flag == "--vertex-keys" }
    }
}
