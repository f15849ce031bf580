import Foundation
import KeyPool
import Testing

/// No log line and no error body ever contains a configured API key; fingerprints stand in.
@Suite struct SecretLeakTests {
    @Test func keysQuotedBackByTheUpstreamAreScrubbedFromBodiesAndLogs() async throws {
        let keys = testKeys(3, tag: "S")
        // Key 0 is unknown upstream (Google quotes it in DebugInfo); key 1 is suspended (Google
        // quotes it in the message); key 2 is per-day exhausted.
        let harness = try await RelayHarness(
            keys: keys,
            simulatorKeys: [keys[1], keys[2]],
            environment: ["KEYRELAY_MAX_RETRIES": "5"]
        ) { options in
            options.suspendedKeys = [APIKey(keys[1])!]
            options.dailyExhaustedKeys = [APIKey(keys[2])!]
        }
        var bodies: [String] = []
        for index in 0..<4 {
            let reply = try await harness.generate("leak check \(index)")
            bodies.append(reply.text + reply.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n"))
        }
        let stream = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            body: #"{"contents":[{"parts":[{"text":"s"}]}]}"#
        )
        bodies.append(stream.text)

        let logs = harness.logs.captured
        #expect(!logs.isEmpty)
        for key in keys {
            for body in bodies { #expect(!body.contains(key)) }
            for line in logs { #expect(!line.contains(key), "log line leaks a key: \(line.prefix(80))") }
        }
        #expect(!logs.joined().contains(RelayHarness.token))
        // The keys were all tried and are named by fingerprint.
        let fingerprints = keys.map { APIKey($0)!.fingerprint.description }
        #expect(fingerprints.allSatisfy { fingerprint in logs.contains { $0.contains(fingerprint) } })
        // The last error the client got had its DebugInfo removed and keys replaced.
        #expect(bodies.allSatisfy { !$0.contains("DebugInfo") })
        await harness.shutdown()
    }

    @Test func aKeyUsedAsAModelNameIsRefusedBeforeItIsStoredAnywhere() async throws {
        let keys = testKeys(1, tag: "SM")
        let harness = try await RelayHarness(keys: keys)
        let reply = try await harness.generate("hi", model: keys[0])
        #expect(reply.status == 400)
        #expect(!reply.text.contains(keys[0]))
        #expect(try await harness.store.snapshot().isEmpty)
        #expect(harness.logs.captured.allSatisfy { !$0.contains(keys[0]) })
        await harness.shutdown()
    }
}
