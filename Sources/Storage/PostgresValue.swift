import Foundation

/// A parameter bound to a PostgreSQL statement, in libpq's text format: every value travels as
/// its text form (or NULL) and the statement's casts give it a type. Instants are written as
/// UTC timestamps with microseconds, booleans as `t`/`f`.
package struct PostgresValue: Sendable, Hashable {
    /// The text form; nil is SQL NULL.
    package var text: String?

    package static let null = PostgresValue(text: nil)

    package init(text: String?) { self.text = text }

    package init(_ text: String) { self.text = text }

    package init(_ text: String?) { self.text = text }

    package init(_ int: Int) { self.text = String(int) }

    package init(_ int: Int64) { self.text = String(int) }

    package init(_ int: Int?) { self.text = int.map { String($0) } }

    package init(_ flag: Bool) { self.text = flag ? "t" : "f" }

    package init(_ date: Date) { self.text = PostgresTimestamp.format(date) }

    package init(_ date: Date?) { self.text = date.map(PostgresTimestamp.format) }
}

/// One value of a result row, as libpq's text format gives it.
package struct PostgresCell: Sendable, Hashable {
    /// The text form; nil is SQL NULL.
    package var text: String?

    package init(text: String?) { self.text = text }

    package var isNull: Bool { self.text == nil }
    package var string: String? { self.text }
    package var int64: Int64? { self.text.flatMap { Int64($0) } }
    package var int: Int? { self.text.flatMap { Int($0) } }
    package var bool: Bool? {
        switch self.text {
        case "t": true
        case "f": false
        default: nil
        }
    }
    /// A `timestamptz` read with `DateStyle = ISO` (every connection sets it); nil for NULL and for
    /// `infinity`, which KeyRelay never writes.
    package var date: Date? { self.text.flatMap(PostgresTimestamp.parse) }
}

/// One result row, by column name.
package struct PostgresRow: Sendable {
    package var columns: [String: PostgresCell]

    package init(columns: [String: PostgresCell]) { self.columns = columns }

    package subscript(_ name: String) -> PostgresCell { self.columns[name] ?? PostgresCell(text: nil) }
}

/// Text conversion of instants, done by hand so it is exact to the microsecond and independent of
/// Foundation's formatters (which round to milliseconds).
enum PostgresTimestamp {
    static let microsPerDay: Int64 = 86_400_000_000

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, rounded to the nearest microsecond.
    static func format(_ date: Date) -> String {
        // Whole seconds and the fraction apart: the fraction is exact in a Double, so rounding
        // it to microseconds does not suffer from the product's rounding at large magnitudes.
        let interval = date.timeIntervalSince1970
        let whole = interval.rounded(.down)
        let micros = Int64(whole) * 1_000_000 + Int64(((interval - whole) * 1_000_000).rounded())
        let days = Self.floorDivide(micros, Self.microsPerDay)
        let inDay = micros - days * Self.microsPerDay
        let (year, month, day) = Self.civil(fromDays: days)
        let seconds = inDay / 1_000_000
        return Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2) + " "
            + Self.pad(seconds / 3600, 2) + ":" + Self.pad(seconds / 60 % 60, 2) + ":" + Self.pad(seconds % 60, 2)
            + "." + Self.pad(inDay % 1_000_000, 6) + "+00"
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.f…][±HH[:MM[:SS]]]` (PostgreSQL's ISO output); nil otherwise.
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0

        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            index += width
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
            expect(32) || expect(84), let hour = number(2), expect(58), let minute = number(2), expect(58),
            let second = number(2)
        else { return nil }

        var micros: Int64 = 0
        if expect(46) {
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }

        var offsetSeconds: Int64 = 0
        if index < bytes.count {
            let sign: Int64
            if expect(43) {
                sign = 1
            } else if expect(45) {
                sign = -1
            } else {
                return nil
            }
            guard let hours = number(2) else { return nil }
            var total = hours * 3600
            if expect(58), let minutes = number(2) { total += minutes * 60 }
            if expect(58), let seconds = number(2) { total += seconds }
            offsetSeconds = sign * total
        }
        guard index == bytes.count else { return nil }

        let days = Self.days(fromCivil: year, month, day)
        let local = ((days * 24 + hour) * 60 + minute) * 60 + second
        return Date(timeIntervalSince1970: Double(local - offsetSeconds) + Double(micros) / 1_000_000)
    }

    // Days since 1970-01-01 in the proleptic Gregorian calendar, from the standard
    // era/day-of-era decomposition (400-year eras of 146,097 days, years starting in March).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = Self.floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = Self.floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
