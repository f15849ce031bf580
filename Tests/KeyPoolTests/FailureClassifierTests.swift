import Foundation
import KeyPool
import Testing

/// Real upstream bodies from gemini-wire.md §4, kept verbatim (hence some long lines) so they can be
/// compared with the reference line by line.
enum Bodies {
    static let perMinuteID = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    static let perDayID = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"

    static let perMinute = """
        {
          "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. \\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 10, model: gemini-2.5-flash\\nPlease retry in 37.409233052s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
              {"@type": "type.googleapis.com/google.rpc.Help",
               "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
              {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
               "violations": [{
                 "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                 "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                 "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                 "quotaValue": "10"
               }]},
              {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
            ]
          }
        }
        """

    static func quota429(
        violations: [(id: String, value: String)],
        retryDelay: String?,
        message: String = "quota"
    ) -> String {
        let list = violations.map {
            #"{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "\#($0.id)", "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": "\#($0.value)"}"#
        }
        var details = [#"{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [\#(list.joined(separator: ", "))]}"#]
        if let retryDelay {
            details.insert(#"{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "\#(retryDelay)"}"#, at: 0)
        }
        return #"{"error": {"code": 429, "message": "\#(message)", "status": "RESOURCE_EXHAUSTED", "details": [\#(details.joined(separator: ", "))]}}"#
    }

    static let bare429 = #"{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}"#
    static let vertex429 = #"{"error": {"code": 429, "message": "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.", "status": "RESOURCE_EXHAUSTED"}}"#

    static let keyInvalidWithDebugInfo = """
        {
          "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
              {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
               "metadata": {"service": "generativelanguage.googleapis.com"}},
              {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
               "message": "API key not valid. Please pass a valid API key."},
              {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "Invalid API key: AIzaSyEXAMPLE000000000000000000000000001"}
            ]
          }
        }
        """

    static let unauthenticated = """
        {
          "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "status": "UNAUTHENTICATED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                         "metadata": {"method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent",
                                      "service": "generativelanguage.googleapis.com"}}]
          }
        }
        """

    static let serviceDisabled = """
        {
          "error": {
            "code": 403,
            "message": "Generative Language API has not been used in project 123456789012 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456789012 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
            "status": "PERMISSION_DENIED",
            "details": [
              {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
               "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/123456789012", "containerInfo": "123456789012",
                            "serviceTitle": "Generative Language API",
                            "activationUrl": "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456789012"}},
              {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": "<same as message>"},
              {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Google developers console API activation",
                                                                         "url": "<activationUrl>"}]}
            ]
          }
        }
        """

    static let suspended = """
        {
          "error": {
            "code": 403,
            "message": "Permission denied: Consumer 'api_key:AIzaSyEXAMPLE000000000000000000000000001' has been suspended.",
            "status": "PERMISSION_DENIED",
            "details": [
              {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED", "domain": "googleapis.com",
               "metadata": {"consumer": "projects/123456789012", "service": "generativelanguage.googleapis.com",
                            "containerInfo": "api_key:AIzaSyEXAMPLE000000000000000000000000001"}},
              {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
               "message": "Permission denied: Consumer 'api_key:AIzaSyEXAMPLE000000000000000000000000001' has been suspended."}
            ]
          }
        }
        """

    static let serviceBlocked = #"{"error": {"code": 403, "message": "Requests to this API generativelanguage.googleapis.com method google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent are blocked.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_SERVICE_BLOCKED", "domain": "googleapis.com", "metadata": {"apiName": "generativelanguage.googleapis.com", "methodName": "google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent", "service": "generativelanguage.googleapis.com"}}]}}"#

    static let badRequest = """
        {
          "error": {
            "code": 400,
            "message": "Invalid JSON payload received. Unknown name \\"additionalProperties\\" at 'tools[0].function_declarations[0].parameters': Cannot find field.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                         "fieldViolations": [{"field": "tools[0].function_declarations[0].parameters",
                                              "description": "Invalid JSON payload received."}]}]
          }
        }
        """

    static let openAIWrapped400 = """
        [{
          "error": {
            "code": 400,
            "message": "Invalid JSON payload received. Unknown name \\"web_search_options\\": Cannot find field.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                         "fieldViolations": [{"description": "Invalid JSON payload received. Unknown name \\"web_search_options\\": Cannot find field."}]}]
          }
        }]
        """
}

@Suite struct FailureClassifierTests {
    let calendar = QuotaCalendar.pacific
    let now = instant("2026-01-15T12:00:10.25Z")
    let endOfMinute = instant("2026-01-15T12:01:00Z")
    let endOfDay = instant("2026-01-16T08:00:00Z")

    func classify(_ status: Int, _ body: String) -> FailureClass {
        FailureClassifier.classify(status: status, body: body.bytes, now: self.now, calendar: self.calendar)
    }

    @Test(arguments: [200, 201, 204, 299])
    func twoHundredsAreSuccessEvenWithoutText(status: Int) {
        #expect(self.classify(status, "") == .success)
        #expect(self.classify(status, #"{"candidates": [{"finishReason": "SAFETY"}]}"#) == .success)
    }

    @Test func perMinuteWaitsForTheRetryDelay() {
        let expected = FailureClass.rateLimited(until: self.now.addingTimeInterval(37), scope: .minute)
        #expect(self.classify(429, Bodies.perMinute) == expected)
    }

    @Test(
        "fractional retry delays round up to whole seconds",
        arguments: [("45.837906927s", 46.0), ("0.2s", 1.0), ("0s", 1.0), ("59s", 59.0), ("1.000s", 1.0)]
    )
    func fractionalRetryDelay(delay: String, seconds: Double) {
        let body = Bodies.quota429(violations: [(Bodies.perMinuteID, "10")], retryDelay: delay)
        #expect(self.classify(429, body) == .rateLimited(until: self.now.addingTimeInterval(seconds), scope: .minute))
    }

    @Test(arguments: ["37", "s", "-3s", "1e3s", "3.s", ".5s", "1m", "abc"])
    func malformedRetryDelayIsIgnored(delay: String) {
        let body = Bodies.quota429(violations: [(Bodies.perMinuteID, "10")], retryDelay: delay)
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfMinute, scope: .minute))
    }

    @Test func perDayViolationWaitsForTheQuotaDayDespiteAShortDelay() {
        let body = Bodies.quota429(violations: [(Bodies.perDayID, "250")], retryDelay: "47s")
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfDay, scope: .day))
    }

    @Test func quotaValueZeroMeansNoQuotaOnThisTier() {
        let body = Bodies.quota429(
            violations: [(Bodies.perMinuteID, "0")], retryDelay: "12s",
            message: "* Quota exceeded for metric: generate_content_free_tier_requests, limit: 0, model: gemini-2.5-pro"
        )
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfDay, scope: .noQuota))
        let messageOnly = #"{"error": {"code": 429, "message": "Quota exceeded, limit: 0, model: gemini-2.5-pro", "status": "RESOURCE_EXHAUSTED"}}"#
        #expect(self.classify(429, messageOnly) == .rateLimited(until: self.endOfDay, scope: .noQuota))
    }

    @Test func severalViolationsAtOnceTakeTheDailyOne() {
        let body = Bodies.quota429(
            violations: [
                (Bodies.perMinuteID, "10"),
                ("GenerateContentInputTokensPerModelPerMinute-FreeTier", "250000"),
                (Bodies.perDayID, "250"),
                (Bodies.perDayID, "250"),
            ],
            retryDelay: "21s"
        )
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfDay, scope: .day))
    }

    @Test func paidTierDailyQuotaIsDaily() {
        let paidDay = "GenerateRequestsPerDayPerProjectPerModel-PaidTier2"
        let body = Bodies.quota429(violations: [(paidDay, "350000")], retryDelay: nil)
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfDay, scope: .day))
    }

    @Test func depletedCreditsWaitForTheDay() {
        let body = #"{"error": {"code": 429, "message": "Your prepayment credits are depleted. Please go to AI Studio to manage your project and billing.", "status": "RESOURCE_EXHAUSTED"}}"#
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfDay, scope: .billing))
    }

    @Test func bareAndVertex429sWaitForTheEndOfTheMinute() {
        #expect(self.classify(429, Bodies.bare429) == .rateLimited(until: self.endOfMinute, scope: .unspecified))
        #expect(self.classify(429, Bodies.vertex429) == .rateLimited(until: self.endOfMinute, scope: .unspecified))
        #expect(self.classify(429, "Too Many Requests") == .rateLimited(until: self.endOfMinute, scope: .unspecified))
        #expect(self.classify(429, "") == .rateLimited(until: self.endOfMinute, scope: .unspecified))
    }

    @Test func perMinuteQuotaWithoutDelayIsMinuteScoped() {
        let body = Bodies.quota429(violations: [(Bodies.perMinuteID, "10")], retryDelay: nil)
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfMinute, scope: .minute))
    }

    @Test func retryDelayInTheMessageIsUsedWhenRetryInfoIsMissing() {
        let body = #"{"error": {"code": 429, "message": "Quota exceeded.\nPlease retry in 38.962214405s.", "status": "RESOURCE_EXHAUSTED"}}"#
        #expect(self.classify(429, body) == .rateLimited(until: self.now.addingTimeInterval(39), scope: .minute))
    }

    @Test func listWrappedOpenAICompatible429IsUnwrapped() {
        let body = "[" + Bodies.quota429(violations: [(Bodies.perDayID, "250")], retryDelay: "5s") + "]"
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfDay, scope: .day))
        let minute = FailureClass.rateLimited(until: self.now.addingTimeInterval(37), scope: .minute)
        #expect(self.classify(429, "[" + Bodies.perMinute + "]") == minute)
    }

    @Test func legacyRateLimitErrorInfoIsRead() {
        let body = #"{"error": {"code": 429, "message": "Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute for a region' of service 'generativelanguage.googleapis.com' for consumer 'project_number:123456789012'.", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com", "metadata": {"quota_limit": "GenerateContent request limit per minute for a region", "quota_limit_value": "60", "consumer": "projects/123456789012"}}]}}"#
        #expect(self.classify(429, body) == .rateLimited(until: self.endOfMinute, scope: .minute))
    }

    @Test func invalidKeyIsKeyInvalid() {
        #expect(self.classify(400, Bodies.keyInvalidWithDebugInfo) == .keyInvalid(reason: "API_KEY_INVALID"))
        let wrapped = "[" + Bodies.keyInvalidWithDebugInfo + "]"
        #expect(self.classify(400, wrapped) == .keyInvalid(reason: "API_KEY_INVALID"))
    }

    @Test func otherBadRequestsAreTheClientsFault() {
        #expect(self.classify(400, Bodies.badRequest) == .clientError)
        #expect(self.classify(400, Bodies.openAIWrapped400) == .clientError)
        let location = #"{"error": {"code": 400, "message": "User location is not supported for the API use.", "status": "FAILED_PRECONDITION"}}"#
        #expect(self.classify(400, location) == .clientError)
        #expect(self.classify(400, "") == .clientError)
    }

    @Test func unauthenticatedKeepsTheReasonCode() {
        #expect(self.classify(401, Bodies.unauthenticated) == .keyInvalid(reason: "ACCESS_TOKEN_TYPE_UNSUPPORTED"))
        #expect(self.classify(401, "") == .keyInvalid(reason: "UNAUTHENTICATED"))
        let hostile = #"{"error": {"code": 401, "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "key AIzaSyEXAMPLE000000000000000000000000001"}]}}"#
        #expect(self.classify(401, hostile) == .keyInvalid(reason: "UNAUTHENTICATED"))
    }

    @Test func keyLevelForbiddenDeactivatesTheKey() {
        #expect(self.classify(403, Bodies.suspended) == .keyInvalid(reason: "CONSUMER_SUSPENDED"))
        #expect(self.classify(403, Bodies.serviceDisabled) == .keyInvalid(reason: "SERVICE_DISABLED"))
        #expect(self.classify(403, Bodies.serviceBlocked) == .keyInvalid(reason: "API_KEY_SERVICE_BLOCKED"))
        let invalidProject = #"{"error": {"code": 403, "message": "Permission denied on resource project 123.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_INVALID"}]}}"#
        #expect(self.classify(403, invalidProject) == .keyInvalid(reason: "CONSUMER_INVALID"))
    }

    @Test(
        "key-level forbidden messages without details",
        arguments: [
            ("Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "UNREGISTERED_CALLER"),
            // The real message quotes the key; a placeholder keeps key-like text out of test output.
            ("Permission denied: Consumer 'api_key:<key>' has been suspended.", "CONSUMER_SUSPENDED"),
            ("Generative Language API has not been used in project 1 before or it is disabled.", "SERVICE_DISABLED"),
            ("Requests from referer <empty> are blocked.", "API_KEY_HTTP_REFERRER_BLOCKED"),
            ("Requests to this API generativelanguage.googleapis.com method x are blocked.", "API_KEY_SERVICE_BLOCKED"),
        ]
    )
    func keyLevelForbiddenMessages(message: String, reason: String) {
        let body = #"{"error": {"code": 403, "message": \#(JSONValue.quoted(message)), "status": "PERMISSION_DENIED"}}"#
        #expect(self.classify(403, body) == .keyInvalid(reason: reason))
    }

    @Test func forbiddenOnAResourceIsNotForThisKey() {
        let file = #"{"error": {"code": 403, "message": "You do not have permission to access the File abc123 or it may not exist.", "status": "PERMISSION_DENIED"}}"#
        #expect(self.classify(403, file) == .notForThisKey)
        let cache = #"{"error": {"code": 403, "message": "Permission denied on cachedContents/xyz.", "status": "PERMISSION_DENIED"}}"#
        #expect(self.classify(403, cache) == .notForThisKey)
    }

    @Test func otherForbiddenIsUnrecognised() {
        let body = #"{"error": {"code": 403, "message": "Something new.", "status": "PERMISSION_DENIED"}}"#
        #expect(self.classify(403, body) == .unrecognised(reason: "HTTP 403 PERMISSION_DENIED"))
        #expect(self.classify(403, "<html>nope</html>") == .unrecognised(reason: "HTTP 403"))
    }

    @Test(arguments: [404, 405, 409, 411, 413, 415, 422, 451])
    func otherClientStatusesAreClientErrors(status: Int) {
        let body = #"{"error": {"code": 404, "message": "models/gemini-1.5-flash is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.", "status": "NOT_FOUND"}}"#
        #expect(self.classify(status, body) == .clientError)
        #expect(self.classify(status, "") == .clientError)
    }

    @Test func serverErrorsAreTransient() {
        let internalError = #"{"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}}"#
        let overloaded = #"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"#
        let deadline = #"{"error": {"code": 504, "message": "Deadline expired before operation could complete.", "status": "DEADLINE_EXCEEDED"}}"#
        #expect(self.classify(500, internalError) == .transient(reason: "HTTP 500 INTERNAL"))
        #expect(self.classify(503, overloaded) == .transient(reason: "HTTP 503 UNAVAILABLE"))
        #expect(self.classify(504, deadline) == .transient(reason: "HTTP 504 DEADLINE_EXCEEDED"))
        #expect(self.classify(502, "<html>Bad Gateway</html>") == .transient(reason: "HTTP 502"))
        #expect(self.classify(599, "") == .transient(reason: "HTTP 599"))
        #expect(self.classify(408, "") == .transient(reason: "HTTP 408"))
        let cancelled = #"{"error": {"code": 499, "status": "CANCELLED"}}"#
        #expect(self.classify(499, cancelled) == .transient(reason: "HTTP 499 CANCELLED"))
    }

    @Test(arguments: [100, 199, 301, 304, 0, -1, 600, 999])
    func otherStatusesAreUnrecognised(status: Int) {
        #expect(self.classify(status, "") == .unrecognised(reason: "HTTP \(status)"))
    }

    @Test func garbageBodiesNeverCrash() {
        let garbage: [[UInt8]] = [
            [], [0xFF, 0xFE, 0x00], "{".bytes, "[]".bytes, "[[[[".bytes, "null".bytes, #"{"error": 5}"#.bytes,
            #"{"error": {"details": "x"}}"#.bytes, #"{"error": {"details": [1, null, {"@type": 7}]}}"#.bytes,
            #"{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": 3}]}}"#.bytes,
            #"{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": 37}]}}"#.bytes,
            Array(String(repeating: "[", count: 10_000).utf8),
        ]
        for status in [400, 401, 403, 429, 500] {
            for body in garbage {
                _ = FailureClassifier.classify(status: status, body: body, now: self.now, calendar: self.calendar)
            }
        }
        #expect(FailureClassifier.classify(status: 429, body: [0xFF], now: self.now, calendar: self.calendar)
            == .rateLimited(until: self.endOfMinute, scope: .unspecified))
    }

    @Test func scopeNamesAreStable() {
        #expect(RateLimitScope.noQuota.rawValue == "noQuota")
        #expect(RateLimitScope.day.rawValue == "day")
    }
}
