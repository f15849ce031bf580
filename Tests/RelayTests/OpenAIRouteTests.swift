import Foundation
import KeyPool
import Testing
import Upstream

/// The OpenAI-compatible surface through the live stack: OpenAI-shaped errors, no reservation
/// for bad input, stream edge cases, and the Vertex Express routes on their own key pool.
@Suite struct OpenAIRouteTests {
    static let chat = "/v1/chat/completions"

    static func bearer(_ token: String = RelayHarness.token) -> [(name: String, value: String)] {
        [("Authorization", "Bearer \(token)")]
    }

    @Test func badInputGetsAnOpenAIShaped400AndReservesNothing() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "OB"))
        let tenThousand =
            "[" + Array(repeating: #"{"role":"user","content":"x"}"#, count: 10_000).joined(separator: ",") + "]"
        let cases: [(String, String)] = [
            ("not JSON", "{"),
            ("messages missing", #"{"model":"gemini-2.5-flash"}"#),
            ("messages of a wrong type", #"{"model":"gemini-2.5-flash","messages":"hello"}"#),
            ("unknown role", #"{"model":"gemini-2.5-flash","messages":[{"role":"wizard","content":"x"}]}"#),
            (
                "temperature of a wrong type",
                #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#
            ),
            ("10,000 messages", #"{"model":"gemini-2.5-flash","messages":\#(tenThousand)}"#),
            (
                "invalid image data",
                #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@@not-base64@@@"}}]}]}"#
            ),
            ("bad model name", #"{"model":"../etc","messages":[{"role":"user","content":"x"}]}"#),
        ]
        for (name, body) in cases {
            let reply = try await harness.send(Self.chat, body: body, token: nil, headers: Self.bearer())
            #expect(reply.status == 400, "\(name): \(reply.text.prefix(200))")
            #expect(reply.json?["error"]?["type"]?.stringValue == "invalid_request_error", "\(name)")
            #expect(reply.json?["error"]?["message"]?.stringValue?.isEmpty == false, "\(name)")
        }
        #expect(try await harness.simulatorRequestsTotal() == 0)
        #expect(try await harness.store.snapshot().isEmpty, "no reservation was made")
        await harness.shutdown()
    }

    @Test func aRequestTheUpstreamRejectsIsA400AndPenalisesNoKey() async throws {
        let harness = try await RelayHarness(keys: testKeys(2, tag: "OR"))
        let reply = try await harness.send(
            Self.chat,
            body: #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"[[invalid-argument]]"}]}"#,
            token: nil,
            headers: Self.bearer()
        )
        #expect(reply.status == 400)
        #expect(reply.json?["error"]?["type"]?.stringValue == "invalid_request_error")
        #expect(try await harness.storedKeys().allSatisfy { $0.isActive && $0.failureCount == 0 })
        #expect(try await harness.simulatorRequestsTotal() == 1)
        await harness.shutdown()
    }

    @Test func theRelaysOwn429IsOpenAIShapedWithRetryAfter() async throws {
        let harness = try await RelayHarness(
            keys: testKeys(1, tag: "OL"),
            environment: [
                "KEYRELAY_RATE_LIMITS": singleModelTable(rpm: 1, rpd: 100), "KEYRELAY_EXHAUSTED_POLICY": "reject",
            ]
        )
        _ = try await RelayHarness.startOfUsableMinute(needing: 5)
        let body = #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}]}"#
        #expect(try await harness.send(Self.chat, body: body, token: nil, headers: Self.bearer()).status == 200)
        let refused = try await harness.send(Self.chat, body: body, token: nil, headers: Self.bearer())
        #expect(refused.status == 429)
        #expect(refused.json?["error"]?["type"]?.stringValue == "rate_limit_error")
        #expect(refused.header("Retry-After").flatMap(Int.init) != nil)
        await harness.shutdown()
    }

    @Test func anSSEEventSplitAcrossReadsIsRelayedIntact() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "OS"))
        let reply = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"parts":[{"text":"[[sse-split]] whole events"}]}]}"#
        )
        #expect(reply.status == 200)
        let events = reply.text.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        #expect(events.count >= 2)
        for event in events {
            let json = try #require(
                try? JSONValue.parse(String(event.dropFirst("data: ".count))),
                "event parses: \(event)"
            )
            #expect(json["candidates"] != nil)
        }
        await harness.shutdown()
    }

    @Test func aStreamThatStopsMidWayEndsWithAnErrorNotANormalFinish() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "OD"))
        let openAI = try await harness.send(
            Self.chat,
            body:
                #"{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"[[stream-drop]]"}]}"#,
            token: nil,
            headers: Self.bearer()
        )
        #expect(openAI.status == 200)
        let frames = openAI.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(frames.last?.hasPrefix("data: {\"error\"") == true, "last frame: \(frames.last ?? "none")")
        #expect(!openAI.text.contains("[DONE]"))

        let gemini = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"parts":[{"text":"[[stream-drop]]"}]}]}"#
        )
        let events = gemini.text.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        #expect(events.last?.hasPrefix("data: {\"error\"") == true)
        await harness.relay.flushUsageRecords()
        #expect(try await harness.storedKeys().first?.lastError != nil, "counted as a failure of the call")
        await harness.shutdown()
    }

    @Test func vertexRoutesUseTheVertexPool() async throws {
        let gemini = testKeys(1, tag: "VG")
        let vertex = ["AQ.VERTEXTESTKEY0000000000000000000000000000000000001"]
        let harness = try await RelayHarness(keys: gemini, vertexKeys: vertex)
        let body = #"{"contents":[{"role":"user","parts":[{"text":"hello vertex"}]}]}"#
        for path in [
            "/vertex-express/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent",
            "/vertex-express/v1/publishers/google/models/gemini-2.5-flash:generateContent",
            "/vertex-express/v1beta/models/gemini-2.5-flash:generateContent",
        ] {
            let reply = try await harness.send(path, body: body)
            #expect(reply.status == 200, "\(path): \(reply.text.prefix(200))")
        }
        let stats = try await harness.request("GET", harness.simulatorURL + "/simulator/stats").json
        let entries = stats?["keys"]?.arrayValue ?? []
        let vertexAdmitted = entries.filter { $0["kind"]?.stringValue == "vertex" }
            .compactMap { $0["models"]?["gemini-2.5-flash"]?["admitted"]?.intValue }.reduce(0, +)
        #expect(vertexAdmitted == 3)
        #expect(try await harness.admitted() == [0], "the Gemini key was not used")
        let unknown = try await harness.send(
            "/vertex-express/v1beta1/publishers/google/models/gemini-2.5-flash:embedContent",
            body: body
        )
        #expect(unknown.status == 404)
        await harness.shutdown()
    }

    @Test func aBatchLargerThanAWholeWindowIsA400NotAnEndless429() async throws {
        let harness = try await RelayHarness(
            keys: testKeys(1, tag: "OW"),
            environment: ["KEYRELAY_RATE_LIMITS": singleModelTable("text-embedding", rpm: 1, rpd: 100)]
        )
        let reply = try await harness.send(
            "/v1/embeddings",
            body: #"{"model":"text-embedding-004","input":["a","b"]}"#,
            token: nil,
            headers: Self.bearer()
        )
        #expect(reply.status == 400)
        #expect(reply.json?["error"]?["param"]?.stringValue == "input")
        #expect(try await harness.simulatorRequestsTotal() == 0)
        await harness.shutdown()
    }

    @Test func openAIOnlyPathsAnswerInOpenAIsShapeEvenWhenUnknown() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "OU"))
        let unknown = try await harness.send("/v1/completions", body: "{}", token: nil, headers: Self.bearer())
        #expect(unknown.status == 404)
        #expect(unknown.json?["error"]?["type"]?.stringValue == "not_found_error")
        let wrongMethod = try await harness.send("GET", Self.chat, token: nil, headers: Self.bearer())
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.json?["error"]?["type"] != nil)
        let noTools = try await harness.send(
            Self.chat,
            body: #"{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}"#,
            token: nil,
            headers: Self.bearer()
        )
        #expect(noTools.status == 400)
        #expect(noTools.json?["error"]?["param"]?.stringValue == "tool_choice")
        await harness.shutdown()
    }

    @Test func aStreamErrorIsReportedOnceAndTheStreamEnds() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "OE"))
        let reply = try await harness.send(
            Self.chat,
            body:
                #"{"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"[[stream-error]]"}]}"#,
            token: nil,
            headers: Self.bearer()
        )
        let frames = reply.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(frames.filter { $0.hasPrefix("data: {\"error\"") }.count == 1)
        #expect(frames.last?.hasPrefix("data: {\"error\"") == true)
        await harness.shutdown()
    }
}
