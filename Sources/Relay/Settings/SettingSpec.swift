import Foundation
import KeyPool

/// One named setting: how to read its text form into `Settings`, and how to show it back
/// (secrets as fingerprints). Values arrive as text from the environment, or as JSON from the
/// config file (scalars as their text, lists as lines, objects as their JSON).
struct SettingSpec: Sendable {
    enum Scope: Sendable {
        /// Per process: never stored (`listen`, `database_url`, timeouts, `proxy_url`).
        case instance
        /// Shared by every instance of a pool: stored in `settings`.
        case pool
        /// Secrets that become `api_keys` rows, never stored as settings.
        case keys
    }

    let name: String
    let scope: Scope
    let apply: @Sendable (String, inout Settings) throws(SettingError) -> Void
    let show: @Sendable (Settings) -> JSONValue

    /// Every setting KeyRelay knows, in documentation order.
    static let all: [SettingSpec] = keySettings + accessSettings + upstreamSettings + poolSettings + serverSettings

    static func named(_ name: String) -> SettingSpec? { Self.all.first { $0.name == name } }

    /// The known name closest to `name`, for "did you mean" hints.
    static func suggestion(for name: String) -> String? {
        let scored = Self.all.map { ($0.name, editDistance($0.name, name)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(3, name.count / 3) else { return nil }
        return best
    }
}

// MARK: - Value parsers shared by the specs

extension SettingSpec {
    /// Splits a list on commas and newlines, trims entries and drops blanks.
    static func listEntries(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == "\r" })
            .map { String($0).trimmingWhitespace() }
            .filter { !$0.isEmpty }
    }

    /// "got '42'" for a short, number-like value; otherwise only its length, because a value in
    /// the wrong setting may be a key or token pasted by mistake.
    static func shown(_ text: String) -> String {
        let trimmed = text.trimmingWhitespace()
        let isNumberLike = trimmed.count <= 12 && trimmed.allSatisfy { $0.isNumber || "+-.eE".contains($0) }
        if isNumberLike || ["true", "false", "yes", "no", "on", "off"].contains(trimmed.lowercased()) {
            return "got '\(trimmed)'"
        }
        return "got a value of \(trimmed.count) characters"
    }

    static func apiKeys(_ text: String, setting: String) throws(SettingError) -> [APIKey] {
        var keys: [APIKey] = []
        var seen = Set<APIKey>()
        for (index, entry) in Self.listEntries(text).enumerated() {
            // The entry itself is never quoted back: it may be a key with a typo.
            guard let key = APIKey(entry) else {
                throw SettingError(
                    setting: setting,
                    message: "entry \(index + 1) contains whitespace or control characters inside the key"
                )
            }
            if seen.insert(key).inserted { keys.append(key) }
        }
        return keys
    }

    static func integer(_ text: String, setting: String, range: ClosedRange<Int>) throws(SettingError) -> Int {
        guard let value = Int(text.trimmingWhitespace()), range.contains(value) else {
            throw SettingError(
                setting: setting,
                message: "must be a whole number in \(range.lowerBound)...\(range.upperBound), \(Self.shown(text))"
            )
        }
        return value
    }

    static func seconds(_ text: String, setting: String, range: ClosedRange<Double>) throws(SettingError) -> Duration {
        guard let value = Double(text.trimmingWhitespace()), value.isFinite, range.contains(value) else {
            throw SettingError(
                setting: setting,
                message:
                    "must be a number of seconds in \(range.lowerBound)...\(range.upperBound), \(Self.shown(text))"
            )
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    static func boolean(_ text: String, setting: String) throws(SettingError) -> Bool {
        switch text.trimmingWhitespace().lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off", "": return false
        default: throw SettingError(setting: setting, message: "must be true or false, \(Self.shown(text))")
        }
    }

    static func baseURL(_ text: String, setting: String) throws(SettingError) -> String {
        var url = text.trimmingWhitespace()
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
            parsed.host != nil, parsed.query == nil, parsed.user == nil
        else {
            throw SettingError(setting: setting, message: "must be an http(s) origin such as https://example.com")
        }
        return url
    }

    /// Inline JSON, or `@path` to a file holding it.
    static func jsonText(_ text: String, setting: String) throws(SettingError) -> String {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("@") else { return trimmed }
        let path = String(trimmed.dropFirst())
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingError(setting: setting, message: "file '\(path)' cannot be read")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func fingerprints(_ keys: [APIKey]) -> JSONValue {
        .array(keys.map { .string($0.fingerprint.description) })
    }
}

/// Levenshtein distance, for setting-name suggestions.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
