import Foundation
import HTTPServer
import KeyPool

extension Relay {
    /// How a key stands right now: `inactive` (dead for every model), `exhausted` (a 429 keeps it
    /// off at least one model), or `valid`.
    func keyState(_ key: KeyRecord, rows: [UsageRow], now: Date) -> String {
        guard key.isActive else { return "inactive" }
        let isExhausted = rows.contains { $0.id.keyID == key.id && $0.isExhausted(at: now) }
        return isExhausted ? "exhausted" : "valid"
    }

    /// `GET /admin/keys`: every key with its state, and the ids grouped by state.
    func adminKeys(requestID: String) -> HTTPResponse {
        let now = self.clock.now()
        let rows = self.ledger.withMatrix { $0.rows }
        var groups: [String: [JSONValue]] = ["valid": [], "exhausted": [], "inactive": []]
        var keys: [JSONValue] = []
        for key in self.keysInUse {
            let state = self.keyState(key, rows: rows, now: now)
            groups[state, default: []].append(JSONValue(Int(key.id)))
            let exhaustedModels = rows.filter { $0.id.keyID == key.id && $0.isExhausted(at: now) }.map { row in
                JSONValue.object([("model", .string(row.id.model)), ("until", Self.timestamp(row.exhaustedUntil))])
            }
            keys.append(
                Self.keyJSON(key).setting("state", to: .string(state)).setting(
                    "exhausted_models",
                    to: .array(exhaustedModels)
                )
            )
        }
        let body: JSONValue = [
            "keys": .array(keys),
            "valid": .array(groups["valid"] ?? []),
            "exhausted": .array(groups["exhausted"] ?? []),
            "inactive": .array(groups["inactive"] ?? []),
        ]
        return Self.json(status: 200, body, requestID: requestID)
    }

    /// `GET /admin/state`: per model, each key's window-aware counters, limits, time to reset and
    /// state, plus a summary.
    func adminState(requestID: String) -> HTTPResponse {
        let now = self.clock.now()
        let calendar = self.ledger.calendar
        let rows = self.ledger.withMatrix { $0.rows }
        let keys = Dictionary(uniqueKeysWithValues: self.keysInUse.map { ($0.id, $0) })
        let minuteReset = Int(calendar.minuteEnd(of: now).timeIntervalSince(now).rounded(.up))
        let dayReset = Int(calendar.dayEnd(of: now).timeIntervalSince(now).rounded(.up))

        var models: [(String, JSONValue)] = []
        for model in Set(rows.map(\.id.model)).sorted() {
            var counts = ["available": 0, "exhausted": 0, "inactive": 0, "full": 0]
            var entries: [JSONValue] = []
            for row in rows.filter({ $0.id.model == model }).sorted(by: { $0.id.keyID < $1.id.keyID }) {
                guard let key = keys[row.id.keyID] else { continue }
                let used = row.counters(at: now, calendar: calendar)
                let headroom = row.headroom(at: now, calendar: calendar)
                let state: String
                if !key.isActive {
                    state = "inactive"
                } else if row.isExhausted(at: now) {
                    state = "exhausted"
                } else if !headroom.admits(cost: 1) {
                    state = "full"
                } else {
                    state = "available"
                }
                counts[state, default: 0] += 1
                entries.append([
                    "key_id": JSONValue(Int(key.id)),
                    "fingerprint": .string(key.fingerprint.description),
                    "state": .string(state),
                    "rpm": JSONValue(used.rpm), "tpm": JSONValue(used.tpm), "rpd": JSONValue(used.rpd),
                    "limits": Self.limitsJSON(row.limits),
                    "exhausted_until": row.isExhausted(at: now) ? Self.timestamp(row.exhaustedUntil) : .null,
                    "last_used": Self.timestamp(row.lastUsed),
                ])
            }
            models.append(
                (
                    model,
                    [
                        "keys": .array(entries),
                        "available": JSONValue(counts["available"] ?? 0),
                        "full": JSONValue(counts["full"] ?? 0),
                        "exhausted": JSONValue(counts["exhausted"] ?? 0),
                        "inactive": JSONValue(counts["inactive"] ?? 0),
                    ]
                )
            )
        }
        let body: JSONValue = [
            "now": Self.timestamp(now),
            "resets_in_s": ["minute": JSONValue(minuteReset), "day": JSONValue(dayReset)],
            "summary": [
                "keys": JSONValue(keys.count),
                "active": JSONValue(keys.values.filter(\.isActive).count),
                "models": JSONValue(models.count),
            ],
            "models": .object(models),
        ]
        return Self.json(status: 200, body, requestID: requestID)
    }

    /// `GET /admin/keys/{id}/usage?model=`: one row's counters (all of the key's rows without a model).
    func adminKeyUsage(id: Int64, request: HTTPRequest, requestID: String) -> HTTPResponse {
        guard self.keysInUse.contains(where: { $0.id == id }) else {
            return APIError.notFound("no key with id \(id) is in use").response(requestID: requestID)
        }
        let now = self.clock.now()
        let calendar = self.ledger.calendar
        let wanted = request.queryValue("model").flatMap(ModelName.init)
        if request.queryValue("model") != nil && wanted == nil {
            return APIError.invalidArgument("invalid model name", param: "model").response(requestID: requestID)
        }
        let quotaModel = wanted.map { self.settings.modelLimits(for: .gemini).resolve($0).quotaModel }
        let rows = self.ledger.withMatrix { $0.rows }.filter { row in
            row.id.keyID == id && (quotaModel == nil || row.id.model == quotaModel)
        }
        let usage = rows.map { row -> JSONValue in
            let used = row.counters(at: now, calendar: calendar)
            return [
                "model": .string(row.id.model),
                "rpm": JSONValue(used.rpm), "tpm": JSONValue(used.tpm), "rpd": JSONValue(used.rpd),
                "limits": Self.limitsJSON(row.limits),
                "exhausted_until": row.isExhausted(at: now) ? Self.timestamp(row.exhaustedUntil) : .null,
            ]
        }
        return Self.json(status: 200, ["key_id": JSONValue(Int(id)), "usage": .array(usage)], requestID: requestID)
    }

    static func limitsJSON(_ limits: Limits) -> JSONValue {
        [
            "rpm": limits.rpm.map { JSONValue($0) } ?? .null,
            "tpm": limits.tpm.map { JSONValue($0) } ?? .null,
            "rpd": limits.rpd.map { JSONValue($0) } ?? .null,
        ]
    }

    static func timestamp(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(date.formatted(.iso8601))
    }
}
