import Foundation
import KeyPool

extension SQLiteStore: HistoryImporting {
    /// One `BEGIN IMMEDIATE` transaction; a dry run rolls it back. See `HistoryImporting`.
    public func applyImport(_ plan: ImportPlan, dryRun: Bool, at now: Date) async throws(StoreError) -> ImportOutcome {
        try await self.database.perform("import v1") { connection throws(StoreError) in
            let statements = SQLiteImportStatements(connection: connection)
            guard dryRun else {
                return try connection.transaction { () throws(StoreError) -> ImportOutcome in
                    try ImportApplier.apply(plan, dryRun: false, now: now, with: statements)
                }
            }
            try connection.execute("BEGIN IMMEDIATE")
            defer { _ = try? connection.execute("ROLLBACK") }
            return try ImportApplier.apply(plan, dryRun: true, now: now, with: statements)
        }
    }

    /// Rows of one quota day, ordered by key id and model.
    public func loadDailyUsage(day: String) async throws(StoreError) -> [DailyUsageRow] {
        try await self.database.perform("load daily usage") { connection throws(StoreError) in
            try connection.query(
                "SELECT * FROM usage_daily WHERE day = :day ORDER BY key_id, model",
                ["day": .text(day)]
            )
            .map { row in
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

/// The import's statements in SQLite's dialect (instants as Unix milliseconds).
struct SQLiteImportStatements: ImportStatements {
    let connection: SQLiteConnection

    func createLedger() throws(StoreError) {
        try self.connection.executeScript(
            """
            CREATE TABLE IF NOT EXISTS import_v1_ledger (
                cell TEXT PRIMARY KEY,
                amount INTEGER NOT NULL,
                imported_at INTEGER NOT NULL
            )
            """
        )
    }

    func insertKey(_ key: ImportPlan.Key, now: Date) throws(StoreError) -> Bool {
        try self.connection.execute(
            """
            INSERT INTO api_keys (kind, secret, secret_hash, fingerprint, added_at)
            VALUES (:kind, :secret, :secret_hash, :fingerprint, :now)
            ON CONFLICT (secret_hash) DO NOTHING
            """,
            [
                "kind": .text(key.kind.rawValue), "secret": .text(key.secret.revealedForUpstream),
                "secret_hash": .text(key.secret.hash), "fingerprint": .text(key.secret.fingerprint.description),
                "now": SQLiteValue(now),
            ]
        ) > 0
    }

    func key(hash: String) throws(StoreError) -> (id: Int64, removed: Bool)? {
        let rows = try self.connection.query(
            "SELECT id, removed_at FROM api_keys WHERE secret_hash = :hash",
            ["hash": .text(hash)]
        )
        guard let row = rows.first, let id = row["id"].int64 else { return nil }
        return (id, !row["removed_at"].isNull)
    }

    func setting(_ name: String) throws(StoreError) -> String? {
        try self.connection.query("SELECT value FROM settings WHERE name = :name", ["name": .text(name)])
            .first?["value"].string
    }

    func writeSetting(_ name: String, json: String, now: Date) throws(StoreError) {
        try self.connection.execute(
            """
            INSERT INTO settings (name, value, updated_at, updated_by) VALUES (:name, :value, :now, 'import-v1')
            ON CONFLICT (name) DO UPDATE SET
                value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            ["name": .text(name), "value": .text(json), "now": SQLiteValue(now)]
        )
    }

    func ledger(_ cell: String) throws(StoreError) -> Int? {
        try self.connection.query("SELECT amount FROM import_v1_ledger WHERE cell = :cell", ["cell": .text(cell)])
            .first?["amount"].int
    }

    func writeLedger(_ cell: String, amount: Int, now: Date) throws(StoreError) {
        try self.connection.execute(
            """
            INSERT INTO import_v1_ledger (cell, amount, imported_at) VALUES (:cell, :amount, :now)
            ON CONFLICT (cell) DO UPDATE SET amount = excluded.amount, imported_at = excluded.imported_at
            """,
            ["cell": .text(cell), "amount": SQLiteValue(amount), "now": SQLiteValue(now)]
        )
    }

    func addHistory(day: String, model: String, keyID: Int64, requests: Int, totalTokens: Int) throws(StoreError) {
        try self.connection.execute(
            """
            INSERT INTO usage_daily (day, model, key_id, requests, total_tokens)
            VALUES (:day, :model, :key_id, :requests, :total)
            ON CONFLICT (day, model, key_id) DO UPDATE SET
                requests = requests + excluded.requests,
                total_tokens = total_tokens + excluded.total_tokens
            """,
            [
                "day": .text(day), "model": .text(model), "key_id": .integer(keyID),
                "requests": SQLiteValue(requests), "total": SQLiteValue(totalTokens),
            ]
        )
    }
}
