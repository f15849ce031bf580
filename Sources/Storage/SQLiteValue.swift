import Foundation

/// A value bound to, or read from, a SQLite statement. Instants are stored as INTEGER Unix
/// milliseconds (see `0001_create_api_keys.sql`) and booleans as INTEGER 0 or 1.
package enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    package init(_ int: Int) { self = .integer(Int64(int)) }

    package init(_ int: Int?) { self = int.map { .integer(Int64($0)) } ?? .null }

    package init(_ text: String?) { self = text.map { .text($0) } ?? .null }

    package init(_ flag: Bool) { self = .integer(flag ? 1 : 0) }

    /// Unix milliseconds, rounded down, so every writer maps one instant to one integer.
    package init(_ date: Date) { self = .integer(SQLiteValue.milliseconds(date)) }

    package init(_ date: Date?) { self = date.map { SQLiteValue($0) } ?? .null }

    package static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    package var int64: Int64? {
        switch self {
        case .integer(let value): value
        case .real(let value): Int64(exactly: value.rounded(.down))
        default: nil
        }
    }

    package var int: Int? { self.int64.map { Int($0) } }

    package var string: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    package var bool: Bool? { self.int64.map { $0 != 0 } }

    package var date: Date? {
        self.int64.map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    package var isNull: Bool { self == .null }
}

/// One result row, by column name.
package struct SQLiteRow: Sendable {
    package var columns: [String: SQLiteValue]

    package init(columns: [String: SQLiteValue]) { self.columns = columns }

    package subscript(_ name: String) -> SQLiteValue { self.columns[name] ?? .null }
}
