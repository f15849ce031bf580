import KeyPool
import Relay
import Testing

/// Google error answers are re-shaped into the errors OpenAI clients parse.
@Suite struct OpenAIErrorTests {
    @Test(
        arguments: [
            (400, "invalid_request_error", nil), (401, "authentication_error", "invalid_api_key"),
            (403, "permission_error", nil), (404, "not_found_error", nil),
            (429, "rate_limit_error", "rate_limit_exceeded"),
            (500, "api_error", nil), (503, "api_error", nil), (413, "invalid_request_error", nil),
        ] as [(Int, String, String?)]
    )
    func googleStatusMapsToOpenAIType(status: Int, type: String, code: String?) {
        let body = #"{"error":{"code":\#(status),"message":"upstream says no","status":"X"}}"#
        let error = OpenAIError.fromGoogle(status: status, body: Array(body.utf8))
        #expect(error.status == status)
        #expect(error.type == type)
        #expect(error.code == code)
        #expect(error.message == "upstream says no")
    }

    @Test func listWrappedBodyIsUnwrapped() throws {
        let body = """
            [{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).",
              "status":"RESOURCE_EXHAUSTED","details":[]}}]
            """
        let error = OpenAIError.fromGoogle(status: 429, body: Array(body.utf8))
        #expect(error.message == "Resource has been exhausted (e.g. check quota).")
        #expect(
            try JSONValue.parse(error.body)
                == (try json(
                    """
                    {"error":{"message":"Resource has been exhausted (e.g. check quota).","type":"rate_limit_error",
                     "param":null,"code":"rate_limit_exceeded"}}
                    """
                ))
        )
    }

    @Test func bodyWithoutAMessageNamesTheStatus() {
        let error = OpenAIError.fromGoogle(status: 502, body: [])
        #expect(error.type == "api_error")
        #expect(error.message.contains("502"))
    }

    @Test func invalidRequestIsA400WithParam() throws {
        let error = OpenAIError.invalidRequest("'n' must be an integer in 1...8", param: "n")
        #expect(
            try JSONValue.parse(error.body)
                == (try json(
                    """
                    {"error":{"message":"'n' must be an integer in 1...8","type":"invalid_request_error",
                     "param":"n","code":null}}
                    """
                ))
        )
        #expect(error.status == 400)
    }
}
