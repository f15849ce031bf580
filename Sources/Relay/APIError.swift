import HTTPServer
import KeyPool

/// An error the relay itself answers with, in the Google shape
/// `{"error":{"code":…,"message":…,"status":…}}` used on Gemini, Vertex and admin routes.
struct APIError: Error, Sendable {
    var status: Int
    var googleStatus: String
    var message: String
    /// Seconds for `Retry-After`, rounded up.
    var retryAfterSeconds: Int?
    /// The request field at fault, for OpenAI's `param`.
    var param: String? = nil

    static func unauthenticated() -> APIError {
        APIError(
            status: 401,
            googleStatus: "UNAUTHENTICATED",
            message: "missing or invalid client token: send it as 'Authorization: Bearer', 'x-goog-api-key' or '?key='"
        )
    }

    static func adminUnauthenticated() -> APIError {
        APIError(
            status: 401,
            googleStatus: "UNAUTHENTICATED",
            message: "missing or invalid admin token: send 'Authorization: Bearer <admin_token>'"
        )
    }

    static func invalidArgument(_ message: String, param: String? = nil) -> APIError {
        APIError(status: 400, googleStatus: "INVALID_ARGUMENT", message: message, param: param)
    }

    /// A translation error of the OpenAI routes, kept with its field.
    static func from(_ error: OpenAIError) -> APIError {
        APIError(status: error.status, googleStatus: "INVALID_ARGUMENT", message: error.message, param: error.param)
    }

    static func notFound(_ message: String) -> APIError {
        APIError(status: 404, googleStatus: "NOT_FOUND", message: message)
    }

    static func methodNotAllowed() -> APIError {
        APIError(status: 405, googleStatus: "METHOD_NOT_ALLOWED", message: "method not allowed on this path")
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(
            status: 413,
            googleStatus: "INVALID_ARGUMENT",
            message: "request body is larger than max_body_bytes (\(limit) bytes)"
        )
    }

    static func exhausted(retryAfterSeconds: Int?) -> APIError {
        APIError(
            status: 429,
            googleStatus: "RESOURCE_EXHAUSTED",
            message: "every key of the pool has reached its limit for this model; retry later",
            retryAfterSeconds: retryAfterSeconds
        )
    }

    static func noActiveKey() -> APIError {
        APIError(status: 503, googleStatus: "UNAVAILABLE", message: "no active API key in the pool for this request")
    }

    static func storeUnavailable() -> APIError {
        APIError(status: 503, googleStatus: "UNAVAILABLE", message: "the usage store is unavailable; retry shortly")
    }

    static func notImplemented(_ feature: String) -> APIError {
        APIError(
            status: 501,
            googleStatus: "UNIMPLEMENTED",
            message: "\(feature) are not relayed yet: a file or cache belongs to the project of the key that made it"
        )
    }

    static func upstreamUnreachable(_ error: UpstreamErrorSummary) -> APIError {
        APIError(
            status: error.isTimeout ? 504 : 502,
            googleStatus: error.isTimeout ? "DEADLINE_EXCEEDED" : "UNAVAILABLE",
            message: "upstream \(error.description)"
        )
    }

    /// The body in `shape`.
    func body(_ shape: ErrorShape) -> [UInt8] {
        switch shape {
        case .google: self.body
        case .openAI: self.openAIBody
        }
    }

    /// OpenAI's `{"error":{"message","type","param","code"}}`, typed by status as OpenAI does.
    var openAIBody: [UInt8] {
        let (type, code) = Self.openAIType(status: self.status)
        let error: JSONValue = [
            "error": [
                "message": .string(self.message),
                "type": .string(type),
                "param": self.param.map { .string($0) } ?? .null,
                "code": code.map { .string($0) } ?? .null,
            ]
        ]
        return error.serializedBytes
    }

    /// OpenAI's error `type` and `code` for an HTTP status.
    static func openAIType(status: Int) -> (type: String, code: String?) {
        switch status {
        case 401: ("authentication_error", "invalid_api_key")
        case 403: ("permission_error", nil)
        case 404: ("not_found_error", nil)
        case 413: ("invalid_request_error", "request_too_large")
        case 429: ("rate_limit_error", "rate_limit_exceeded")
        case 400..<500: ("invalid_request_error", nil)
        default: ("api_error", nil)
        }
    }

    /// The body bytes, Google's shape.
    var body: [UInt8] {
        let error: JSONValue = [
            "error": [
                "code": JSONValue(self.status),
                "message": .string(self.message),
                "status": .string(self.googleStatus),
            ]
        ]
        return error.serializedBytes
    }

    func response(requestID: String, shape: ErrorShape = .google) -> HTTPResponse {
        var headers: HTTPHeaders = [
            "Content-Type": "application/json; charset=UTF-8",
            "x-request-id": requestID,
        ]
        if let seconds = self.retryAfterSeconds {
            headers.add("Retry-After", String(max(1, seconds)))
        }
        if self.status == 429 || self.status == 503 {
            // The relay already tried its keys; an SDK retrying at once would only repeat this.
            headers.add("x-should-retry", "false")
        }
        return HTTPResponse(status: self.status, headers: headers, body: .bytes(self.body(shape)))
    }
}

/// A transport failure, described without anything that could hold a URL or key.
struct UpstreamErrorSummary: Sendable, CustomStringConvertible {
    var description: String
    var isTimeout: Bool
}
