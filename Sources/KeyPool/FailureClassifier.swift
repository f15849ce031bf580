import Foundation

/// Which quota a 429 named, as far as the body tells.
public enum RateLimitScope: String, Sendable, Hashable {
    /// A per-minute quota (requests or input tokens), or a `retryDelay` was given.
    case minute
    /// A per-day quota (`quotaId` contains `PerDay`): exhausted until the end of the quota day.
    case day
    /// The tier has no quota for the model (`quotaValue` `"0"`): a permanent "not for this key",
    /// retried after the quota day in case the tier changed. Worth a notice in the log.
    case noQuota
    /// Prepayment credits are depleted: nothing until the operator pays.
    case billing
    /// A bare or Vertex 429 that names no quota: a short backoff.
    case unspecified
}

/// What an upstream answer means for the key that made the call (DESIGN.md §4).
public enum FailureClass: Sendable, Hashable {
    /// A 2xx: a successful, billed call, even with no text in it.
    case success
    /// A 429: the key may not be used for this model before `until`; retry with another key.
    case rateLimited(until: Date, scope: RateLimitScope)
    /// The key is broken (invalid, suspended, misconfigured): deactivate it everywhere.
    /// `reason` is a Google reason code such as `API_KEY_INVALID`, never text from the body.
    case keyInvalid(reason: String)
    /// A model- or network-wide upstream failure (5xx, 408, 499): retry, never deactivate.
    /// `reason` is `HTTP <status>` plus the Google status name when there is one.
    case transient(reason: String)
    /// The client's fault: pass the answer on; the key is not penalised.
    case clientError
    /// The request does not fit this key (a file or cached content of another project): pass it
    /// on, no penalty.
    case notForThisKey
    /// An answer the classifier does not know: counts towards `max_failures`.
    case unrecognised(reason: String)
}

/// Turns an upstream status and body into a `FailureClass` (DESIGN.md §4, gemini-wire.md §4.9).
/// Pure: the instant and the quota calendar are given. Never fails, whatever the body holds.
public enum FailureClassifier {
    /// `ErrorInfo` reasons of a 403 that mean the key itself is unusable.
    static let keyLevel403Reasons: Set<String> = [
        "CONSUMER_SUSPENDED", "SERVICE_DISABLED", "API_KEY_SERVICE_BLOCKED", "CONSUMER_INVALID",
        "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED",
    ]

    /// Messages of a 403 that mean the key itself is unusable, with the reason recorded for each.
    static let keyLevel403Messages: [(fragment: String, reason: String)] = [
        ("Method doesn't allow unregistered callers", "UNREGISTERED_CALLER"),
        ("has been suspended", "CONSUMER_SUSPENDED"),
        ("or it is disabled", "SERVICE_DISABLED"),
        ("are blocked.", "API_KEY_SERVICE_BLOCKED"),
        ("reported as leaked", "API_KEY_LEAKED"),
    ]

    /// Classifies one upstream answer.
    /// - Parameters:
    ///   - status: the HTTP status code.
    ///   - body: the response body as received (JSON, a JSON list, or anything else).
    ///   - now: when the answer arrived; a 429's `until` counts from it.
    ///   - calendar: minute and quota-day boundaries for 429s.
    public static func classify(status: Int, body: [UInt8], now: Date, calendar: QuotaCalendar) -> FailureClass {
        switch status {
        case 200..<300:
            return .success
        case 429:
            return Self.classifyRateLimit(GoogleErrorBody(bytes: body), now: now, calendar: calendar)
        case 400:
            let error = GoogleErrorBody(bytes: body)
            return error.reasons.contains("API_KEY_INVALID") ? .keyInvalid(reason: "API_KEY_INVALID") : .clientError
        case 401:
            let error = GoogleErrorBody(bytes: body)
            return .keyInvalid(reason: error.reasons.lazy.compactMap(Self.safeCode).first ?? "UNAUTHENTICATED")
        case 403:
            return Self.classifyForbidden(GoogleErrorBody(bytes: body))
        case 408, 499:
            return .transient(reason: Self.summary(status: status, body: body))
        case 400..<500:
            return .clientError
        case 500..<600:
            return .transient(reason: Self.summary(status: status, body: body))
        default:
            return .unrecognised(reason: Self.summary(status: status, body: body))
        }
    }

    private static func classifyForbidden(_ error: GoogleErrorBody) -> FailureClass {
        if let reason = error.reasons.first(where: { Self.keyLevel403Reasons.contains($0) }) {
            return .keyInvalid(reason: reason)
        }
        if let match = Self.keyLevel403Messages.first(where: { error.message.contains($0.fragment) }) {
            // "Requests to this API … are blocked." and "Requests from referer … are blocked." differ.
            if match.reason == "API_KEY_SERVICE_BLOCKED", error.message.contains("referer") {
                return .keyInvalid(reason: "API_KEY_HTTP_REFERRER_BLOCKED")
            }
            return .keyInvalid(reason: match.reason)
        }
        let resourceFragments = ["File ", "files/", "cachedContents", "permission to access"]
        if resourceFragments.contains(where: { error.message.contains($0) }) {
            return .notForThisKey
        }
        let status = Self.safeCode(error.status).map { " " + $0 } ?? ""
        return .unrecognised(reason: "HTTP 403" + status)
    }

    // MARK: - 429

    static func classifyRateLimit(_ error: GoogleErrorBody, now: Date, calendar: QuotaCalendar) -> FailureClass {
        let dayEnd = calendar.dayEnd(of: now)
        // "No quota on this tier" wins over "per day": both wait for the quota day to end, but it
        // is the stronger statement and the operator should hear about it.
        if error.violations.contains(where: { $0.quotaValue == "0" }) || Self.saysLimitZero(error.message) {
            return .rateLimited(until: dayEnd, scope: .noQuota)
        }
        if error.message.contains("prepayment credits are depleted") {
            return .rateLimited(until: dayEnd, scope: .billing)
        }
        // Decide "daily" from the quota id, never from retryDelay: per-day violations come with
        // delays of under a minute.
        if error.violations.contains(where: { Self.isPerDay($0.quotaID) }) {
            return .rateLimited(until: dayEnd, scope: .day)
        }
        if let seconds = error.retryDelay.flatMap(Self.parseDelay) ?? Self.delayInMessage(error.message) {
            return .rateLimited(until: now.addingTimeInterval(TimeInterval(seconds)), scope: .minute)
        }
        let namesMinute = error.violations.contains { Self.isPerMinute($0.quotaID) }
        return .rateLimited(until: calendar.minuteEnd(of: now), scope: namesMinute ? .minute : .unspecified)
    }

    // Current bodies name quotas like `GenerateRequestsPerDayPerProjectPerModel-FreeTier`; legacy
    // ErrorInfo metadata says "… limit per day …" in words.
    private static func isPerDay(_ quotaID: String) -> Bool {
        quotaID.contains("PerDay") || quotaID.lowercased().contains("per day")
    }

    private static func isPerMinute(_ quotaID: String) -> Bool {
        quotaID.contains("PerMinute") || quotaID.lowercased().contains("per minute")
    }

    /// The longest delay believed, in seconds: anything longer is a garbled value, not a wait.
    static let maxDelaySeconds = 86_400

    /// Parses a protobuf Duration such as `"37s"` or `"45.837906927s"` (`^\d+(\.\d+)?s$`), rounded
    /// up to whole seconds, at least 1 and at most `maxDelaySeconds`. Nil for any other text.
    static func parseDelay(_ text: String) -> Int? {
        guard text.hasSuffix("s") else { return nil }
        let number = text.dropLast()
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
            parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
            let value = Double(number), value.isFinite
        else { return nil }
        return min(Self.maxDelaySeconds, max(1, Int(min(value.rounded(.up), Double(Self.maxDelaySeconds)))))
    }

    /// The delay of a message ending `Please retry in 38.962214405s.`, when RetryInfo is missing.
    static func delayInMessage(_ message: String) -> Int? {
        guard let range = message.range(of: "Please retry in ") else { return nil }
        let rest = message[range.upperBound...]
        guard let end = rest.firstIndex(of: "s") else { return nil }
        return Self.parseDelay(String(rest[...end]))
    }

    /// True for a message naming `limit: 0` (and not `limit: 05…`), the older form of quotaValue "0".
    private static func saysLimitZero(_ message: String) -> Bool {
        var rest = Substring(message)
        while let range = rest.range(of: "limit: 0") {
            rest = rest[range.upperBound...]
            guard let next = rest.first else { return true }
            if !next.isNumber { return true }
        }
        return false
    }

    // MARK: - Text that is safe to keep

    /// `value` when it looks like a Google code (`API_KEY_INVALID`, `UNAVAILABLE`): upper-case
    /// letters, digits and `_`, at most 64 characters. Anything else could carry body text.
    static func safeCode(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 64,
            value.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F })
        else { return nil }
        return value
    }

    /// `HTTP <status>` and the body's status name when it has a safe one (`HTTP 503 UNAVAILABLE`).
    private static func summary(status: Int, body: [UInt8]) -> String {
        let name = Self.safeCode(GoogleErrorBody(bytes: body).status).map { " " + $0 } ?? ""
        return "HTTP \(status)" + name
    }
}
