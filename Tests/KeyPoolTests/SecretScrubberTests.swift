import KeyPool
import Testing

@Suite struct SecretScrubberTests {
    static let key = "AIzaSyEXAMPLE000000000000000000000000001"
    static let token = "sk-relay-token-1234567890"
    let scrubber = SecretScrubber(secrets: [Self.key, Self.token, ""])

    @Test func replacesEverySecretByItsFingerprint() {
        let text = "key=\(Self.key) again \(Self.key), token \(Self.token)."
        let scrubbed = self.scrubber.scrub(text)
        #expect(!scrubbed.contains(Self.key))
        #expect(!scrubbed.contains(Self.token))
        #expect(scrubbed == "key=AIza…0001 again AIza…0001, token sk-r…7890.")
    }

    @Test func leavesOtherTextAlone() {
        #expect(self.scrubber.scrub("nothing secret here: AIzaSy é😀") == "nothing secret here: AIzaSy é😀")
        #expect(SecretScrubber(secrets: []).scrub(Self.key) == Self.key)
        #expect(SecretScrubber(secrets: [""]).scrub("abc") == "abc")
        #expect(self.scrubber.scrub("") == "")
    }

    @Test func longestSecretIsReplacedWhole() {
        let short = "shortsecret"
        let long = "shortsecret-and-more-of-it"
        let scrubbed = SecretScrubber(secrets: [short, long]).scrub("a \(long) b \(short) c")
        #expect(scrubbed == "a \(Fingerprint(secret: long)) b \(Fingerprint(secret: short)) c")
        #expect(!scrubbed.contains(short))
    }

    @Test func shortSecretsAreScrubbedToo() {
        let scrubbed = SecretScrubber(secrets: ["tok"]).scrub("Bearer tok;tok")
        #expect(!scrubbed.contains("tok"))
    }

    @Test func dropsDebugInfoAndScrubsEveryString() throws {
        let scrubbed = self.scrubber.scrubErrorBody(Bodies.keyInvalidWithDebugInfo.bytes)
        let text = String(decoding: scrubbed, as: UTF8.self)
        #expect(!text.contains(Self.key))
        #expect(!text.contains("DebugInfo"))
        let value = try JSONValue.parse(scrubbed)
        #expect(value["error"]?["details"]?.arrayValue?.count == 2)
        #expect(value["error"]?["code"] == 400)
        #expect(value["error"]?["message"]?.stringValue == "API key not valid. Please pass a valid API key.")
        // Still classifiable after scrubbing.
        #expect(FailureClassifier.classify(status: 400, body: scrubbed, now: .now, calendar: .pacific)
            == .keyInvalid(reason: "API_KEY_INVALID"))
    }

    @Test func scrubsKeysQuotedInMessagesAndMetadata() throws {
        let scrubbed = self.scrubber.scrubErrorBody(Bodies.suspended.bytes)
        let text = String(decoding: scrubbed, as: UTF8.self)
        #expect(!text.contains(Self.key))
        let value = try JSONValue.parse(scrubbed)
        let message = value["error"]?["message"]?.stringValue
        #expect(message == "Permission denied: Consumer 'api_key:AIza…0001' has been suspended.")
        #expect(value["error"]?["details"]?.arrayValue?.first?["metadata"]?["containerInfo"] == "api_key:AIza…0001")
    }

    @Test func handlesListWrappedBodies() throws {
        let scrubbed = self.scrubber.scrubErrorBody(("[" + Bodies.keyInvalidWithDebugInfo + "]").bytes)
        let value = try JSONValue.parse(scrubbed)
        #expect(value.arrayValue?.first?["error"]?["details"]?.arrayValue?.count == 2)
        #expect(!String(decoding: scrubbed, as: UTF8.self).contains(Self.key))
    }

    @Test func scrubsMemberNamesAndEscapedSecrets() throws {
        let body = #"{"\#(Self.key)": "x", "escaped": "\u0041IzaSyEXAMPLE000000000000000000000000001"}"#
        let text = String(decoding: self.scrubber.scrubErrorBody(body.bytes), as: UTF8.self)
        #expect(text == #"{"AIza…0001":"x","escaped":"AIza…0001"}"#)
    }

    @Test func nonJSONBodiesAreScrubbedAsText() {
        let body = "<html>bad key \(Self.key)</html>".bytes
        #expect(self.scrubber.scrubErrorBody(body) == "<html>bad key AIza…0001</html>".bytes)
        #expect(self.scrubber.scrubErrorBody([]) == [])
        #expect(self.scrubber.scrubErrorBody([0xFF, 0x00]) == [0xFF, 0x00])
    }

    @Test func bodiesWithoutSecretsOnlyLoseDebugInfo() throws {
        let body = #"""
            {"error": {"code": 500, "details": [
              {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "stack"}, {"@type": "x.Help"}]}}
            """#
        let scrubbed = SecretScrubber(secrets: []).scrubErrorBody(body.bytes)
        #expect(String(decoding: scrubbed, as: UTF8.self) == #"{"error":{"code":500,"details":[{"@type":"x.Help"}]}}"#)
    }
}
