import Foundation
import KeyPool

/// One quota a request went over, with the limit Google would quote as `quotaValue`.
struct QuotaViolation: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case inputTokensPerMinute
        case requestsPerMinute
        case requestsPerDay
    }

    var kind: Kind
    var limit: Int
}

/// Which of Google's quota families a method is counted in: generation or embedding.
enum QuotaFamily: Sendable, Hashable {
    case generate
    case embed

    func metric(_ kind: QuotaViolation.Kind, tier: QuotaTierName) -> String {
        let stem = self == .generate ? "generate_content" : "embed_content"
        let counter = kind == .inputTokensPerMinute ? "input_token_count" : "requests"
        return "generativelanguage.googleapis.com/\(stem)_\(tier.metricPart)_\(counter)"
    }

    func quotaID(_ kind: QuotaViolation.Kind, tier: QuotaTierName) -> String {
        let name: String
        switch (self, kind) {
        case (.generate, .requestsPerMinute): name = "GenerateRequestsPerMinutePerProjectPerModel"
        case (.generate, .requestsPerDay): name = "GenerateRequestsPerDayPerProjectPerModel"
        case (.generate, .inputTokensPerMinute): name = "GenerateContentInputTokensPerModelPerMinute"
        case (.embed, .requestsPerMinute): name = "EmbedContentRequestsPerMinutePerProjectPerModel"
        case (.embed, .requestsPerDay): name = "EmbedContentRequestsPerDayPerProjectPerModel"
        case (.embed, .inputTokensPerMinute): name = "EmbedContentInputTokensPerModelPerMinute"
        }
        return "\(name)-\(tier.quotaIDSuffix)"
    }
}

/// The tier as Google spells it in quota ids: `FreeTier`, `PaidTier`, `PaidTier2`, `PaidTier3`.
struct QuotaTierName: Sendable, Hashable {
    /// Suffix of a quotaId, e.g. `FreeTier`.
    var quotaIDSuffix: String
    /// Part of a quota metric, e.g. `free_tier`.
    var metricPart: String

    static let free = QuotaTierName(quotaIDSuffix: "FreeTier", metricPart: "free_tier")

    /// Maps the rate-limit table's tier names ("Free Tier", "Tier 1" …) to Google's spelling.
    init(tableTier: String) {
        let digits = tableTier.filter(\.isNumber)
        if tableTier.lowercased().contains("free") || digits.isEmpty {
            self = .free
        } else {
            self.init(quotaIDSuffix: digits == "1" ? "PaidTier" : "PaidTier\(digits)", metricPart: "paid_tier")
        }
    }

    init(quotaIDSuffix: String, metricPart: String) {
        self.quotaIDSuffix = quotaIDSuffix
        self.metricPart = metricPart
    }
}

/// Per (key, quota model) counters in fixed windows: UTC minutes for requests and input tokens,
/// quota days (midnight America/Los_Angeles) for requests. A counter whose window has passed
/// counts as zero. Rejected requests are not counted, as Google does not charge them.
struct QuotaLedger: Sendable {
    struct RowID: Hashable, Sendable {
        var keyIndex: Int
        var model: String
    }

    struct Row: Sendable {
        var minuteStart: Date
        var minuteRequests = 0
        var minuteInputTokens = 0
        var dayStart: Date
        var dayRequests = 0
    }

    private(set) var rows: [RowID: Row] = [:]
    let calendar: QuotaCalendar

    init(calendar: QuotaCalendar = .pacific) {
        self.calendar = calendar
    }

    /// Admits `units` requests with `inputTokens` when every limit allows it and counts them;
    /// otherwise counts nothing and returns every violated quota (day, minute, tokens).
    mutating func admit(
        _ id: RowID,
        units: Int,
        inputTokens: Int,
        limits: Limits,
        now: Date
    ) -> [QuotaViolation] {
        var row = self.current(id, now: now)
        var violations: [QuotaViolation] = []
        if let rpd = limits.rpd, row.dayRequests + units > rpd {
            violations.append(QuotaViolation(kind: .requestsPerDay, limit: rpd))
        }
        if let rpm = limits.rpm, row.minuteRequests + units > rpm {
            violations.append(QuotaViolation(kind: .requestsPerMinute, limit: rpm))
        }
        if let tpm = limits.tpm, row.minuteInputTokens + inputTokens > tpm {
            violations.append(QuotaViolation(kind: .inputTokensPerMinute, limit: tpm))
        }
        guard violations.isEmpty else { return violations }

        row.minuteRequests += units
        row.dayRequests += units
        row.minuteInputTokens += inputTokens
        self.rows[id] = row
        return []
    }

    /// The row with any finished window counted as zero.
    func current(_ id: RowID, now: Date) -> Row {
        let minute = self.calendar.minuteStart(of: now)
        let day = self.calendar.dayStart(of: now)
        guard var row = self.rows[id] else { return Row(minuteStart: minute, dayStart: day) }
        if row.minuteStart != minute {
            row = Row(minuteStart: minute, dayStart: row.dayStart, dayRequests: row.dayRequests)
        }
        if row.dayStart != day {
            row.dayStart = day
            row.dayRequests = 0
        }
        return row
    }

    mutating func removeAll() {
        self.rows.removeAll()
    }
}

/// SplitMix64: a small seeded generator, so `--seed` makes error injection repeatable.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in `0..<1`.
    mutating func nextUnit() -> Double {
        Double(self.next() >> 11) / Double(UInt64(1) << 53)
    }
}
