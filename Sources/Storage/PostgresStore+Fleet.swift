import Foundation
import KeyPool

extension PostgresStore {
    /// Zeroes counters of closed windows; `$1` is the quota time zone. Windows come from the
    /// database's clock, and rows already at zero are left alone, so a repeated run changes nothing.
    static let zeroClosedWindowsSQL = """
        UPDATE key_usage AS u SET
            rpm = CASE WHEN u.minute_start < clock.minute THEN 0 ELSE u.rpm END,
            tpm = CASE WHEN u.minute_start < clock.minute THEN 0 ELSE u.tpm END,
            rpd = CASE WHEN u.day_start < clock.day THEN 0 ELSE u.rpd END
        FROM (
            SELECT date_trunc('minute', now()) AS minute,
                date_trunc('day', now() AT TIME ZONE $1::text) AT TIME ZONE $1::text AS day
        ) AS clock
        WHERE (u.minute_start < clock.minute AND (u.rpm <> 0 OR u.tpm <> 0))
            OR (u.day_start < clock.day AND u.rpd <> 0)
        """

    /// See `FleetStore.runResets`. `retentionDays` below 0 counts as 0 (drops every log row
    /// older than now). Per-row notifications are suppressed inside the job; one `reset` is sent
    /// when it zeroed counters or cleared exhaustion marks.
    /// - Throws: `.connectionLost`, `.closed`; nothing is changed when it throws.
    public func runResets(retentionDays: Int) async throws(StoreError) -> ResetOutcome {
        let zone = [PostgresValue(self.calendar.timeZone.identifier)]
        let lock = [PostgresValue(Self.resetLockKey)]
        let retention = [PostgresValue(max(0, retentionDays))]
        return try await self.pool.perform("run resets") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> ResetOutcome in
                let locked = try connection.query("SELECT pg_try_advisory_xact_lock($1::bigint) AS locked", lock)
                guard locked.first?["locked"].bool == true else { return .skipped }
                try connection.query("SELECT set_config('keyrelay.quiet', 'on', TRUE)")

                let zeroed = try connection.execute(Self.zeroClosedWindowsSQL, zone)
                let cleared = try connection.execute(
                    "UPDATE key_usage SET exhausted_until = NULL WHERE exhausted_until <= now()"
                )
                try connection.execute(
                    "DELETE FROM request_log WHERE at < now() - make_interval(days => $1::integer)",
                    retention
                )
                try connection.execute("DELETE FROM instances WHERE heartbeat_at < now() - INTERVAL '5 minutes'")
                if zeroed + cleared > 0 {
                    try connection.query("SELECT pg_notify('keyrelay_config', 'reset')")
                }
                return .ran(rowsZeroed: zeroed)
            }
        }
    }

    /// Stamps start and heartbeat with the database's clock; registering an id again refreshes
    /// its host, version and heartbeat and keeps its start.
    public func registerInstance(id: String, host: String, version: String) async throws(StoreError) {
        let params = [PostgresValue(id), PostgresValue(host), PostgresValue(version)]
        try await self.pool.perform("register instance") { connection throws(StoreError) in
            try connection.execute(
                """
                INSERT INTO instances AS i (id, host, version, started_at, heartbeat_at)
                VALUES ($1::text, $2::text, $3::text, now(), now())
                ON CONFLICT (id) DO UPDATE SET
                    host = excluded.host, version = excluded.version, heartbeat_at = excluded.heartbeat_at
                """,
                params
            )
        }
    }

    /// - Throws: `.notFound` when the row is gone (removed as stale): register again.
    public func heartbeat(instanceID: String) async throws(StoreError) {
        try await self.pool.perform("heartbeat") { connection throws(StoreError) in
            let changed = try connection.execute(
                "UPDATE instances SET heartbeat_at = now() WHERE id = $1::text",
                [PostgresValue(instanceID)]
            )
            guard changed > 0 else { throw StoreError(.notFound, operation: "heartbeat") }
        }
    }

    /// Deletes the instance's row; a missing row is not an error.
    public func deregisterInstance(id: String) async throws(StoreError) {
        try await self.pool.perform("deregister instance") { connection throws(StoreError) in
            try connection.execute("DELETE FROM instances WHERE id = $1::text", [PostgresValue(id)])
        }
    }
}
