import Foundation
import KeyPool

/// Usage records of one row, minute and quota day added together, as one write applies them.
/// Each record counts its `cost` as requests, its tokens, and one error or 429 by its outcome,
/// exactly as writing the records one by one would; negative counts are taken as zero.
struct RecordTotals: Sendable, Hashable {
    var row: UsageRowID
    var minuteStart: Date
    /// The quota day as `YYYY-MM-DD`.
    var day: String
    var requests = 0
    var inputTokens = 0
    var totalTokens = 0
    var errors = 0
    var rateLimited = 0

    /// Totals ordered by key, model, minute and day, so that every writer locks rows in the same
    /// order (batches of two instances in arrival order deadlocked in PostgreSQL).
    static func summing(_ records: [UsageRecord], calendar: QuotaCalendar) -> [RecordTotals] {
        var totals: [RecordTotals] = []
        var index: [String: Int] = [:]
        for record in records {
            let reservation = record.reservation
            let day = calendar.dayLabel(of: reservation.dayStart)
            let key =
                "\(reservation.row.keyID)|\(reservation.row.model)|\(reservation.minuteStart.timeIntervalSince1970)|\(day)"
            let position: Int
            if let known = index[key] {
                position = known
            } else {
                position = totals.count
                index[key] = position
                totals.append(RecordTotals(row: reservation.row, minuteStart: reservation.minuteStart, day: day))
            }
            totals[position].requests += max(0, reservation.cost)
            totals[position].inputTokens += max(0, record.inputTokens)
            totals[position].totalTokens += max(0, record.totalTokens)
            totals[position].errors += record.outcome == .error ? 1 : 0
            totals[position].rateLimited += record.outcome == .rateLimited ? 1 : 0
        }
        return totals.sorted { lhs, rhs in
            (lhs.row.keyID, lhs.row.model, lhs.minuteStart, lhs.day) < (
                rhs.row.keyID, rhs.row.model, rhs.minuteStart, rhs.day
            )
        }
    }
}
