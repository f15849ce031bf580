import Foundation
import KeyPool

extension PostgresStore {
    /// One statement. The clock is `$8` when the store uses the caller's clock, else the
    /// database's `now()` (`$8` is NULL): it gives the windows, the exhaustion check and
    /// `last_used`, which reach the update branch through `excluded`.
    ///
    /// Counters of a closed window count as zero (`minute_start >= excluded.minute_start` means the
    /// stored window is the current one, or a later one), and windows only move forward
    /// (`GREATEST`), so no clock, however late, can reopen a full window. `ON CONFLICT DO UPDATE`
    /// evaluates its `WHERE` on the latest version of the locked row, so the check and the
    /// increment are one step for every instance. The insert branch has no condition: `reserve`
    /// refuses up front any cost that an empty row could not take.
    static let reserveSQL = """
        INSERT INTO key_usage AS u (
            model, key_id, rpm, tpm, rpd, max_rpm, max_tpm, max_rpd, minute_start, day_start, last_used
        )
        SELECT $1::text, $2::bigint, $3::bigint, 0, $3::bigint, $4::bigint, $5::bigint, $6::bigint,
            date_trunc('minute', clock.now),
            date_trunc('day', clock.now AT TIME ZONE $7::text) AT TIME ZONE $7::text,
            clock.now
        FROM (SELECT COALESCE($8::timestamptz, now()) AS now) AS clock
        ON CONFLICT (model, key_id) DO UPDATE SET
            rpm = CASE WHEN u.minute_start >= excluded.minute_start THEN u.rpm + excluded.rpm ELSE excluded.rpm END,
            tpm = CASE WHEN u.minute_start >= excluded.minute_start THEN u.tpm ELSE 0 END,
            rpd = CASE WHEN u.day_start >= excluded.day_start THEN u.rpd + excluded.rpd ELSE excluded.rpd END,
            minute_start = GREATEST(u.minute_start, excluded.minute_start),
            day_start = GREATEST(u.day_start, excluded.day_start),
            max_rpm = excluded.max_rpm,
            max_tpm = excluded.max_tpm,
            max_rpd = excluded.max_rpd,
            last_used = GREATEST(u.last_used, excluded.last_used)
        WHERE NOT $9::boolean OR (
            (u.exhausted_until IS NULL OR u.exhausted_until <= excluded.last_used)
            AND (excluded.max_rpm IS NULL OR (CASE WHEN u.minute_start >= excluded.minute_start
                THEN u.rpm ELSE 0 END) + excluded.rpm <= excluded.max_rpm)
            AND (excluded.max_rpd IS NULL OR (CASE WHEN u.day_start >= excluded.day_start
                THEN u.rpd ELSE 0 END) + excluded.rpd <= excluded.max_rpd)
            AND (excluded.max_tpm IS NULL OR (CASE WHEN u.minute_start >= excluded.minute_start
                THEN u.tpm ELSE 0 END) < excluded.max_tpm)
        )
        RETURNING u.*, COALESCE($8::timestamptz, now()) AS clock_now
        """

    /// One conditional upsert (`reserveSQL`): admitted, it returns the counted row; refused, a
    /// second statement reads the row as it now stands (a fresh snapshot, so it shows the write
    /// that took the last unit). A cost no empty row could take is refused without writing.
    ///
    /// With `WindowClock.database` the windows, the exhaustion check and `last_used` come from
    /// the database's `now()` and `request.now` is not used: the fleet's instances agree on one
    /// clock. `overLimit` is judged at that clock too.
    /// - Throws: `.conflict` when the key id is not in `api_keys`; `.connectionLost` when the
    ///   connection dropped (the reservation may or may not have been counted); `.closed`.
    public func reserve(_ request: ReservationRequest) async throws(StoreError) -> ReservationResult {
        let cost = max(0, request.cost)
        let limits = request.limits
        let callerNow = self.windowClock == .caller ? request.now : nil
        let params: [PostgresValue] = [
            PostgresValue(request.row.model), PostgresValue(request.row.keyID), PostgresValue(cost),
            PostgresValue(limits.rpm), PostgresValue(limits.tpm), PostgresValue(limits.rpd),
            PostgresValue(self.calendar.timeZone.identifier), PostgresValue(callerNow),
            PostgresValue(request.enforceLimits),
        ]
        let fresh = UsageRow.fresh(request.row, limits: limits, now: request.now, calendar: self.calendar)
        // A cost that does not fit even an empty row (a limit of 0, a batch above the RPM) can
        // never be admitted; refusing here keeps the upsert's insert branch unconditional.
        let fitsEmptyRow =
            (limits.rpm.map { cost <= $0 } ?? true) && (limits.rpd.map { cost <= $0 } ?? true)
            && (limits.tpm.map { $0 > 0 } ?? true)
        let mustRefuse = request.enforceLimits && !fitsEmptyRow
        let rowParams = [PostgresValue(request.row.model), PostgresValue(request.row.keyID)]

        return try await self.pool.perform("reserve") { connection throws(StoreError) in
            if !mustRefuse, let returned = try connection.query(Self.reserveSQL, params).first {
                let row = try Self.usageRow(returned)
                let reservation = Reservation(
                    row: request.row,
                    cost: cost,
                    minuteStart: row.minuteStart,
                    dayStart: row.dayStart
                )
                let clockNow = returned["clock_now"].date ?? request.now
                let overLimit = !request.enforceLimits && Self.isOverLimit(row, now: clockNow)
                return .reserved(reservation, row: row, overLimit: overLimit)
            }
            let current = try connection.query(Self.selectRowSQL, rowParams)
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
        let params: [PostgresValue] = [
            PostgresValue(reservation.row.model), PostgresValue(reservation.row.keyID),
            PostgresValue(reservation.minuteStart), PostgresValue(reservation.dayStart),
            PostgresValue(max(0, reservation.cost)),
        ]
        try await self.pool.perform("release") { connection throws(StoreError) in
            // A window that has moved on already forgot the reservation; touching it would take
            // the unit from a later request.
            try connection.execute(
                """
                UPDATE key_usage SET
                    rpm = CASE WHEN minute_start = $3::timestamptz THEN GREATEST(0, rpm - $5::bigint) ELSE rpm END,
                    rpd = CASE WHEN day_start = $4::timestamptz THEN GREATEST(0, rpd - $5::bigint) ELSE rpd END
                WHERE model = $1::text AND key_id = $2::bigint
                """,
                params
            )
        }
    }

    /// One transaction: `tpm` of the reservation's minute (if still the row's) and the
    /// `usage_daily` row of the reservation's quota day (`requests` += cost). Negative token
    /// counts are taken as zero.
    public func record(_ record: UsageRecord) async throws(StoreError) {
        try await self.record(batch: [record])
    }

    /// Many records in one transaction (one commit), for the relay's batched writer. Records of
    /// the same row, minute and day are added together first (all columns are sums), so a batch
    /// costs one statement pair per row, not per request.
    public func record(batch records: [UsageRecord]) async throws(StoreError) {
        guard !records.isEmpty else { return }
        let totals = RecordTotals.summing(records, calendar: self.calendar)
        try await self.pool.perform("record") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in
                for total in totals {
                    try Self.apply(total, on: connection)
                }
            }
        }
    }

    private static func apply(_ total: RecordTotals, on connection: PostgresConnection) throws(StoreError) {
        // A long stream's tokens count in the minute of its reservation, or nowhere.
        try connection.execute(
            """
            UPDATE key_usage SET tpm = tpm + $4::bigint
            WHERE model = $1::text AND key_id = $2::bigint AND minute_start = $3::timestamptz
            """,
            [
                PostgresValue(total.row.model), PostgresValue(total.row.keyID), PostgresValue(total.minuteStart),
                PostgresValue(total.inputTokens),
            ]
        )
        try connection.execute(
            """
            INSERT INTO usage_daily AS d (
                day, model, key_id, requests, input_tokens, total_tokens, errors, rate_limited
            )
            VALUES ($1::date, $2::text, $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint, $8::bigint)
            ON CONFLICT (day, model, key_id) DO UPDATE SET
                requests = d.requests + excluded.requests,
                input_tokens = d.input_tokens + excluded.input_tokens,
                total_tokens = d.total_tokens + excluded.total_tokens,
                errors = d.errors + excluded.errors,
                rate_limited = d.rate_limited + excluded.rate_limited
            """,
            [
                PostgresValue(total.day), PostgresValue(total.row.model), PostgresValue(total.row.keyID),
                PostgresValue(total.requests), PostgresValue(total.inputTokens), PostgresValue(total.totalTokens),
                PostgresValue(total.errors), PostgresValue(total.rateLimited),
            ]
        )
    }

    /// Sets `exhausted_until` to the later of the stored mark and `until`, creating the row
    /// (windows at the epoch, unlimited) if it does not exist yet. A trigger announces the mark
    /// to the fleet (`StoreChange.row`).
    /// - Throws: `.conflict` when the key id is not in `api_keys`.
    public func exhaust(_ row: UsageRowID, until: Date) async throws(StoreError) {
        let params = [PostgresValue(row.model), PostgresValue(row.keyID), PostgresValue(until)]
        try await self.pool.perform("exhaust") { connection throws(StoreError) in
            // A row created here has windows at the epoch, so the next reservation starts fresh
            // ones and stores its limits; meanwhile it reads as unlimited but exhausted.
            try connection.execute(
                """
                INSERT INTO key_usage AS u (model, key_id, minute_start, day_start, exhausted_until)
                VALUES ($1::text, $2::bigint, 'epoch', 'epoch', $3::timestamptz)
                ON CONFLICT (model, key_id) DO UPDATE SET
                    exhausted_until = GREATEST(u.exhausted_until, excluded.exhausted_until)
                """,
                params
            )
        }
    }
}
