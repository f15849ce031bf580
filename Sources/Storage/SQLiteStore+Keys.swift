import Foundation
import KeyPool

extension SQLiteStore {
    static let selectKeysSQL = "SELECT * FROM api_keys WHERE removed_at IS NULL ORDER BY id"

    /// One transaction; the returned keys (all kinds, not removed) are ordered by id.
    public func syncKeys(_ keys: [ConfiguredKey], kind: KeyKind, at now: Date) async throws(StoreError) -> [KeyRecord] {
        // Hex hashes need no escaping, so the JSON array can be built by hand; it is bound as one
        // parameter and unpacked by json_each, which keeps one cached statement for any count.
        let hashList = "[" + keys.map { "\"\($0.secret.hash)\"" }.joined(separator: ",") + "]"
        let upserts = Self.upsertBindings(keys, kind: kind, now: now)
        let removal: [String: SQLiteValue] = [
            "kind": .text(kind.rawValue), "hashes": .text(hashList), "now": SQLiteValue(now),
        ]

        return try await self.database.perform("sync keys") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> [KeyRecord] in
                for bindings in upserts {
                    try connection.execute(Self.upsertKeySQL, bindings)
                }
                try connection.execute(
                    """
                    UPDATE api_keys SET removed_at = :now
                    WHERE kind = :kind AND removed_at IS NULL
                        AND secret_hash NOT IN (SELECT value FROM json_each(:hashes))
                    """,
                    removal
                )
                return try connection.query(Self.selectKeysSQL).map(Self.keyRecord)
            }
        }
    }

    /// Upserts `keys` (restoring removed ones with their id and counters) and leaves every other
    /// key alone; returns the given keys as stored.
    public func addKeys(
        _ keys: [ConfiguredKey],
        kind: KeyKind,
        restoreRemoved: Bool,
        at now: Date
    ) async throws(StoreError) -> [KeyRecord] {
        let upserts = Self.upsertBindings(keys, kind: kind, now: now)
        let sql = restoreRemoved ? Self.upsertKeySQL : Self.insertNewKeySQL
        let hashes = Set(keys.map(\.secret.hash))
        return try await self.database.perform("add keys") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> [KeyRecord] in
                for bindings in upserts {
                    try connection.execute(sql, bindings)
                }
                return try connection.query(Self.selectKeysSQL).map(Self.keyRecord)
                    .filter { hashes.contains($0.secret.hash) }
            }
        }
    }

    /// Marks one key removed (soft: its rows and history stay). False when no such key is in use.
    public func removeKey(id: Int64, at now: Date) async throws(StoreError) -> Bool {
        let bindings: [String: SQLiteValue] = ["id": .integer(id), "now": SQLiteValue(now)]
        return try await self.database.perform("remove key") { connection throws(StoreError) in
            try connection.execute(
                "UPDATE api_keys SET removed_at = :now WHERE id = :id AND removed_at IS NULL",
                bindings
            ) > 0
        }
    }

    /// Upsert by hash: a key removed and added again keeps its id, so its usage rows (today's
    /// counts) and its health come back with it.
    static let upsertKeySQL = """
        INSERT INTO api_keys (kind, secret, secret_hash, fingerprint, label, is_paid, added_at)
        VALUES (:kind, :secret, :secret_hash, :fingerprint, :label, :is_paid, :now)
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
        VALUES (:kind, :secret, :secret_hash, :fingerprint, :label, :is_paid, :now)
        ON CONFLICT (secret_hash) DO NOTHING
        """

    static func upsertBindings(_ keys: [ConfiguredKey], kind: KeyKind, now: Date) -> [[String: SQLiteValue]] {
        keys.map { key in
            [
                "kind": .text(kind.rawValue), "secret": .text(key.secret.revealedForUpstream),
                "secret_hash": .text(key.secret.hash), "fingerprint": .text(key.secret.fingerprint.description),
                "label": SQLiteValue(key.label), "is_paid": SQLiteValue(key.isPaid), "now": SQLiteValue(now),
            ]
        }
    }

    /// Keys not removed, ordered by id.
    public func loadKeys() async throws(StoreError) -> [KeyRecord] {
        try await self.database.perform("load keys") { connection throws(StoreError) in
            try connection.query(Self.selectKeysSQL).map(Self.keyRecord)
        }
    }

    /// - Throws: `.notFound` for an unknown key id.
    public func deactivate(keyID: Int64, reason: String, at now: Date) async throws(StoreError) {
        let bindings: [String: SQLiteValue] = ["id": .integer(keyID), "reason": .text(reason), "now": SQLiteValue(now)]
        try await self.database.perform("deactivate key") { connection throws(StoreError) in
            let changed = try connection.execute(
                """
                UPDATE api_keys SET is_active = 0, deactivated_at = :now, deactivation_reason = :reason
                WHERE id = :id
                """,
                bindings
            )
            guard changed > 0 else { throw StoreError(.notFound, operation: "deactivate key") }
        }
    }

    /// Also clears the deactivation time and reason; keeps `last_error` for the record.
    /// - Throws: `.notFound` for an unknown key id.
    public func reactivate(keyID: Int64) async throws(StoreError) {
        try await self.database.perform("reactivate key") { connection throws(StoreError) in
            let changed = try connection.execute(
                """
                UPDATE api_keys SET
                    is_active = 1, failure_count = 0, deactivated_at = NULL, deactivation_reason = NULL
                WHERE id = :id
                """,
                ["id": .integer(keyID)]
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
        let bindings: [String: SQLiteValue] = [
            "id": .integer(keyID), "error": .text(error), "max": SQLiteValue(max(1, maxFailures)),
            "now": SQLiteValue(now), "reason": .text("max_failures"),
        ]
        return try await self.database.perform("record key failure") { connection throws(StoreError) in
            // Right-hand sides read the row as it was, so `failure_count + 1` is the new count;
            // a key already inactive keeps the time and reason of its first deactivation.
            let rows = try connection.query(
                """
                UPDATE api_keys SET
                    failure_count = failure_count + 1,
                    last_error = :error,
                    is_active = CASE WHEN failure_count + 1 >= :max THEN 0 ELSE is_active END,
                    deactivated_at = CASE WHEN is_active = 1 AND failure_count + 1 >= :max
                        THEN :now ELSE deactivated_at END,
                    deactivation_reason = CASE WHEN is_active = 1 AND failure_count + 1 >= :max
                        THEN :reason ELSE deactivation_reason END
                WHERE id = :id
                RETURNING *
                """,
                bindings
            )
            guard let row = rows.first else { throw StoreError(.notFound, operation: "record key failure") }
            return try Self.keyRecord(row)
        }
    }

    /// - Throws: `.notFound` for an unknown key id.
    public func noteError(keyID: Int64, error: String) async throws(StoreError) {
        try await self.database.perform("note key error") { connection throws(StoreError) in
            let changed = try connection.execute(
                "UPDATE api_keys SET last_error = :error WHERE id = :id",
                ["id": .integer(keyID), "error": .text(error)]
            )
            guard changed > 0 else { throw StoreError(.notFound, operation: "note key error") }
        }
    }

    /// Writes nothing when the count is already zero (and so ignores unknown ids).
    public func recordSuccess(keyID: Int64) async throws(StoreError) {
        try await self.database.perform("record key success") { connection throws(StoreError) in
            // Hot path: only write when there is a count to clear, so success costs no commit.
            try connection.execute(
                "UPDATE api_keys SET failure_count = 0 WHERE id = :id AND failure_count <> 0",
                ["id": .integer(keyID)]
            )
        }
    }

    /// Decodes an `api_keys` row (all columns).
    static func keyRecord(_ row: SQLiteRow) throws(StoreError) -> KeyRecord {
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
