import Foundation
import KeyPool
import Testing

/// Bad input gets a clear JSON error with the right status and changes no counter.
@Suite struct BadInputTests {
    @Test func eachBadRequestGetsItsStatusAndTouchesNothing() async throws {
        let harness = try await RelayHarness(keys: testKeys(2, tag: "B"))
        let generate = "/v1beta/models/gemini-2.5-flash:generateContent"
        let cases: [(String, RelayHarness.Reply, Int, String)] = [
            ("malformed JSON", try await harness.send(generate, body: "{\"contents\": [}"), 400, "INVALID_ARGUMENT"),
            ("JSON that is not an object", try await harness.send(generate, body: "[1,2]"), 400, "INVALID_ARGUMENT"),
            ("unknown route", try await harness.send("GET", "/v1beta/nothing-here"), 404, "NOT_FOUND"),
            (
                "unknown method", try await harness.send("/v1beta/models/gemini-2.5-flash:explode", body: "{}"), 404,
                "NOT_FOUND"
            ),
            (
                "dot-dot model", try await harness.send("/v1beta/models/..:generateContent", body: "{}"), 400,
                "INVALID_ARGUMENT"
            ),
            (
                "encoded slash model", try await harness.send("/v1beta/models/a%2Fb:generateContent", body: "{}"), 400,
                "INVALID_ARGUMENT"
            ),
            (
                "slash in model", try await harness.send("/v1beta/models/a/b:generateContent", body: "{}"), 404,
                "NOT_FOUND"
            ),
            ("missing token", try await harness.send(generate, body: "{}", token: nil), 401, "UNAUTHENTICATED"),
            ("wrong token", try await harness.send(generate, body: "{}", token: "wrong"), 401, "UNAUTHENTICATED"),
            ("wrong method", try await harness.send("GET", generate), 405, "METHOD_NOT_ALLOWED"),
            ("files", try await harness.send("GET", "/v1beta/files"), 501, "UNIMPLEMENTED"),
        ]
        for (name, reply, status, googleStatus) in cases {
            #expect(reply.status == status, "\(name): \(reply.text)")
            #expect(reply.json?["error"]?["status"]?.stringValue == googleStatus, "\(name)")
            #expect(reply.json?["error"]?["code"]?.intValue == status, "\(name)")
            #expect(reply.header("x-request-id") != nil, "\(name)")
        }
        #expect(try await harness.simulatorRequestsTotal() == 0)
        #expect(try await harness.store.snapshot().isEmpty)
        await harness.shutdown()
    }

    @Test func aFiftyMegabyteBodyIsRefusedWith413() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "L"))
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 50 << 20)
        let reply = try await harness.request(
            "POST",
            harness.relayURL + "/v1beta/models/gemini-2.5-flash:generateContent",
            body: big,
            headers: [("x-goog-api-key", RelayHarness.token), ("Content-Type", "application/json")]
        )
        #expect(reply.status == 413)
        #expect(reply.json?["error"]?["code"]?.intValue == 413)
        #expect(try await harness.simulatorRequestsTotal() == 0)
        #expect(try await harness.store.snapshot().isEmpty)
        await harness.shutdown()
    }

    @Test func aBodyThatIsNotUTF8IsRefused() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "W"))
        let reply = try await harness.request(
            "POST",
            harness.relayURL + "/v1beta/models/gemini-2.5-flash:generateContent",
            body: Array(#"{"contents":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8),
            headers: [("x-goog-api-key", RelayHarness.token), ("Content-Type", "application/json")]
        )
        #expect(reply.status == 400)
        #expect(try await harness.simulatorRequestsTotal() == 0)
        await harness.shutdown()
    }

    @Test func countTokensStillWorksWhileEveryKeyIsPausedForTheModel() async throws {
        let keys = testKeys(1, tag: "Q")
        let harness = try await RelayHarness(keys: keys) { $0.dailyExhaustedKeys = [APIKey(keys[0])!] }
        #expect(try await harness.generate("paused").status == 429)
        let count = try await harness.send(
            "/v1beta/models/gemini-2.5-flash:countTokens",
            body: #"{"contents":[{"parts":[{"text":"count me"}]}]}"#
        )
        #expect(count.status == 200, "countTokens has its own quota: \(count.text)")
        #expect(count.json?["totalTokens"]?.intValue ?? 0 > 0)
        await harness.shutdown()
    }

    @Test func aLargeBodyWithoutATokenIsRefusedBeforeItIsRead() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "N"))
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 30 << 20)
        let started = ContinuousClock.now
        let reply = try await harness.request(
            "POST",
            harness.relayURL + "/v1beta/models/gemini-2.5-flash:generateContent",
            body: big,
            headers: [("Content-Type", "application/json")]
        )
        #expect(reply.status == 401)
        #expect(reply.json?["error"]?["status"]?.stringValue == "UNAUTHENTICATED")
        #expect(started.duration(to: .now) < .seconds(5))
        // The server still answers on new connections afterwards.
        #expect(try await harness.generate("after").status == 200)
        await harness.shutdown()
    }

    @Test func theTokenIsAcceptedFromEachPlaceAndNeverForwarded() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "T"))
        let body = #"{"contents":[{"parts":[{"text":"hi"}]}]}"#
        let path = "/v1beta/models/gemini-2.5-flash:generateContent"
        let bearer = try await harness.send(
            path,
            body: body,
            token: nil,
            headers: [("Authorization", "Bearer \(RelayHarness.token)")]
        )
        let query = try await harness.send(path + "?key=\(RelayHarness.token)", body: body, token: nil)
        let header = try await harness.send(path, body: body)
        #expect([bearer.status, query.status, header.status] == [Int](repeating: 200, count: 3))
        let stats = try await harness.request("GET", harness.simulatorURL + "/simulator/stats").json
        #expect(stats?["key_in_url"]?.boolValue == false)
        let last = try await harness.request("GET", harness.simulatorURL + "/simulator/last-request").text
        #expect(!last.contains(RelayHarness.token))
        await harness.shutdown()
    }
}
