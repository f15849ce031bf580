import Foundation
import KeyPool

extension PostgresStore {
    static let selectKeysSQL = "SELECT * FROM api_keys WHERE removed_at IS NULL ORDER BY id"

    /// One transaction; the returned keys (all kinds, not removed) are ordered by id. Every change
    /// is announced to the fleet (`StoreChange.key`); an unchanged key is not.
    public func syncKeys(_ keys: [ConfiguredKey], kind: KeyKind, at now: Date) async throws(StoreError) -> [KeyRecord] {
        // Hex hashes need no quoting, so the array literal can be built by hand; it is bound as
        // one parameter, which keeps one prepared statement for any number of keys.
        let hashArray = "{" + keys.map(\.secret.hash).joined(separator: ",") + "}"
        let upserts = Self.upsertParameters(keys, kind: kind, now: now)
        let removal = [PostgresValue(now), PostgresValue(kind.rawValue), PostgresValue(hashArray)]

        return try await self.pool.perform("sync keys") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> [KeyRecord] in
                for params in upserts {
                    try connection.execute(
                        Self.upsertKeySQL,
                        params
                    )
                }
                try connection.execute(
                    """
                    UPDATE api_keys SET removed_at = $1::timestamptz
                    WHERE kind = $2::text AND removed_at IS NULL AND NOT (secret_hash = ANY ($3::text[]))
                    """,
                    removal
                )
                return try connection.query(Self.selectKeysSQL).map(Self.keyRecord)
            }
        }
    }

    /// Upsert by hash: a key removed and added again keeps its id, so its usage rows (today's
    /// counts) and its health come back with it.
    static let upsertKeySQL = """
        INSERT INTO api_keys AS k (kind, secret, secret_hash, fingerprint, label, is_paid, added_at)
        VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::timestamptz)
        ON CONFLICT (secret_hash) DO UPDATE SET
            kind = excluded.kind,
            secret = excluded.secret,
            fingerprint = excluded.fingerprint,
            label = excluded.label,
            is_paid = excluded.is_paid,
            removed_at = NULL
        """

    /// Adds keys never seen; a stored key (removed or not) is left exactly as it is.
    static let insertNewKeySQL = """
        INSERT INTO api_keys (kind, secret, secret_hash, fingerprint, label, is_paid, added_at)
        VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::timestamptz)
        ON CONFLICT (secret_hash) DO NOTHING
        """

    static func upsertParameters(_ keys: [ConfiguredKey], kind: KeyKind, now: Date) -> [[PostgresValue]] {
        keys.map { key in
            [
                PostgresValue(kind.rawValue), PostgresValue(key.secret.revealedForUpstream),
                PostgresValue(key.secret.hash), PostgresValue(key.secret.fingerprint.description),
                PostgresValue(key.label), PostgresValue(key.isPaid), PostgresValue(now),
            ]
        }
    }

    /// Upserts `keys` (restoring removed ones with their id and counters) and leaves every other
    /// key alone; returns the given keys as stored. Each change is announced to the fleet.
    public func addKeys(
        _ keys: [ConfiguredKey],
        kind: KeyKind,
        restoreRemoved: Bool,
        at now: Date
    ) async throws(StoreError) -> [KeyRecord] {
        let upserts = Self.upsertParameters(keys, kind: kind, now: now)
        let sql = restoreRemoved ? Self.upsertKeySQL : Self.insertNewKeySQL
        let hashes = Set(keys.map(\.secret.hash))
        return try await self.pool.perform("add keys") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> [KeyRecord] in
                for params in upserts {
                    try connection.execute(sql, params)
                }
                return try connection.query(Self.selectKeysSQL).map(Self.keyRecord)
                    .filter { hashes.contains($0.secret.hash) }
            }
        }
    }

    /// Marks one key removed (soft: its rows and history stay). False when no such key is in use.
    public func removeKey(id: Int64, at now: Date) async throws(StoreError) -> Bool {
        let params = [PostgresValue(now), PostgresValue(id)]
        return try await self.pool.perform("remove key") { connection throws(StoreError) in
            try connection.execute(
                "UPDATE api_keys SET removed_at = $1::timestamptz WHERE id = $2::bigint AND removed_at IS NULL",
                params
            ) > 0
        }
    }

    /// Keys not removed, ordered by id.
    public func loadKeys() async throws(StoreError) -> [KeyRecord] {
        try await self.pool.perform("load keys") { connection throws(StoreError) in
            try connection.query(Self.selectKeysSQL).map(Self.keyRecord)
        }
    }

    /// - Throws: `.notFound` for an unknown key id.
    public func deactivate(keyID: Int64, reason: String, at now: Date) async throws(StoreError) {
        let params = [PostgresValue(keyID), PostgresValue(reason), PostgresValue(now)]
        try await self.pool.perform("deactivate key") { connection throws(StoreError) in
            let changed = try connection.execute(
                """
                UPDATE api_keys SET is_active = FALSE, deactivated_at = $3::timestamptz, deactivation_reason = $2::text
                WHERE id = $1::bigint
                """,
                params
            )
            guard changed > 0 else { throw StoreError(.notFound, operation: "deactivate key") }
        }
    }

    /// Also clears the deactivation time and reason; keeps `last_error` for the record.
    /// - Throws: `.notFound` for an unknown key id.
    public func reactivate(keyID: Int64) async throws(StoreError) {
        try await self.pool.perform("reactivate key") { connection throws(StoreError) in
            let changed = try connection.execute(
                """
                UPDATE api_keys SET
                    is_active = TRUE, failure_count = 0, deactivated_at = NULL, deactivation_reason = NULL
                WHERE id = $1::bigint
                """,
                [PostgresValue(keyID)]
            )
            guard changed > 0 else { throw StoreError(.notFound, operation: "reactivate key") }
        }
    }

    /// One `UPDATE … RETURNING`; a `maxFailures` below 1 counts as 1. The deactivation reason
    /// is `max_failures`.
    /// - Throws: `.notFound` for an unknown key id.
    public func recordFailure(
        keyID: Int64,
        error: String,
        maxFailures: Int,
        at now: Date
    ) async throws(StoreError) -> KeyRecord {
        let params = [
            PostgresValue(keyID), PostgresValue(error), PostgresValue(max(1, maxFailures)),
            PostgresValue(now), PostgresValue("max_failures"),
        ]
        return try await self.pool.perform("record key failure") { connection throws(StoreError) in
            // Right-hand sides read the row as it was, so `failure_count + 1` is the new count;
            // a key already inactive keeps the time and reason of its first deactivation.
            let rows = try connection.query(
                """
                UPDATE api_keys SET
                    failure_count = failure_count + 1,
                    last_error = $2::text,
                    is_active = CASE WHEN failure_count + 1 >= $3::integer THEN FALSE ELSE is_active END,
                    deactivated_at = CASE WHEN is_active AND failure_count + 1 >= $3::integer
                        THEN $4::timestamptz ELSE deactivated_at END,
                    deactivation_reason = CASE WHEN is_active AND failure_count + 1 >= $3::integer
                        THEN $5::text ELSE deactivation_reason END
                WHERE id = $1::bigint
                RETURNING *
                """,
                params
            )
            guard let row = rows.first else { throw StoreError(.notFound, operation: "record key failure") }
            return try Self.keyRecord(row)
        }
    }

    /// - Throws: `.notFound` for an unknown key id.
    public func noteError(keyID: Int64, error: String) async throws(StoreError) {
        let params = [PostgresValue(keyID), PostgresValue(error)]
        try await self.pool.perform("note key error") { connection throws(StoreError) in
            let changed = try connection.execute(
                "UPDATE api_keys SET last_error = $2::text WHERE id = $1::bigint",
                params
            )
            guard changed > 0 else { throw StoreError(.notFound, operation: "note key error") }
        }
    }

    /// Writes nothing when the count is already zero (and so ignores unknown ids).
    public func recordSuccess(keyID: Int64) async throws(StoreError) {
        try await self.pool.perform("record key success") { connection throws(StoreError) in
            // Hot path: only write when there is a count to clear, so success costs no commit
            // and sends no notification.
            try connection.execute(
                "UPDATE api_keys SET failure_count = 0 WHERE id = $1::bigint AND failure_count <> 0",
                [PostgresValue(keyID)]
            )
        }
    }

    /// Decodes an `api_keys` row (all columns).
    static func keyRecord(_ row: PostgresRow) throws(StoreError) -> KeyRecord {
        guard let id = row["id"].int64,
            let kind = row["kind"].string.flatMap(KeyKind.init(rawValue:)),
            let secret = row["secret"].string.flatMap(APIKey.init)
        else { throw StoreError(.database, operation: "decode api_keys") }
        return KeyRecord(
            id: id,
            kind: kind,
            secret: secret,
            label: row["label"].string,
            isActive: row["is_active"].bool ?? true,
            failureCount: row["failure_count"].int ?? 0,
            lastError: row["last_error"].string,
            deactivatedAt: row["deactivated_at"].date,
            deactivationReason: row["deactivation_reason"].string,
            isPaid: row["is_paid"].bool ?? false
        )
    }
}
