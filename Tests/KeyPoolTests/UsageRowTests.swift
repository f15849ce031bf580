import Foundation
import KeyPool
import Testing

@Suite struct UsageRowTests {
    let calendar = QuotaCalendar.pacific
    let id = UsageRowID(model: "gemini-2.5-flash", keyID: 7)
    let now = instant("2026-01-15T12:00:30Z")

    func row(rpm: Int, tpm: Int = 0, rpd: Int, minute: String, day: String, limits: Limits) -> UsageRow {
        UsageRow(
            id: self.id, rpm: rpm, tpm: tpm, rpd: rpd, minuteStart: instant(minute), dayStart: instant(day),
            limits: limits
        )
    }

    @Test func closedMinuteCountsAsZeroButTheDayStays() {
        let row = self.row(
            rpm: 5, tpm: 900, rpd: 40, minute: "2026-01-15T11:59:00Z", day: "2026-01-15T08:00:00Z",
            limits: Limits(rpm: 5, tpm: 1_000, rpd: 50)
        )
        #expect(row.counters(at: self.now, calendar: self.calendar) == Counters(rpm: 0, tpm: 0, rpd: 40))
        #expect(row.headroom(at: self.now, calendar: self.calendar) == Headroom(rpm: 5, tpm: 1_000, rpd: 10))
    }

    @Test func closedDayCountsAsZero() {
        let row = self.row(
            rpm: 2, rpd: 50, minute: "2026-01-14T23:00:00Z", day: "2026-01-14T08:00:00Z",
            limits: Limits(rpm: 5, rpd: 50)
        )
        #expect(row.counters(at: self.now, calendar: self.calendar) == Counters(rpm: 0, tpm: 0, rpd: 0))
    }

    @Test func headroomIsNeverNegativeAndNilWhenUnlimited() {
        let row = self.row(
            rpm: 9, tpm: 5_000, rpd: 3, minute: "2026-01-15T12:00:00Z", day: "2026-01-15T08:00:00Z",
            limits: Limits(rpm: 5, tpm: nil, rpd: nil)
        )
        let headroom = row.headroom(at: self.now, calendar: self.calendar)
        #expect(headroom == Headroom(rpm: 0, tpm: nil, rpd: nil))
        #expect(!headroom.admits(cost: 1))
    }

    @Test func admitsChecksCostAgainstRequestsAndOneToken() {
        #expect(Headroom(rpm: 3, tpm: 1, rpd: 3).admits(cost: 3))
        #expect(!Headroom(rpm: 2, tpm: 100, rpd: 3).admits(cost: 3))
        #expect(!Headroom(rpm: 3, tpm: 100, rpd: 2).admits(cost: 3))
        #expect(!Headroom(rpm: 3, tpm: 0, rpd: 3).admits(cost: 1))
        #expect(Headroom(rpm: nil, tpm: nil, rpd: nil).admits(cost: 1_000))
    }

    @Test func exhaustionEndsAtItsInstant() {
        var row = UsageRow.fresh(self.id, limits: .unlimited, now: self.now, calendar: self.calendar)
        #expect(!row.isExhausted(at: self.now))
        row.exhaustedUntil = self.now.addingTimeInterval(10)
        #expect(row.isExhausted(at: self.now))
        #expect(!row.isExhausted(at: self.now.addingTimeInterval(10)))
    }

    @Test func freshRowStartsInTheCurrentWindows() {
        let row = UsageRow.fresh(self.id, limits: Limits(rpm: 1), now: self.now, calendar: self.calendar)
        #expect(row.minuteStart == instant("2026-01-15T12:00:00Z"))
        #expect(row.dayStart == instant("2026-01-15T08:00:00Z"))
        #expect(row.rpm == 0 && row.tpm == 0 && row.rpd == 0)
        #expect(self.id.description == "gemini-2.5-flash/7")
    }
}
