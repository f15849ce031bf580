/// The parts of a Google error body (`google.rpc.Status` in `{"error": …}`, gemini-wire.md §4.0)
/// that decide what a failure means for a key. Details are matched by `@type`, never by index;
/// the one-element list the OpenAI-compatible endpoint wraps the object in is unwrapped. Any body
/// parses: fields it lacks stay empty, so garbage reads as "no information".
struct GoogleErrorBody {
    /// One `QuotaFailure` violation, or the same facts from a legacy `ErrorInfo`'s metadata.
    struct Violation {
        var quotaID: String
        var quotaValue: String?
    }

    var message = ""
    var status = ""
    /// `ErrorInfo.reason` values, in body order.
    var reasons: [String] = []
    var violations: [Violation] = []
    /// `RetryInfo.retryDelay` as sent (`"37s"`).
    var retryDelay: String?

    init(bytes: [UInt8]) {
        self.init(document: (try? JSONValue.parse(bytes)) ?? .null)
    }

    init(document: JSONValue) {
        guard let error = Self.errorObject(in: document) else { return }
        self.message = error["message"]?.stringValue ?? ""
        self.status = error["status"]?.stringValue ?? ""
        for detail in error["details"]?.arrayValue ?? [] {
            self.read(detail: detail)
        }
    }

    /// The `error` object of a body, unwrapping a list around it.
    static func errorObject(in document: JSONValue) -> JSONValue? {
        if let items = document.arrayValue {
            guard let first = items.first else { return nil }
            return Self.errorObject(in: first)
        }
        guard let error = document["error"], error.objectMembers != nil else { return nil }
        return error
    }

    /// The detail's type name without its URL prefix (`google.rpc.ErrorInfo`).
    static func typeName(of detail: JSONValue) -> String? {
        guard let type = detail["@type"]?.stringValue else { return nil }
        return type.split(separator: "/").last.map(String.init)
    }

    private mutating func read(detail: JSONValue) {
        switch Self.typeName(of: detail) {
        case "google.rpc.ErrorInfo":
            if let reason = detail["reason"]?.stringValue { self.reasons.append(reason) }
            // Legacy (2024) rate-limit bodies carry the quota in ErrorInfo metadata instead.
            if let metadata = detail["metadata"], let limit = metadata["quota_limit"]?.stringValue {
                let value = metadata["quota_limit_value"]?.stringValue
                self.violations.append(Violation(quotaID: limit, quotaValue: value))
            }
        case "google.rpc.QuotaFailure":
            for violation in detail["violations"]?.arrayValue ?? [] {
                let quotaID = violation["quotaId"]?.stringValue ?? ""
                let value = violation["quotaValue"]?.stringValue ?? violation["quotaValue"]?.intValue.map(String.init)
                self.violations.append(Violation(quotaID: quotaID, quotaValue: value))
            }
        case "google.rpc.RetryInfo":
            self.retryDelay = detail["retryDelay"]?.stringValue
        default:
            break
        }
    }
}
