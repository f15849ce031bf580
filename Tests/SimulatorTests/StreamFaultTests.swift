import Foundation
import HTTPServer
import KeyPool
import Logging
import Testing
import Upstream

@testable import Simulator

@Suite struct StreamFaultTests {
    private let simulator: GeminiSimulator = {
        var options = TestKeys.options()
        options.chunkCount = 3
        return GeminiSimulator(options: options, clock: TestWallClock("2026-01-15T12:00:00Z"))
    }()

    private func streamRequest(_ text: String, sse: Bool = true) -> HTTPRequest {
        modelRequest(
            "gemini-2.5-flash",
            "streamGenerateContent",
            query: sse ? [("alt", "sse")] : [],
            body: generateBody(text)
        )
    }

    @Test func streamDropEndsTheBodyAfterTheFirstChunkWithoutAFinishReason() async throws {
        let sse = try await collectFrames(
            try plan(await self.simulator.respond(self.streamRequest("x [[stream-drop]]")))
        )
        #expect(sse.count == 1)
        #expect(try ssePayload(sse[0])["candidates"]?.arrayValue?.first?["finishReason"] == nil)

        let array = try await collectFrames(
            try plan(await self.simulator.respond(self.streamRequest("x [[stream-drop]]", sse: false)))
        )
        // One element and no closing bracket: the array is never finished.
        #expect(array.count == 1)
        #expect(array[0].hasPrefix("[{"))
        #expect(!array.joined().hasSuffix("]"))

        let openAI = try await collectFrames(
            try plan(
                await self.simulator.respond(
                    openAIRequest(body: chatBody("[[stream-drop]]", extra: #", "stream": true"#))
                )
            )
        )
        #expect(openAI.count == 1)
        #expect(try openAIPayload(openAI[0])["choices"]?.arrayValue?.first?["finish_reason"] == nil)
    }

    @Test func sseSplitSendsEachEventInTwoWritesThatJoinToTheSameBytes() async throws {
        let split = try plan(await self.simulator.respond(self.streamRequest("same text [[sse-split]]")))
        var whole = split
        whole.splitPause = nil

        let writes = split.writes()
        #expect(writes.count == 2 * whole.writes().count)
        #expect(writes.map(\.bytes).joined().elementsEqual(whole.frames().joined()))
        for pair in stride(from: 0, to: writes.count, by: 2) {
            let first = String(decoding: writes[pair].bytes, as: UTF8.self)
            #expect(first.hasPrefix("data: {") && !first.hasSuffix("\r\n\r\n"))
            #expect(writes[pair + 1].pause == GeminiSimulator.sseSplitPause)
        }

        let openAI = try plan(
            await self.simulator.respond(openAIRequest(body: chatBody("[[sse-split]]", extra: #", "stream": true"#)))
        )
        // Three chunk events in halves, then `data: [DONE]` whole.
        #expect(openAI.writes().count == 7)
    }

    /// Over a real socket: the split event reaches the client in more than one read, and a
    /// dropped stream ends the body cleanly after one event.
    @Test func overASocketSplitEventsArriveInPiecesAndADroppedStreamJustEnds() async throws {
        let server = HTTPServer(configuration: .init(), handler: self.simulator, logger: Logger.silent)
        try server.start()
        let client = try UpstreamClient(logger: Logger.silent)
        defer { client.shutdown() }

        func reads(_ text: String) async throws -> [[UInt8]] {
            let response = try await client.send(
                UpstreamRequest(
                    method: "POST",
                    url: "http://127.0.0.1:\(server.port)/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                    headers: [("x-goog-api-key", TestKeys.first), ("content-type", "application/json")],
                    body: generateBody(text)
                )
            )
            #expect(response.status == 200)
            var chunks: [[UInt8]] = []
            while let chunk = try await response.nextChunk() { chunks.append(chunk) }
            return chunks
        }

        let split = try await reads("[[sse-split]]")
        let body = String(decoding: split.joined(), as: UTF8.self)
        #expect(body.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.count == 3)
        #expect(split.contains { !$0.isEmpty && !$0.reversed().starts(with: [10, 13, 10, 13]) })

        let dropped = String(decoding: try await reads("[[stream-drop]]").joined(), as: UTF8.self)
        #expect(dropped.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.count == 1)
        #expect(!dropped.contains("finishReason"))
        await server.shutdown(drainTimeout: .seconds(1))
    }
}
