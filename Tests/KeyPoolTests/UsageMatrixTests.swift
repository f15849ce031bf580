import Foundation
import KeyPool
import KeyRelayTestSupport
import Testing

/// Cache behaviour of the usage matrix; selection is in `UsageMatrixSelectionTests`.
@Suite struct UsageMatrixTests {
    let calendar = QuotaCalendar.pacific
    let now = instant("2026-01-15T12:00:30Z")

    func row(_ keyID: Int64, rpm: Int, minute: String, model: String = "m") -> UsageRow {
        UsageRow(
            id: UsageRowID(model: model, keyID: keyID), rpm: rpm, rpd: rpm, minuteStart: instant(minute),
            dayStart: instant("2026-01-15T08:00:00Z"), limits: Limits(rpm: 10)
        )
    }

    @Test func startsEmpty() {
        let matrix = UsageMatrix(calendar: self.calendar)
        #expect(matrix.keys.isEmpty)
        #expect(matrix.rows.isEmpty)
        #expect(matrix.calendar == self.calendar)
    }

    @Test func setKeysDropsRowsOfRemovedKeys() {
        var matrix = UsageMatrix(calendar: self.calendar)
        matrix.setKeys([testKey(1), testKey(2)])
        matrix.apply(self.row(1, rpm: 1, minute: "2026-01-15T12:00:00Z"))
        matrix.apply(self.row(2, rpm: 1, minute: "2026-01-15T12:00:00Z"))
        matrix.setKeys([testKey(2), testKey(3)])
        #expect(matrix.keys.keys.sorted() == [2, 3])
        #expect(matrix.rows.map(\.id.keyID) == [2])
        #expect(matrix.row(UsageRowID(model: "m", keyID: 1)) == nil)
    }

    @Test func updateKeyReplacesOneKey() {
        var matrix = UsageMatrix(calendar: self.calendar)
        matrix.setKeys([testKey(1)])
        matrix.updateKey(testKey(1, isActive: false))
        matrix.updateKey(testKey(4))
        #expect(matrix.keys[1]?.isActive == false)
        #expect(matrix.keys[4]?.isActive == true)
    }

    @Test func applyReplacesWithinTheSameWindowEvenWithLowerCounts() {
        var matrix = UsageMatrix(calendar: self.calendar)
        matrix.apply(self.row(1, rpm: 5, minute: "2026-01-15T12:00:00Z"))
        // A release gives units back: the store's word wins within a window.
        matrix.apply(self.row(1, rpm: 4, minute: "2026-01-15T12:00:00Z"))
        #expect(matrix.row(UsageRowID(model: "m", keyID: 1))?.rpm == 4)
        matrix.apply(self.row(1, rpm: 1, minute: "2026-01-15T12:01:00Z"))
        #expect(matrix.row(UsageRowID(model: "m", keyID: 1))?.rpm == 1)
    }

    @Test func applyNeverMovesARowBackInTime() {
        var matrix = UsageMatrix(calendar: self.calendar)
        matrix.apply(self.row(1, rpm: 2, minute: "2026-01-15T12:01:00Z"))
        var late = self.row(1, rpm: 9, minute: "2026-01-15T12:00:00Z")
        matrix.apply(late)
        let id = UsageRowID(model: "m", keyID: 1)
        #expect(matrix.row(id)?.rpm == 2)
        #expect(matrix.row(id)?.minuteStart == instant("2026-01-15T12:01:00Z"))

        // A later exhaustion mark in an old answer is still kept: the store never shortens one.
        late.exhaustedUntil = instant("2026-01-15T12:05:00Z")
        matrix.apply(late)
        #expect(matrix.row(id)?.rpm == 2)
        #expect(matrix.row(id)?.exhaustedUntil == instant("2026-01-15T12:05:00Z"))
    }

    @Test func applyNeverTakesAnOlderDay() {
        var matrix = UsageMatrix(calendar: self.calendar)
        var today = self.row(1, rpm: 1, minute: "2026-01-15T12:00:00Z")
        today.rpd = 3
        matrix.apply(today)
        var yesterday = today
        yesterday.dayStart = instant("2026-01-14T08:00:00Z")
        yesterday.rpd = 250
        matrix.apply(yesterday)
        #expect(matrix.row(today.id)?.rpd == 3)
    }

    @Test func replaceRowsDropsMissingRowsAndKeepsNewerOnes() {
        var matrix = UsageMatrix(calendar: self.calendar)
        matrix.apply(self.row(1, rpm: 3, minute: "2026-01-15T12:01:00Z"))
        matrix.apply(self.row(2, rpm: 3, minute: "2026-01-15T12:01:00Z"))
        matrix.replaceRows([
            self.row(1, rpm: 8, minute: "2026-01-15T12:00:00Z"),
            self.row(3, rpm: 1, minute: "2026-01-15T12:01:00Z"),
            self.row(3, rpm: 1, minute: "2026-01-15T12:01:00Z", model: "a"),
        ])
        #expect(matrix.rows.map(\.id.description) == ["a/3", "m/1", "m/3"])
        #expect(matrix.row(UsageRowID(model: "m", keyID: 1))?.rpm == 3)
    }
}

@Suite struct ManualClockTests {
    @Test func movesOnlyWhenTold() {
        let clock = ManualClock(instant("2026-01-15T12:00:00Z"))
        #expect(clock.now() == instant("2026-01-15T12:00:00Z"))
        clock.advance(by: 30)
        #expect(clock.now() == instant("2026-01-15T12:00:30Z"))
        clock.advance(by: .milliseconds(1_500))
        #expect(clock.now() == instant("2026-01-15T12:00:31.500Z"))
        clock.set(instant("2026-03-08T10:00:00Z"))
        #expect(clock.now() == instant("2026-03-08T10:00:00Z"))
        let wall: any WallClock = clock
        #expect(wall.now() == clock.now())
    }
}
