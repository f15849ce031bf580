import Foundation
import KeyPool

/// Maps usage rows of `t_usage_stats` (v1.5) and `t_usage_matrix` (v2) into history cells.
struct UsageMapper {
    let calendar: QuotaCalendar
    let limits: [KeyKind: ModelLimits]
    /// (day, model, key hash) → requests.
    var requests: [String: ImportPlan.DayRequests] = [:]
    /// (table, model, key hash) → lifetime tokens, with the latest use seen.
    var tokens: [String: ImportPlan.LifetimeTokens] = [:]
    private var latestUse: [String: Date] = [:]

    init(calendar: QuotaCalendar, limits: [KeyKind: ModelLimits]) {
        self.calendar = calendar
        self.limits = limits
    }

    /// Columns each shape has; any other column is reported and ignored.
    static let knownColumns: [String: Set<String>] = [
        "t_usage_stats": [
            "id", "api_key", "model_name", "token_count", "rpm", "rpd", "tpm", "exhausted", "rpm_timestamp",
            "tpm_timestamp", "rpd_timestamp", "timestamp",
        ],
        "t_usage_matrix": [
            "id", "api_key", "model_name", "rpm", "tpm", "rpd", "total_token_count", "minute_reset_time",
            "day_reset_time", "vertex_key", "is_active", "is_exhausted", "last_used",
        ],
    ]

    mutating func map(_ table: ImportSource.Table, keyKinds: [String: KeyKind], into plan: inout ImportPlan) {
        let isMatrix = table.name == "t_usage_matrix"
        let known = Self.knownColumns[table.name] ?? []
        for column in table.columns where !known.contains(column) {
            plan.notes.append("\(table.name): unknown column '\(column)' ignored")
        }
        let required = ["api_key", "model_name", "rpd"]
        let missing = required.filter { !table.columns.contains($0) }
        guard missing.isEmpty else {
            plan.skipped.append(
                ImportSkip(item: table.name, reason: "lacks column(s) " + missing.joined(separator: ", "))
            )
            return
        }
        let tokenColumn = isMatrix ? "total_token_count" : "token_count"
        // The instant a row's counters were last touched: its requests and token growth belong to
        // that quota day.
        let timeColumns =
            isMatrix
            ? ["last_used", "day_reset_time", "minute_reset_time"]
            : ["timestamp", "rpd_timestamp", "rpm_timestamp"]

        for row in table.rows {
            let item = "\(table.name) row \(row.number)"
            func skip(_ reason: String) { plan.skipped.append(ImportSkip(item: item, reason: reason)) }
            guard let rawKey = row.text("api_key") else { skip("has no api_key"); continue }
            guard let key = APIKey(rawKey) else {
                skip("malformed key (\(Fingerprint(secret: rawKey))): whitespace, a control or a non-ASCII character")
                continue
            }
            guard let rawModel = row.text("model_name"), let model = ModelName(rawModel) else {
                skip("model name missing or not valid")
                continue
            }
            guard let requests = Self.count(row.text("rpd")) else { skip("rpd is not a whole number ≥ 0"); continue }
            let tokenText = row.text(tokenColumn)
            guard let tokens = tokenText == nil ? 0 : Self.count(tokenText) else {
                skip("\(tokenColumn) is not a whole number ≥ 0")
                continue
            }
            guard requests > 0 || tokens > 0 else { continue }
            let times = timeColumns.compactMap { row.text($0) }
            guard let first = times.first else { skip("has no time to date its usage"); continue }
            guard let used = Self.instant(first) else { skip("time '\(first)' cannot be read"); continue }

            let kind: KeyKind
            if isMatrix, let flag = row.text("vertex_key") {
                guard let vertex = Self.flag(flag) else { skip("vertex_key is not a boolean"); continue }
                kind = vertex ? .vertex : .gemini
            } else {
                kind = keyKinds[key.hash] ?? .gemini
            }
            let quotaModel = (self.limits[kind] ?? ModelLimits(models: [:])).resolve(model).quotaModel
            let day = self.calendar.dayLabel(of: used)
            plan.usageRowsRead += 1

            if requests > 0 {
                let cell = "\(day)|\(quotaModel)|\(key.hash)"
                self.requests[
                    cell,
                    default: ImportPlan.DayRequests(
                        keyHash: key.hash,
                        fingerprint: key.description,
                        day: day,
                        model: quotaModel,
                        requests: 0
                    )
                ].requests += requests
            }
            if tokens > 0 {
                let cell = "\(table.name)|\(quotaModel)|\(key.hash)"
                var total =
                    self.tokens[cell]
                    ?? ImportPlan.LifetimeTokens(
                        keyHash: key.hash,
                        fingerprint: key.description,
                        table: table.name,
                        model: quotaModel,
                        day: day,
                        totalTokens: 0
                    )
                total.totalTokens += tokens
                if used > self.latestUse[cell] ?? .distantPast {
                    self.latestUse[cell] = used
                    total.day = day
                }
                self.tokens[cell] = total
            }
        }
    }

    /// A whole number ≥ 0 (`12`, `12.0`), or nil.
    static func count(_ text: String?) -> Int? {
        guard let text else { return nil }
        if let value = Int(text) { return value >= 0 ? value : nil }
        guard let value = Double(text), value >= 0, value.rounded() == value, value < 9e15 else { return nil }
        return Int(value)
    }

    static func flag(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "t", "yes": true
        case "0", "false", "f", "no": false
        default: nil
        }
    }

    /// Reads `YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM]` (or with `T`), naive times as UTC as
    /// gemini-balance reads them, or Unix seconds.
    static func instant(_ text: String) -> Date? {
        if let seconds = Double(text), seconds > 0 { return Date(timeIntervalSince1970: seconds) }
        let chars = Array(text.utf8)
        guard chars.count >= 19, chars[10] == UInt8(ascii: " ") || chars[10] == UInt8(ascii: "T") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= chars.count else { return nil }
            return Int(String(decoding: chars[range], as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"), chars[13] == UInt8(ascii: ":")
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < chars.count, chars[index] == UInt8(ascii: ".") {
            let start = index
            index += 1
            while index < chars.count, chars[index] >= UInt8(ascii: "0"), chars[index] <= UInt8(ascii: "9") {
                index += 1
            }
            fraction = Double("0" + String(decoding: chars[start..<index], as: UTF8.self)) ?? 0
        }
        var offset = 0
        if index < chars.count {
            let sign = chars[index]
            if sign == UInt8(ascii: "Z") {
                index += 1
            } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                let digits = String(decoding: chars[(index + 1)...], as: UTF8.self).replacingOccurrences(
                    of: ":",
                    with: ""
                )
                guard digits.count == 4, let hours = Int(digits.prefix(2)), let minutes = Int(digits.suffix(2)) else {
                    return nil
                }
                offset = (hours * 3600 + minutes * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
                index = chars.count
            }
            guard index == chars.count else { return nil }
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let date = calendar.date(from: components), (1...12).contains(month), (1...31).contains(day) else {
            return nil
        }
        return date.addingTimeInterval(fraction - Double(offset))
    }
}
