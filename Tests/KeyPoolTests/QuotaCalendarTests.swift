import Foundation
import KeyPool
import Testing

@Suite struct QuotaCalendarTests {
    let calendar = QuotaCalendar.pacific

    @Test(
        "minute windows are UTC minutes",
        arguments: [
            ("2026-01-15T12:34:56.789Z", "2026-01-15T12:34:00Z", "2026-01-15T12:35:00Z"),
            ("2026-01-15T12:35:00Z", "2026-01-15T12:35:00Z", "2026-01-15T12:36:00Z"),
            ("2026-01-15T12:34:59.999Z", "2026-01-15T12:34:00Z", "2026-01-15T12:35:00Z"),
            ("2026-03-08T09:59:30Z", "2026-03-08T09:59:00Z", "2026-03-08T10:00:00Z"),
            ("2026-12-31T23:59:59Z", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"),
        ]
    )
    func minuteWindows(at: String, start: String, end: String) {
        #expect(self.calendar.minuteStart(of: instant(at)) == instant(start))
        #expect(self.calendar.minuteEnd(of: instant(at)) == instant(end))
    }

    @Test(
        "quota days start and end at Pacific midnight",
        arguments: [
            // Winter (PST, UTC-8).
            ("2026-01-15T12:00:00Z", "2026-01-15T08:00:00Z", "2026-01-16T08:00:00Z", "2026-01-15"),
            ("2026-01-15T07:59:59Z", "2026-01-14T08:00:00Z", "2026-01-15T08:00:00Z", "2026-01-14"),
            ("2026-01-15T08:00:00Z", "2026-01-15T08:00:00Z", "2026-01-16T08:00:00Z", "2026-01-15"),
            // 2026-03-08: clocks spring forward at 02:00 local, a 23-hour day.
            ("2026-03-08T09:30:00Z", "2026-03-08T08:00:00Z", "2026-03-09T07:00:00Z", "2026-03-08"),
            ("2026-03-08T12:00:00Z", "2026-03-08T08:00:00Z", "2026-03-09T07:00:00Z", "2026-03-08"),
            ("2026-03-09T06:59:59Z", "2026-03-08T08:00:00Z", "2026-03-09T07:00:00Z", "2026-03-08"),
            ("2026-03-09T07:00:00Z", "2026-03-09T07:00:00Z", "2026-03-10T07:00:00Z", "2026-03-09"),
            // Summer (PDT, UTC-7).
            ("2026-06-30T06:59:59Z", "2026-06-29T07:00:00Z", "2026-06-30T07:00:00Z", "2026-06-29"),
            // 2026-11-01: clocks fall back at 02:00 local, a 25-hour day.
            ("2026-11-01T08:30:00Z", "2026-11-01T07:00:00Z", "2026-11-02T08:00:00Z", "2026-11-01"),
            ("2026-11-01T09:30:00Z", "2026-11-01T07:00:00Z", "2026-11-02T08:00:00Z", "2026-11-01"),
            ("2026-11-02T07:59:59Z", "2026-11-01T07:00:00Z", "2026-11-02T08:00:00Z", "2026-11-01"),
            ("2026-11-02T08:00:00Z", "2026-11-02T08:00:00Z", "2026-11-03T08:00:00Z", "2026-11-02"),
        ]
    )
    func pacificDays(at: String, start: String, end: String, label: String) {
        #expect(self.calendar.dayStart(of: instant(at)) == instant(start))
        #expect(self.calendar.dayEnd(of: instant(at)) == instant(end))
        #expect(self.calendar.dayLabel(of: instant(at)) == label)
    }

    @Test(
        "day lengths across daylight-saving changes",
        arguments: [("2026-03-08T12:00:00Z", 23.0), ("2026-11-01T12:00:00Z", 25.0), ("2026-07-04T12:00:00Z", 24.0)]
    )
    func dayLengths(at: String, hours: Double) {
        let start = self.calendar.dayStart(of: instant(at))
        let end = self.calendar.dayEnd(of: instant(at))
        #expect(end.timeIntervalSince(start) == hours * 3600)
        #expect(self.calendar.dayStart(of: end) == end)
    }

    @Test func otherTimeZonesWork() throws {
        let utc = QuotaCalendar(timeZone: try #require(TimeZone(identifier: "UTC")))
        #expect(utc.dayStart(of: instant("2026-03-08T12:00:00Z")) == instant("2026-03-08T00:00:00Z"))
        #expect(utc.dayEnd(of: instant("2026-03-08T12:00:00Z")) == instant("2026-03-09T00:00:00Z"))
        #expect(utc != QuotaCalendar.pacific)
    }
}
