import Foundation
import KeyPool
import Testing
import Upstream

/// Readiness, drain, client disconnects and attempts that never reached the upstream.
@Suite struct LifecycleTests {
    @Test func healthIsReadyUntilDrainBegins() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "H"))
        #expect(try await harness.send("GET", "/health", token: nil).status == 200)
        #expect(try await harness.send("GET", "/livez", token: nil).status == 200)
        harness.relay.beginDrain()
        let draining = try await harness.send("GET", "/health", token: nil)
        #expect(draining.status == 503)
        #expect(try await harness.send("GET", "/livez", token: nil).status == 200)
        await harness.shutdown()
    }

    @Test func aClientLeavingMidStreamCancelsTheUpstreamAndTheRequestStaysCounted() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "G")) { options in
            options.chunkCount = 40
            options.chunkDelay = .milliseconds(200)
        }
        let response = try await harness.client.send(
            UpstreamRequest(
                method: "POST",
                url: harness.relayURL + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                headers: [("x-goog-api-key", RelayHarness.token), ("Content-Type", "application/json")],
                body: Array(#"{"contents":[{"parts":[{"text":"long"}]}]}"#.utf8)
            )
        )
        #expect(try await response.nextChunk() != nil)
        response.cancel()

        // The relay notices within about a second and cancels its upstream transfer: the
        // 8-second stream is not read to its end.
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline
            && !harness.logs.captured.contains(where: { $0.contains("client left mid-stream") })
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(harness.logs.captured.contains { $0.contains("client left mid-stream; upstream cancelled") })
        #expect(harness.upstream.activeTransfers == 0)
        let row = try #require(try await harness.store.snapshot().first)
        #expect(row.rpd == 1)
        await harness.shutdown()
    }

    @Test func anAttemptThatNeverReachedTheUpstreamIsReleased() async throws {
        // Nothing listens on the upstream port: connection refused, provably never sent.
        let closedPort = try await RelayHarness.closedPort()
        let harness = try await RelayHarness(
            keys: testKeys(2, tag: "R"),
            environment: ["KEYRELAY_UPSTREAM_BASE_URL": "http://127.0.0.1:\(closedPort)", "KEYRELAY_MAX_RETRIES": "1"]
        )
        let reply = try await harness.generate("nobody home")
        #expect(reply.status == 502)
        #expect(reply.json?["error"]?["status"]?.stringValue == "UNAVAILABLE")
        let rows = try await harness.store.snapshot()
        #expect(rows.count == 2, "both keys were tried")
        #expect(rows.allSatisfy { $0.rpm == 0 && $0.rpd == 0 }, "reservations given back")
        #expect(try await harness.storedKeys().allSatisfy(\.isActive), "a network failure is not the key's fault")
        await harness.shutdown()
    }

    @Test func countersSurviveARestartOnTheSameFile() async throws {
        let keys = testKeys(1, tag: "K")
        let first = try await RelayHarness(keys: keys)
        for _ in 0..<3 { #expect(try await first.generate().status == 200) }
        let path = first.directory.path("relay.sqlite")
        await first.shutdown()

        let store = try await SQLiteStoreReopened.open(path)
        let row = try #require(try await store.snapshot().first)
        #expect(row.rpd == 3)
        await store.close()
        _ = first
    }
}
