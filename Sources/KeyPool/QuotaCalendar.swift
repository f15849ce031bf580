import Foundation
import Synchronization

/// Window arithmetic: minute windows are UTC minutes; the quota day starts at midnight in
/// `timeZone` (default America/Los_Angeles, where Google resets daily quotas), so a day may be
/// 23 or 25 hours long across a daylight-saving change.
public struct QuotaCalendar: Sendable, Hashable {
    public let timeZone: TimeZone
    private let calendar: Calendar
    /// The last quota day computed. Every request asks for the day of "now" several times, and
    /// Foundation's time-zone arithmetic is slow enough to show in a profile; a day is long.
    private let lastDay = DayCache()

    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    public static func == (lhs: QuotaCalendar, rhs: QuotaCalendar) -> Bool { lhs.timeZone == rhs.timeZone }

    public func hash(into hasher: inout Hasher) { hasher.combine(self.timeZone) }

    /// The default quota calendar, Pacific time.
    public static let pacific = QuotaCalendar(timeZone: TimeZone(identifier: "America/Los_Angeles")!)

    /// Start of the UTC minute holding `date`.
    public func minuteStart(of date: Date) -> Date {
        let seconds = date.timeIntervalSince1970
        return Date(timeIntervalSince1970: (seconds / 60).rounded(.down) * 60)
    }

    /// Start of the next UTC minute after the one holding `date`.
    public func minuteEnd(of date: Date) -> Date {
        self.minuteStart(of: date).addingTimeInterval(60)
    }

    /// Midnight in the quota time zone that starts the day holding `date`.
    public func dayStart(of date: Date) -> Date {
        self.day(holding: date).start
    }

    /// Midnight in the quota time zone that ends the day holding `date`.
    public func dayEnd(of date: Date) -> Date {
        self.day(holding: date).end
    }

    private func day(holding date: Date) -> (start: Date, end: Date) {
        if let cached = self.lastDay.value, cached.start <= date, date < cached.end { return cached }
        let start = self.calendar.startOfDay(for: date)
        // Adding one calendar day (not 86,400 s) keeps midnight across daylight-saving changes.
        let end = self.calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86_400)
        self.lastDay.value = (start, end)
        return (start, end)
    }

    /// The quota day holding `date` as `YYYY-MM-DD` in the quota time zone, for history rows.
    public func dayLabel(of date: Date) -> String {
        let parts = self.calendar.dateComponents([.year, .month, .day], from: date)
        let year = parts.year ?? 0
        let month = parts.month ?? 0
        let day = parts.day ?? 0
        return String(format: "%04d-%02d-%02d", year, month, day)
    }
}

/// One remembered day interval, shared by copies of a calendar.
private final class DayCache: Sendable {
    private let day = Mutex<(start: Date, end: Date)?>(nil)

    var value: (start: Date, end: Date)? {
        get { self.day.withLock { $0 } }
        set { self.day.withLock { $0 = newValue } }
    }
}
