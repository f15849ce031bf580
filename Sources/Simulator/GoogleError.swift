import Foundation
import KeyPool

/// A Google error answer: the HTTP status and the `google.rpc.Status` body, shaped like the ones
/// quoted in gemini-wire.md §4 so the relay's classifier and scrubber meet real bodies.
struct GoogleError: Error, Sendable {
    /// The HTTP status code.
    var status: Int
    /// `{"error": {"code", "message", "status", "details"?}}`.
    var body: JSONValue

    private static let gemini = "generativelanguage.googleapis.com"
    private static let vertex = "aiplatform.googleapis.com"

    init(code: Int, status: String, message: String, details: [JSONValue] = []) {
        self.status = code
        var error: [(String, JSONValue)] = [
            ("code", JSONValue(code)), ("message", .string(message)), ("status", .string(status)),
        ]
        if !details.isEmpty { error.append(("details", .array(details))) }
        self.body = .object([("error", .object(error))])
    }

    static func service(isVertex: Bool) -> String { isVertex ? Self.vertex : Self.gemini }

    // MARK: - 400

    /// A body that is not JSON; the message does not quote the body, unlike Google's caret form.
    static func invalidJSON() -> GoogleError {
        let message = "Invalid JSON payload received. Unexpected token."
        return GoogleError(
            code: 400,
            status: "INVALID_ARGUMENT",
            message: message,
            details: [
                [
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [["description": .string(message)]],
                ]
            ]
        )
    }

    /// A client's malformed request (`[[invalid-argument]]` marker, empty batch).
    static func invalidArgument(_ message: String = "Request contains an invalid argument.") -> GoogleError {
        GoogleError(code: 400, status: "INVALID_ARGUMENT", message: message)
    }

    static func payloadTooLarge() -> GoogleError {
        Self.invalidArgument("Request payload size exceeds the limit: 20971520 bytes.")
    }

    /// Google's bad-key answer. It quotes the key back in a DebugInfo detail, as Google does, so
    /// the relay's scrubbing is exercised on a real echo.
    static func apiKeyInvalid(rawKey: String, isVertex: Bool) -> GoogleError {
        let message = "API key not valid. Please pass a valid API key."
        return GoogleError(
            code: 400,
            status: "INVALID_ARGUMENT",
            message: message,
            details: [
                [
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com", "metadata": ["service": .string(Self.service(isVertex: isVertex))],
                ],
                [
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                    "message": .string(message),
                ],
                ["@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": .string("Invalid API key: \(rawKey)")],
            ]
        )
    }

    // MARK: - 401, 403, 404

    /// An OAuth-style `Authorization` header without an API key.
    static func unauthenticated(isVertex: Bool, method: String) -> GoogleError {
        GoogleError(
            code: 401,
            status: "UNAUTHENTICATED",
            message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                + "or other valid authentication credential. "
                + "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            details: [
                [
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                    "metadata": [
                        "method": .string("google.ai.generativelanguage.v1beta.GenerativeService.\(method)"),
                        "service": .string(Self.service(isVertex: isVertex)),
                    ],
                ]
            ]
        )
    }

    /// No key and no credentials at all.
    static func unregisteredCaller() -> GoogleError {
        GoogleError(
            code: 403,
            status: "PERMISSION_DENIED",
            message: "Method doesn't allow unregistered callers (callers without established identity). "
                + "Please use API Key or other form of API consumer identity to call this API."
        )
    }

    /// A suspended key; the message and metadata quote `api_key:<key>` as Google does.
    static func consumerSuspended(rawKey: String, isVertex: Bool) -> GoogleError {
        let message = "Permission denied: Consumer 'api_key:\(rawKey)' has been suspended."
        return GoogleError(
            code: 403,
            status: "PERMISSION_DENIED",
            message: message,
            details: [
                [
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED",
                    "domain": "googleapis.com",
                    "metadata": [
                        "consumer": "projects/123456789012", "service": .string(Self.service(isVertex: isVertex)),
                        "containerInfo": .string("api_key:\(rawKey)"),
                    ],
                ],
                [
                    "@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                    "message": .string(message),
                ],
            ]
        )
    }

    /// An unknown model (the simulator only refuses names containing `notfound`).
    static func modelNotFound(model: String, version: String, method: String, isVertex: Bool) -> GoogleError {
        if isVertex {
            return GoogleError(
                code: 404,
                status: "NOT_FOUND",
                message: "Publisher Model `projects/123456789012/locations/global/publishers/google/models/\(model)` "
                    + "was not found or your project does not have access to it. Please ensure you are using a valid "
                    + "model version. For more information, see: "
                    + "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
            )
        }
        return GoogleError(
            code: 404,
            status: "NOT_FOUND",
            message: "models/\(model) is not found for API version \(version), or is not supported for \(method). "
                + "Call ListModels to see the list of available models and their supported methods."
        )
    }

    // MARK: - 429, 5xx

    /// The Gemini API's 429 with Help, QuotaFailure (one violation per exceeded quota) and RetryInfo.
    /// - Parameters:
    ///   - secondsToRetry: seconds until the next UTC minute; RetryInfo carries its whole seconds.
    static func quotaExceeded(
        _ violations: [QuotaViolation],
        model: String,
        family: QuotaFamily,
        tier: QuotaTierName,
        secondsToRetry: Double
    ) -> GoogleError {
        var message =
            "You exceeded your current quota, please check your plan and billing details. For more information "
            + "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current "
            + "usage, head to: https://ai.dev/rate-limit. "
        var entries: [JSONValue] = []
        for violation in violations {
            let metric = family.metric(violation.kind, tier: tier)
            message += "\n* Quota exceeded for metric: \(metric), limit: \(violation.limit), model: \(model)"
            entries.append([
                "quotaMetric": .string(metric),
                "quotaId": .string(family.quotaID(violation.kind, tier: tier)),
                "quotaDimensions": ["location": "global", "model": .string(model)],
                "quotaValue": .string(String(violation.limit)),
            ])
        }
        message += "\nPlease retry in \(Self.preciseSeconds(secondsToRetry))s."
        let wholeSeconds = max(1, Int(secondsToRetry.rounded(.down)))
        return GoogleError(
            code: 429,
            status: "RESOURCE_EXHAUSTED",
            message: message,
            details: [
                [
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        [
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        ]
                    ],
                ],
                ["@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": .array(entries)],
                ["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": .string("\(wholeSeconds)s")],
            ]
        )
    }

    /// Vertex's 429 under Dynamic Shared Quota: no QuotaFailure, no RetryInfo.
    static func vertexResourceExhausted() -> GoogleError {
        GoogleError(
            code: 429,
            status: "RESOURCE_EXHAUSTED",
            message: "Resource exhausted. Please try again later. Please refer to "
                + "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
        )
    }

    /// An injected failure with Google's body for `status` (429, 500, 503 or 504).
    static func injected(status: Int) -> GoogleError {
        switch status {
        case 429:
            GoogleError(
                code: 429,
                status: "RESOURCE_EXHAUSTED",
                message: "Resource has been exhausted (e.g. check quota)."
            )
        case 503:
            GoogleError(code: 503, status: "UNAVAILABLE", message: "The model is overloaded. Please try again later.")
        case 504:
            GoogleError(
                code: 504,
                status: "DEADLINE_EXCEEDED",
                message: "Deadline expired before operation could complete."
            )
        default:
            Self.internalError()
        }
    }

    /// Google's 500, also the event sent inside a stream by `[[stream-error]]`.
    static func internalError() -> GoogleError {
        GoogleError(
            code: 500,
            status: "INTERNAL",
            message: "An internal error has occurred. Please retry or report in "
                + "https://developers.generativeai.google/guide/troubleshooting"
        )
    }

    /// `23.4` → `"23.4"`: up to nine decimals, as Google prints, without trailing zeros.
    static func preciseSeconds(_ seconds: Double) -> String {
        var text = String(format: "%.9f", max(0, seconds))
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
