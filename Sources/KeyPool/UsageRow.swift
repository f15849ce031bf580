import Foundation

/// Identifies one row of the usage matrix: a quota model (already normalised, see `ModelName`)
/// and a key. The key's kind is part of the key.
public struct UsageRowID: Sendable, Hashable, CustomStringConvertible {
    public var model: String
    public var keyID: Int64

    public init(model: String, keyID: Int64) {
        self.model = model
        self.keyID = keyID
    }

    public var description: String { "\(self.model)/\(self.keyID)" }
}

/// One row of the usage matrix (DESIGN.md §3): counters of the current windows, limits and the
/// exhaustion mark. Counters belong to the windows named by `minuteStart` and `dayStart`; a
/// counter whose window is over reads as zero through `counters(at:calendar:)`.
public struct UsageRow: Sendable, Hashable {
    public var id: UsageRowID
    /// Requests in the minute window starting at `minuteStart`.
    public var rpm: Int
    /// Input tokens in the minute window starting at `minuteStart`.
    public var tpm: Int
    /// Requests in the quota day starting at `dayStart`.
    public var rpd: Int
    public var minuteStart: Date
    public var dayStart: Date
    public var limits: Limits
    /// The key may not be used for this model before this instant (after a 429).
    public var exhaustedUntil: Date?
    public var lastUsed: Date?

    public init(
        id: UsageRowID,
        rpm: Int = 0,
        tpm: Int = 0,
        rpd: Int = 0,
        minuteStart: Date,
        dayStart: Date,
        limits: Limits,
        exhaustedUntil: Date? = nil,
        lastUsed: Date? = nil
    ) {
        self.id = id
        self.rpm = rpm
        self.tpm = tpm
        self.rpd = rpd
        self.minuteStart = minuteStart
        self.dayStart = dayStart
        self.limits = limits
        self.exhaustedUntil = exhaustedUntil
        self.lastUsed = lastUsed
    }

    /// An empty row for the windows current at `now`.
    public static func fresh(_ id: UsageRowID, limits: Limits, now: Date, calendar: QuotaCalendar) -> UsageRow {
        UsageRow(
            id: id,
            minuteStart: calendar.minuteStart(of: now),
            dayStart: calendar.dayStart(of: now),
            limits: limits
        )
    }

    /// The counters as they stand at `now`: those of a window that has closed read as zero,
    /// whether or not a reset job has run.
    public func counters(at now: Date, calendar: QuotaCalendar) -> Counters {
        let minuteOpen = self.minuteStart >= calendar.minuteStart(of: now)
        let dayOpen = self.dayStart >= calendar.dayStart(of: now)
        return Counters(
            rpm: minuteOpen ? self.rpm : 0,
            tpm: minuteOpen ? self.tpm : 0,
            rpd: dayOpen ? self.rpd : 0
        )
    }

    /// Remaining units at `now`; `nil` for an unlimited counter. Never below zero.
    public func headroom(at now: Date, calendar: QuotaCalendar) -> Headroom {
        let used = self.counters(at: now, calendar: calendar)
        func left(_ limit: Int?, _ used: Int) -> Int? { limit.map { max(0, $0 - used) } }
        return Headroom(
            rpm: left(self.limits.rpm, used.rpm),
            tpm: left(self.limits.tpm, used.tpm),
            rpd: left(self.limits.rpd, used.rpd)
        )
    }

    public func isExhausted(at now: Date) -> Bool {
        guard let until = self.exhaustedUntil else { return false }
        return until > now
    }
}

/// Counter values of the current windows.
public struct Counters: Sendable, Hashable {
    public var rpm: Int
    public var tpm: Int
    public var rpd: Int

    public init(rpm: Int, tpm: Int, rpd: Int) {
        self.rpm = rpm
        self.tpm = tpm
        self.rpd = rpd
    }
}

/// What is left in the current windows; `nil` means unlimited.
public struct Headroom: Sendable, Hashable {
    public var rpm: Int?
    public var tpm: Int?
    public var rpd: Int?

    /// Headroom with the given remaining units; `nil` for an unlimited counter.
    public init(rpm: Int?, tpm: Int?, rpd: Int?) {
        self.rpm = rpm
        self.tpm = tpm
        self.rpd = rpd
    }

    /// True when one more request of `cost` fits every limited counter (and at least one token).
    public func admits(cost: Int) -> Bool {
        (self.rpm ?? Int.max) >= cost && (self.rpd ?? Int.max) >= cost && (self.tpm ?? Int.max) >= 1
    }
}
