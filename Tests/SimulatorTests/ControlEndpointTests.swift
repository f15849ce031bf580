import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct ControlEndpointTests {
    private func stats(_ simulator: GeminiSimulator) async throws -> JSONValue {
        try parse(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats")))
    }

    private func post(_ simulator: GeminiSimulator, _ path: String, _ body: String = "") async -> SimulatorResponse {
        await simulator.respond(HTTPRequest(method: "POST", path: path, body: Array(body.utf8)))
    }

    @Test func statsNameKeysByIndexAndFingerprintAndResetClearsThem() async throws {
        var options = TestKeys.options()
        options.defaultLimits = Limits(rpm: 1)
        let simulator = GeminiSimulator(options: options, clock: TestWallClock("2026-01-15T12:00:00Z"))
        _ = await simulator.respond(modelRequest(body: generateBody("abcdefgh")))
        _ = await simulator.respond(modelRequest())
        _ = await simulator.respond(modelRequest(key: TestKeys.unknown))

        let before = try await self.stats(simulator)
        let raw = text(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats")))

        #expect(!raw.contains(TestKeys.first) && !raw.contains(TestKeys.second) && !raw.contains(TestKeys.unknown))
        let first = try #require(before["keys"]?.arrayValue?.first)
        #expect(first["index"] == 0)
        #expect(first["fingerprint"]?.stringValue == APIKey(TestKeys.first)!.fingerprint.description)
        #expect(first["models"]?["gemini-2.5-flash"]?["admitted"] == 1)
        #expect(first["models"]?["gemini-2.5-flash"]?["rejected"] == 1)
        #expect(first["models"]?["gemini-2.5-flash"]?["input_tokens"] == 2)
        #expect(before["requests_total"] == 3)
        #expect(before["unknown_key_requests"] == 1)
        #expect(before["key_in_url"] == false)

        #expect(await self.post(simulator, "/simulator/reset").status == 200)
        let after = try await self.stats(simulator)
        #expect(after["keys"]?.arrayValue?.first?["models"] == [:])
        #expect(after["requests_total"] == 0)
        // Counters are cleared too, so the limit admits again within the same minute.
        #expect(await simulator.respond(modelRequest()).status == 200)
    }

    @Test func faultsCanBeSwitchedOnAndOffAtRunTime() async throws {
        let simulator = GeminiSimulator(options: TestKeys.options(), clock: TestWallClock("2026-01-15T12:00:00Z"))

        #expect(
            await self.post(simulator, "/simulator/faults", #"{"error_rate": 1.0, "error_status": 503}"#).status == 200
        )
        let unavailable = await simulator.respond(modelRequest())
        #expect(unavailable.status == 503)
        #expect(
            try parse(unavailable)
                == [
                    "error": [
                        "code": 503, "message": "The model is overloaded. Please try again later.",
                        "status": "UNAVAILABLE",
                    ]
                ]
        )

        _ = await self.post(simulator, "/simulator/faults", #"{"error_status": 504}"#)
        #expect(try parse(await simulator.respond(modelRequest()))["error"]?["status"] == "DEADLINE_EXCEEDED")
        _ = await self.post(simulator, "/simulator/faults", #"{"error_status": 500}"#)
        #expect(try parse(await simulator.respond(modelRequest()))["error"]?["status"] == "INTERNAL")

        _ = await self.post(simulator, "/simulator/faults", #"{"error_rate": 0}"#)
        #expect(await simulator.respond(modelRequest()).status == 200)
        let stats = try await self.stats(simulator)
        #expect(stats["keys"]?.arrayValue?.first?["models"]?["gemini-2.5-flash"]?["injected_errors"] == 3)

        #expect(await self.post(simulator, "/simulator/faults", #"{"error_rate": 2}"#).status == 400)
        #expect(await self.post(simulator, "/simulator/faults", #"{"error_status": 418}"#).status == 400)
        #expect(await self.post(simulator, "/simulator/faults", "nope").status == 400)
    }

    @Test func aSeedMakesErrorInjectionRepeatable() async throws {
        func statuses(seed: UInt64) async -> [Int] {
            var options = TestKeys.options()
            options.seed = seed
            options.errorRate = 0.5
            let simulator = GeminiSimulator(options: options, clock: TestWallClock("2026-01-15T12:00:00Z"))
            var result: [Int] = []
            for _ in 0..<40 { result.append(await simulator.respond(modelRequest()).status) }
            return result
        }

        let first = await statuses(seed: 11)
        #expect(await statuses(seed: 11) == first)
        #expect(first.contains(503) && first.contains(200))
    }

    @Test func lastRequestReportsBytesAndHeaderNamesButNoKey() async throws {
        let simulator = GeminiSimulator(options: TestKeys.options(), clock: TestWallClock("2026-01-15T12:00:00Z"))
        let sent = Array("{\"contents\":[{\"parts\":[{\"text\":\"byte exact ✓\"}]}],  \"unknownTopLevel\": 1}".utf8)
        var request = modelRequest(query: [("alt", "sse"), ("key", TestKeys.second)], body: sent)
        request.headers.add("user-agent", "relay-test/1")

        #expect(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/last-request")).status == 404)
        _ = await simulator.respond(request)
        let response = await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/last-request"))
        let document = try parse(response)

        #expect(!text(response).contains(TestKeys.first) && !text(response).contains(TestKeys.second))
        #expect(document["path"] == "/v1beta/models/gemini-2.5-flash:generateContent")
        #expect(document["query"] == ["alt": "sse"])
        #expect(document["header_names"] == ["content-type", "x-goog-api-key", "user-agent"])
        #expect(document["headers"]?["user-agent"] == "relay-test/1")
        #expect(document["headers"]?["x-goog-api-key"] == nil)
        #expect(document["api_key"]?["source"] == "both")
        #expect(document["api_key"]?["matched_configured_key"] == true)
        #expect(document["api_key"]?["index"] == 0)
        let base64 = try #require(document["body_base64"]?.stringValue)
        #expect(Data(base64Encoded: base64).map(Array.init) == sent)
        #expect(document["body_text"]?.stringValue.map { Array($0.utf8) } == sent)

        let raw = await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/last-request/body"))
        #expect(raw.allBytes == sent)
    }

    @Test func lastRequestSaysWhenTheKeyWasNotAConfiguredOne() async throws {
        let simulator = GeminiSimulator(options: TestKeys.options(), clock: TestWallClock("2026-01-15T12:00:00Z"))
        _ = await simulator.respond(modelRequest(key: "client-token-not-a-pool-key"))

        let document = try parse(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/last-request")))

        #expect(document["api_key"]?["source"] == "header")
        #expect(document["api_key"]?["matched_configured_key"] == false)
        #expect(document["api_key"]?["index"] == nil)
    }
}
