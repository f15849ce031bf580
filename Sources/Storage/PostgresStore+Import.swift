import Foundation
import KeyPool

extension PostgresStore: HistoryImporting {
    /// One transaction; a dry run rolls it back. Keys and settings written are announced to the
    /// fleet by the tables' triggers when it commits. See `HistoryImporting`.
    public func applyImport(_ plan: ImportPlan, dryRun: Bool, at now: Date) async throws(StoreError) -> ImportOutcome {
        try await self.pool.perform("import v1") { connection throws(StoreError) in
            let statements = PostgresImportStatements(connection: connection)
            guard dryRun else {
                return try connection.transaction { () throws(StoreError) -> ImportOutcome in
                    try ImportApplier.apply(plan, dryRun: false, now: now, with: statements)
                }
            }
            try connection.executeScript("BEGIN")
            defer { try? connection.executeScript("ROLLBACK") }
            return try ImportApplier.apply(plan, dryRun: true, now: now, with: statements)
        }
    }

    /// Rows of one quota day, ordered by key id and model.
    public func loadDailyUsage(day: String) async throws(StoreError) -> [DailyUsageRow] {
        try await self.pool.perform("load daily usage") { connection throws(StoreError) in
            try connection.query(
                """
                SELECT day::text AS day, model, key_id, requests, input_tokens, total_tokens, errors, rate_limited
                FROM usage_daily WHERE day = $1::date ORDER BY key_id, model
                """,
                [PostgresValue(day)]
            ).map { row in
                DailyUsageRow(
                    day: row["day"].string ?? day,
                    model: row["model"].string ?? "",
                    keyID: row["key_id"].int64 ?? 0,
                    requests: row["requests"].int ?? 0,
                    inputTokens: row["input_tokens"].int ?? 0,
                    totalTokens: row["total_tokens"].int ?? 0,
                    errors: row["errors"].int ?? 0,
                    rateLimited: row["rate_limited"].int ?? 0
                )
            }
        }
    }
}

/// The import's statements in PostgreSQL's dialect.
struct PostgresImportStatements: ImportStatements {
    let connection: PostgresConnection

    func createLedger() throws(StoreError) {
        try self.connection.executeScript(
            """
            CREATE TABLE IF NOT EXISTS import_v1_ledger (
                cell TEXT PRIMARY KEY,
                amount BIGINT NOT NULL,
                imported_at TIMESTAMPTZ NOT NULL
            )
            """
        )
    }

    func insertKey(_ key: ImportPlan.Key, now: Date) throws(StoreError) -> Bool {
        try self.connection.execute(
            """
            INSERT INTO api_keys (kind, secret, secret_hash, fingerprint, added_at)
            VALUES ($1::text, $2::text, $3::text, $4::text, $5::timestamptz)
            ON CONFLICT (secret_hash) DO NOTHING
            """,
            [
                PostgresValue(key.kind.rawValue), PostgresValue(key.secret.revealedForUpstream),
                PostgresValue(key.secret.hash), PostgresValue(key.secret.fingerprint.description), PostgresValue(now),
            ]
        ) > 0
    }

    func key(hash: String) throws(StoreError) -> (id: Int64, removed: Bool)? {
        let rows = try self.connection.query(
            "SELECT id, removed_at FROM api_keys WHERE secret_hash = $1::text",
            [PostgresValue(hash)]
        )
        guard let row = rows.first, let id = row["id"].int64 else { return nil }
        return (id, !row["removed_at"].isNull)
    }

    func setting(_ name: String) throws(StoreError) -> String? {
        try self.connection.query("SELECT value FROM settings WHERE name = $1::text", [PostgresValue(name)])
            .first?["value"].string
    }

    func writeSetting(_ name: String, json: String, now: Date) throws(StoreError) {
        try self.connection.execute(
            """
            INSERT INTO settings AS s (name, value, updated_at, updated_by)
            VALUES ($1::text, $2::text, $3::timestamptz, 'import-v1')
            ON CONFLICT (name) DO UPDATE SET
                value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            [PostgresValue(name), PostgresValue(json), PostgresValue(now)]
        )
    }

    func ledger(_ cell: String) throws(StoreError) -> Int? {
        try self.connection.query("SELECT amount FROM import_v1_ledger WHERE cell = $1::text", [PostgresValue(cell)])
            .first?["amount"].int
    }

    func writeLedger(_ cell: String, amount: Int, now: Date) throws(StoreError) {
        try self.connection.execute(
            """
            INSERT INTO import_v1_ledger (cell, amount, imported_at) VALUES ($1::text, $2::bigint, $3::timestamptz)
            ON CONFLICT (cell) DO UPDATE SET amount = excluded.amount, imported_at = excluded.imported_at
            """,
            [PostgresValue(cell), PostgresValue(amount), PostgresValue(now)]
        )
    }

    func addHistory(day: String, model: String, keyID: Int64, requests: Int, totalTokens: Int) throws(StoreError) {
        try self.connection.execute(
            """
            INSERT INTO usage_daily AS u (day, model, key_id, requests, total_tokens)
            VALUES ($1::date, $2::text, $3::bigint, $4::bigint, $5::bigint)
            ON CONFLICT (day, model, key_id) DO UPDATE SET
                requests = u.requests + excluded.requests,
                total_tokens = u.total_tokens + excluded.total_tokens
            """,
            [
                PostgresValue(day), PostgresValue(model), PostgresValue(keyID), PostgresValue(requests),
                PostgresValue(totalTokens),
            ]
        )
    }
}
