import Foundation
import HTTPServer
import KeyPool
import Testing

@testable import Simulator

@Suite struct KeyAndRequestErrorTests {
    private let simulator: GeminiSimulator = {
        var options = TestKeys.options()
        options.suspendedKeys = [APIKey(TestKeys.second)!]
        return GeminiSimulator(options: options, clock: TestWallClock("2026-01-15T12:00:00Z"))
    }()

    @Test func unknownKeyGetsAPIKeyInvalidQuotingTheKeyInDebugInfo() async throws {
        let response = await self.simulator.respond(modelRequest(key: TestKeys.unknown))
        let body = try parse(response)

        #expect(response.status == 400)
        #expect(body["error"]?["status"] == "INVALID_ARGUMENT")
        #expect(body["error"]?["message"] == "API key not valid. Please pass a valid API key.")
        #expect(detail(body, "ErrorInfo")?["reason"] == "API_KEY_INVALID")
        #expect(detail(body, "ErrorInfo")?["metadata"]?["service"] == "generativelanguage.googleapis.com")
        #expect(detail(body, "DebugInfo")?["detail"]?.stringValue == "Invalid API key: \(TestKeys.unknown)")
    }

    @Test func keyInTheQueryIsAcceptedAndNoticed() async throws {
        let simulator = GeminiSimulator(options: TestKeys.options(), clock: TestWallClock("2026-01-15T12:00:00Z"))
        let before = try parse(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats")))
        #expect(before["key_in_url"] == false)

        let response = await simulator.respond(modelRequest(key: nil, query: [("key", TestKeys.first)]))

        #expect(response.status == 200)
        let after = try parse(await simulator.respond(HTTPRequest(method: "GET", path: "/simulator/stats")))
        #expect(after["key_in_url"] == true)
    }

    @Test func suspendedKeyGets403ConsumerSuspendedQuotingTheKey() async throws {
        let response = await self.simulator.respond(modelRequest(key: TestKeys.second))
        let body = try parse(response)

        #expect(response.status == 403)
        #expect(body["error"]?["status"] == "PERMISSION_DENIED")
        #expect(
            body["error"]?["message"]?.stringValue
                == "Permission denied: Consumer 'api_key:\(TestKeys.second)' has been suspended."
        )
        #expect(detail(body, "ErrorInfo")?["reason"] == "CONSUMER_SUSPENDED")
        #expect(detail(body, "ErrorInfo")?["metadata"]?["containerInfo"]?.stringValue == "api_key:\(TestKeys.second)")
    }

    @Test func missingKeyIs403AndABearerTokenAlone401() async throws {
        #expect(await self.simulator.respond(modelRequest(key: nil)).status == 403)

        var request = modelRequest(key: nil)
        request.headers.add("authorization", "Bearer client-token-xyz")
        let response = await self.simulator.respond(request)
        #expect(response.status == 401)
        #expect(detail(try parse(response), "ErrorInfo")?["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED")
    }

    @Test func modelNamesContainingNotfoundGetGoogles404() async throws {
        let response = await self.simulator.respond(modelRequest("gemini-notfound-9"))
        let body = try parse(response)

        #expect(response.status == 404)
        #expect(body["error"]?["status"] == "NOT_FOUND")
        #expect(
            body["error"]?["message"]?.stringValue
                == "models/gemini-notfound-9 is not found for API version v1beta, "
                + "or is not supported for generateContent. "
                + "Call ListModels to see the list of available models and their supported methods."
        )
        #expect(body["error"]?["details"] == nil)
        // Any other name answers: the simulator does not police models.
        #expect(await self.simulator.respond(modelRequest("made-up-model-7")).status == 200)
    }

    @Test func bodyThatIsNotJSONGetsInvalidArgument() async throws {
        let response = await self.simulator.respond(modelRequest(body: Array("not json at all".utf8)))
        let body = try parse(response)

        #expect(response.status == 400)
        #expect(body["error"]?["status"] == "INVALID_ARGUMENT")
        #expect(detail(body, "BadRequest") != nil)
    }

    @Test func invalidArgumentMarkerIsAClientError() async throws {
        let response = await self.simulator.respond(
            modelRequest(body: generateBody("bad [[invalid-argument]] request"))
        )

        #expect(response.status == 400)
        #expect(try parse(response)["error"]?["message"] == "Request contains an invalid argument.")
    }

    @Test func unknownPathsGetAnEmpty404() async throws {
        for (method, path) in [
            ("POST", "/models/gemini-2.5-flash:generateContent"), ("GET", "/v1beta/models/x:generateContent"),
            ("POST", "/v1beta/models/x:unknownMethod"), ("POST", "/v1beta1/publishers/google/models/x:embedContent"),
        ] {
            let response = await self.simulator.respond(
                HTTPRequest(method: method, path: path, headers: ["x-goog-api-key": TestKeys.first])
            )
            #expect(response.status == 404, "\(method) \(path)")
            #expect(response.allBytes.isEmpty)
        }
    }

    @Test func generateAnswersArePrettyPrintedWithUsageAndAnUnknownField() async throws {
        let response = await self.simulator.handle(modelRequest(body: generateBody("What is the weather?")))
        guard case .bytes(let bytes) = response.body else {
            Issue.record("expected a complete body")
            return
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let body = try JSONValue.parse(bytes)

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json; charset=UTF-8")
        #expect(text.hasPrefix("{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"parts\": [\n"))
        #expect(text.hasSuffix("\n}\n"))
        #expect(
            body["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["text"]
                == "Echo: What is the weather?"
        )
        let usage = try #require(body["usageMetadata"])
        #expect(usage["promptTokenCount"] == 5)
        #expect(usage["candidatesTokenCount"] == 7)
        #expect(usage["thoughtsTokenCount"] == 24)
        #expect(usage["totalTokenCount"] == 36)
        #expect(body["modelVersion"] == "gemini-2.5-flash")
        #expect(body["responseId"]?.stringValue?.count == 22)
        #expect(body["simulatorExtension"] == ["kept": true])
    }

    @Test func modelsAreListedInPagesAndFetchedByName() async throws {
        var names: [String] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("pageSize", "3")]
            if let token { query.append(("pageToken", token)) }
            let page = try parse(
                await self.simulator.respond(
                    HTTPRequest(
                        method: "GET",
                        path: "/v1beta/models",
                        query: query,
                        headers: ["x-goog-api-key": TestKeys.first]
                    )
                )
            )
            let models = try #require(page["models"]?.arrayValue)
            #expect(models.count <= 3)
            names += models.compactMap { $0["name"]?.stringValue }
            token = page["nextPageToken"]?.stringValue
        } while token != nil

        #expect(names.count == GeminiSimulator.catalogue.count)
        #expect(names.contains("models/gemini-2.5-flash"))
        let one = await self.simulator.respond(
            HTTPRequest(method: "GET", path: "/v1/models/gemini-2.5-pro", headers: ["x-goog-api-key": TestKeys.first])
        )
        #expect(try parse(one)["displayName"] == "Gemini 2.5 Pro")
        let missing = await self.simulator.respond(
            HTTPRequest(
                method: "GET",
                path: "/v1beta/models/notfound-model",
                headers: ["x-goog-api-key": TestKeys.first]
            )
        )
        #expect(missing.status == 404)
    }
}
