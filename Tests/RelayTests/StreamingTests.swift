import Foundation
import KeyPool
import Testing
import Upstream

/// `streamGenerateContent` through the relay: SSE events relayed as they come, tokens counted from
/// the last `usageMetadata`, a failure after the first byte ends the stream with an error event.
@Suite struct StreamingTests {
    static let body = #"{"contents":[{"parts":[{"text":"stream me"}]}]}"#

    @Test func sseEventsArriveOneByOneAndTheLastUsageIsCounted() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "E")) { options in
            options.chunkCount = 4
            options.chunkDelay = .milliseconds(250)
        }
        let response = try await harness.client.send(
            UpstreamRequest(
                method: "POST",
                url: harness.relayURL + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                headers: [("x-goog-api-key", RelayHarness.token), ("Content-Type", "application/json")],
                body: Array(Self.body.utf8)
            )
        )
        #expect(response.status == 200)
        #expect(
            response.headers.first { $0.name.lowercased() == "content-type" }?.value.hasPrefix("text/event-stream")
                == true
        )

        var arrivals: [ContinuousClock.Instant] = []
        var all: [UInt8] = []
        while let chunk = try await response.nextChunk() {
            arrivals.append(.now)
            all += chunk
        }
        let text = String(decoding: all, as: UTF8.self)
        let events = text.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        #expect(events.count == 4)
        #expect(events.allSatisfy { $0.hasPrefix("data: {") })
        // Relayed as they came: the first chunk arrived well before the stream ended.
        let spread = try #require(arrivals.first).duration(to: try #require(arrivals.last))
        // Buffered, everything would arrive at once; relayed, at least one 250 ms gap shows even on a busy machine.
        #expect(spread > .milliseconds(200))

        // Tokens: the last chunk's cumulative promptTokenCount, not the sum over chunks.
        let lastUsage = try #require(try JSONValue.parse(String(events.last!.dropFirst(6)))["usageMetadata"])
        let prompt = try #require(lastUsage["promptTokenCount"]?.intValue)
        await harness.relay.flushUsageRecords()
        let row = try #require(try await harness.store.snapshot().first)
        #expect(row.tpm == prompt)
        await harness.shutdown()
    }

    @Test func anUpstreamErrorAfterTheFirstChunkEndsTheStreamWithAnErrorEvent() async throws {
        let harness = try await RelayHarness(keys: testKeys(2, tag: "X"))
        let reply = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"parts":[{"text":"[[stream-error]]"}]}]}"#
        )
        #expect(reply.status == 200)
        let events = reply.text.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        #expect(events.count >= 2)
        #expect(events.last?.hasPrefix("data: {\"error\"") == true)
        #expect(try await harness.simulatorRequestsTotal() == 1, "a stream that sent bytes is never replayed")
        await harness.shutdown()
    }

    @Test func theStreamedJSONArrayFormIsRelayedWhole() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "J"))
        let reply = try await harness.send("/v1beta/models/gemini-2.5-flash:streamGenerateContent", body: Self.body)
        #expect(reply.status == 200)
        let items = try #require(reply.json?.arrayValue)
        #expect(items.count == 3)
        #expect(items.last?["usageMetadata"] != nil)
        await harness.shutdown()
    }

    @Test func unknownFieldsPassThroughUnchangedBothWays() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "U"))
        let body = #"{"contents":[{"parts":[{"text":"hi"}]}],"futureField":{"x":[1,2.50,"é"]}}"#
        let reply = try await harness.send("/v1beta/models/gemini-2.5-flash:generateContent", body: body)
        #expect(reply.status == 200)
        #expect(reply.json?["simulatorExtension"] != nil)
        let forwarded = try await harness.request("GET", harness.simulatorURL + "/simulator/last-request/body")
        #expect(forwarded.text == body)
        await harness.shutdown()
    }
}
