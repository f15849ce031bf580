import Foundation
import KeyPool

extension SQLiteStore {
    /// Counters of a closed window count as zero (`minute_start >= :minute` means the stored window
    /// is the current one, or a later one written by a caller whose clock runs ahead), and windows
    /// only move forward, so an older `now` can never reopen a full window.
    ///
    /// One statement, so SQLite's write lock makes the check and the increment one step for every
    /// connection on the file. The insert branch has no `WHERE`: `reserve` refuses up front any
    /// cost that an empty row could not take.
    static let reserveSQL = """
        INSERT INTO key_usage (
            model, key_id, rpm, tpm, rpd, max_rpm, max_tpm, max_rpd, minute_start, day_start, last_used
        )
        VALUES (:model, :key_id, :cost, 0, :cost, :max_rpm, :max_tpm, :max_rpd, :minute, :day, :now)
        ON CONFLICT (model, key_id) DO UPDATE SET
            rpm = CASE WHEN minute_start >= :minute THEN rpm + :cost ELSE :cost END,
            tpm = CASE WHEN minute_start >= :minute THEN tpm ELSE 0 END,
            rpd = CASE WHEN day_start >= :day THEN rpd + :cost ELSE :cost END,
            minute_start = MAX(minute_start, :minute),
            day_start = MAX(day_start, :day),
            max_rpm = :max_rpm,
            max_tpm = :max_tpm,
            max_rpd = :max_rpd,
            last_used = MAX(COALESCE(last_used, :now), :now)
        WHERE :enforce = 0 OR (
            (exhausted_until IS NULL OR exhausted_until <= :now)
            AND (:max_rpm IS NULL
                OR (CASE WHEN minute_start >= :minute THEN rpm ELSE 0 END) + :cost <= :max_rpm)
            AND (:max_rpd IS NULL
                OR (CASE WHEN day_start >= :day THEN rpd ELSE 0 END) + :cost <= :max_rpd)
            AND (:max_tpm IS NULL
                OR (CASE WHEN minute_start >= :minute THEN tpm ELSE 0 END) < :max_tpm)
        )
        RETURNING *
        """

    static let selectRowSQL = "SELECT * FROM key_usage WHERE model = :model AND key_id = :key_id"

    /// One upsert statement (`reserveSQL`): admitted, it returns the counted row; refused, it
    /// reads the row back. A cost no empty row could take is refused without writing.
    /// - Throws: `.conflict` when the key id is not in `api_keys` or the file stays locked past
    ///   the busy timeout; `.closed` after `close()`.
    public func reserve(_ request: ReservationRequest) async throws(StoreError) -> ReservationResult {
        let cost = max(0, request.cost)
        let limits = request.limits
        let now = request.now
        let fresh = UsageRow.fresh(request.row, limits: limits, now: now, calendar: self.calendar)
        let bindings: [String: SQLiteValue] = [
            "model": .text(request.row.model), "key_id": .integer(request.row.keyID),
            "cost": SQLiteValue(cost), "now": SQLiteValue(now),
            "minute": SQLiteValue(fresh.minuteStart), "day": SQLiteValue(fresh.dayStart),
            "max_rpm": SQLiteValue(limits.rpm), "max_tpm": SQLiteValue(limits.tpm),
            "max_rpd": SQLiteValue(limits.rpd), "enforce": SQLiteValue(request.enforceLimits),
        ]
        // A cost that does not fit even an empty row (a limit of 0, a batch above the RPM) can
        // never be admitted; refusing here keeps the upsert's insert branch unconditional.
        let fitsEmptyRow =
            (limits.rpm.map { cost <= $0 } ?? true) && (limits.rpd.map { cost <= $0 } ?? true)
            && (limits.tpm.map { $0 > 0 } ?? true)
        let mustRefuse = request.enforceLimits && !fitsEmptyRow

        return try await self.database.perform("reserve") { connection throws(StoreError) in
            if !mustRefuse, let returned = try connection.query(Self.reserveSQL, bindings).first {
                let row = try Self.usageRow(returned)
                let reservation = Reservation(
                    row: request.row,
                    cost: cost,
                    minuteStart: row.minuteStart,
                    dayStart: row.dayStart
                )
                let overLimit = !request.enforceLimits && Self.isOverLimit(row, now: now)
                return .reserved(reservation, row: row, overLimit: overLimit)
            }
            let current = try connection.query(Self.selectRowSQL, bindings)
            return .refused(row: try current.first.map(Self.usageRow) ?? fresh)
        }
    }

    /// True when the row, just counted, stands where an enforcing reservation would have refused:
    /// a request counter past its limit, the token limit reached, or an exhaustion mark running.
    static func isOverLimit(_ row: UsageRow, now: Date) -> Bool {
        if let limit = row.limits.rpm, row.rpm > limit { return true }
        if let limit = row.limits.rpd, row.rpd > limit { return true }
        if let limit = row.limits.tpm, row.tpm >= limit { return true }
        return row.isExhausted(at: now)
    }

    /// Decrements `rpm`/`rpd` by the reservation's cost where the row still has its windows,
    /// never below zero; a missing row is a no-op.
    public func release(_ reservation: Reservation) async throws(StoreError) {
        let bindings: [String: SQLiteValue] = [
            "model": .text(reservation.row.model), "key_id": .integer(reservation.row.keyID),
            "cost": SQLiteValue(max(0, reservation.cost)),
            "minute": SQLiteValue(reservation.minuteStart), "day": SQLiteValue(reservation.dayStart),
        ]
        try await self.database.perform("release") { connection throws(StoreError) in
            // A window that has moved on already forgot the reservation; touching it would take
            // the unit from a later request.
            try connection.execute(
                """
                UPDATE key_usage SET
                    rpm = CASE WHEN minute_start = :minute THEN MAX(0, rpm - :cost) ELSE rpm END,
                    rpd = CASE WHEN day_start = :day THEN MAX(0, rpd - :cost) ELSE rpd END
                WHERE model = :model AND key_id = :key_id
                """,
                bindings
            )
        }
    }

    /// One transaction: `tpm` of the reservation's minute (if still the row's) and the
    /// `usage_daily` row of the reservation's quota day (`requests` += cost). Negative token
    /// counts are taken as zero.
    public func record(_ record: UsageRecord) async throws(StoreError) {
        try await self.record(batch: [record])
    }

    /// Applies many records in one transaction (one WAL commit), for batched writers; records of
    /// one row, minute and day are added together first.
    public func record(batch records: [UsageRecord]) async throws(StoreError) {
        guard !records.isEmpty else { return }
        let totals = RecordTotals.summing(records, calendar: self.calendar)
        try await self.database.perform("record") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in
                for total in totals {
                    try Self.apply(total, on: connection)
                }
            }
        }
    }

    private static func apply(_ total: RecordTotals, on connection: SQLiteConnection) throws(StoreError) {
        let bindings: [String: SQLiteValue] = [
            "model": .text(total.row.model), "key_id": .integer(total.row.keyID),
            "minute": SQLiteValue(total.minuteStart), "day": .text(total.day),
            "requests": SQLiteValue(total.requests), "input_tokens": SQLiteValue(total.inputTokens),
            "total_tokens": SQLiteValue(total.totalTokens), "errors": SQLiteValue(total.errors),
            "rate_limited": SQLiteValue(total.rateLimited),
        ]
        // A long stream's tokens count in the minute of its reservation, or nowhere.
        try connection.execute(
            """
            UPDATE key_usage SET tpm = tpm + :input_tokens
            WHERE model = :model AND key_id = :key_id AND minute_start = :minute
            """,
            bindings
        )
        try connection.execute(
            """
            INSERT INTO usage_daily (
                day, model, key_id, requests, input_tokens, total_tokens, errors, rate_limited
            )
            VALUES (
                :day, :model, :key_id, :requests, :input_tokens, :total_tokens, :errors, :rate_limited
            )
            ON CONFLICT (day, model, key_id) DO UPDATE SET
                requests = requests + excluded.requests,
                input_tokens = input_tokens + excluded.input_tokens,
                total_tokens = total_tokens + excluded.total_tokens,
                errors = errors + excluded.errors,
                rate_limited = rate_limited + excluded.rate_limited
            """,
            bindings
        )
    }

    /// Sets `exhausted_until` to the later of the stored mark and `until`, creating the row
    /// (windows at the epoch, unlimited) if it does not exist yet.
    /// - Throws: `.conflict` when the key id is not in `api_keys`.
    public func exhaust(_ row: UsageRowID, until: Date) async throws(StoreError) {
        let bindings: [String: SQLiteValue] = [
            "model": .text(row.model), "key_id": .integer(row.keyID), "until": SQLiteValue(until),
        ]
        try await self.database.perform("exhaust") { connection throws(StoreError) in
            // A row created here has windows at the epoch, so the next reservation starts fresh
            // ones and stores its limits; meanwhile it reads as unlimited but exhausted.
            try connection.execute(
                """
                INSERT INTO key_usage (model, key_id, minute_start, day_start, exhausted_until)
                VALUES (:model, :key_id, 0, 0, :until)
                ON CONFLICT (model, key_id) DO UPDATE SET
                    exhausted_until = MAX(COALESCE(exhausted_until, :until), :until)
                """,
                bindings
            )
        }
    }
}
